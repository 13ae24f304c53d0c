//! Signature generation (a port of Mozilla's socorro-siggen): the crashing thread's top frames,
//! normalized, joined by ` | `, with Socorro's signature lists and post rules.
//!
//! ```text
//! SigLists::load(dir) / SigLists::builtin()      the four lists, compiled once per run
//! SignatureGenerator::new(lists).generate(raw, processed) -> Signature
//!     CrashData::from_crash   json_dump + processed fields + raw annotations
//!     rules::DEFAULT_RULESET  SignatureGenerationRule (csig + normalize, or java), then the
//!                             post rules in upstream order
//! ```
//! See `docs/signatures.md` for the algorithm step by step.

pub mod csig;
pub mod java;
pub mod lists;
pub mod normalize;
pub mod rules;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

use crate::crash::{ProcessedCrash, RawCrash};

pub use lists::SigLists;
pub use rules::{CrashData, Rule, SigResult, DEFAULT_RULESET};

/// The result of signature generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    pub signature: String,
    /// All normalized frames of the crashing thread (at most 40) joined by ` | `; empty when
    /// there were no frames (upstream then leaves `proto_signature` out of the processed crash).
    pub proto_signature: String,
    /// Notes for `processor_notes`, `"<Rule>: <message>"` as upstream writes them.
    pub notes: Vec<String>,
}

/// Generates signatures with one set of lists and one rule pipeline (cheap to clone).
#[derive(Clone)]
pub struct SignatureGenerator {
    lists: SigLists,
    rules: Vec<&'static dyn Rule>,
}

impl fmt::Debug for SignatureGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<&str> = self.rules.iter().map(|r| r.name()).collect();
        f.debug_struct("SignatureGenerator").field("lists", &self.lists).field("rules", &rules).finish()
    }
}

impl SignatureGenerator {
    /// A generator with upstream's default ruleset.
    pub fn new(lists: SigLists) -> SignatureGenerator {
        SignatureGenerator::with_rules(lists, DEFAULT_RULESET.to_vec())
    }

    /// A generator with a custom rule pipeline (rules run in the given order).
    pub fn with_rules(lists: SigLists, rules: Vec<&'static dyn Rule>) -> SignatureGenerator {
        SignatureGenerator { lists, rules }
    }

    pub fn lists(&self) -> &SigLists {
        &self.lists
    }

    /// Generates the signature from the processed crash built so far (`json_dump` in the
    /// minidump-stackwalk JSON format, `mdsw_status_string`, ...) and the raw crash annotations
    /// (`OOMAllocationSize`, `AbortMessage`, `ipc_channel_error`, ...).
    pub fn generate(&self, raw: &RawCrash, processed: &ProcessedCrash) -> Signature {
        let result = self.generate_detailed(raw, processed);
        Signature {
            signature: result.signature,
            proto_signature: result.proto_signature.unwrap_or_default(),
            notes: result.notes,
        }
    }

    /// Like [`generate`](Self::generate), with the debug log and the normalized frames.
    pub fn generate_detailed(&self, raw: &RawCrash, processed: &ProcessedCrash) -> SigResult {
        self.generate_from(&CrashData::from_crash(raw, processed))
    }

    /// Runs the pipeline over already extracted crash data.
    pub fn generate_from(&self, data: &CrashData<'_>) -> SigResult {
        rules::run(&self.rules, &self.lists, data)
    }
}

/// A JSON scalar as text (strings as they are, numbers in decimal).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `int_or_none`: an allocation size from a number or a decimal string.
fn int_or_none(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => {
            n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)).or_else(|| n.as_f64().map(|f| f as i128))
        }
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        _ => None,
    }
}

impl<'a> CrashData<'a> {
    /// Extracts what signature generation reads (upstream's `convert_to_crash_data`): the
    /// stack from `json_dump`, Socorro's processed fields when present, else the raw annotations
    /// they come from (`OOMAllocationSize`, `AbortMessage`, `AsyncShutdownTimeout`,
    /// `ipc_channel_error`/`IPCChannelError`, `IPCMessageName`, `MozCrashReason`,
    /// `JavaStackTrace`, `additional_minidumps`).
    pub fn from_crash(raw: &'a RawCrash, processed: &'a ProcessedCrash) -> CrashData<'a> {
        let lookup = |processed_key: &str, raw_keys: &[&str]| -> Option<&'a Value> {
            let found = processed.get(processed_key).filter(|v| !v.is_null());
            found.or_else(|| raw_keys.iter().find_map(|k| raw.get(*k).filter(|v| !v.is_null())))
        };
        let field = |processed_key: &str, raw_keys: &[&str]| lookup(processed_key, raw_keys).and_then(text);
        let dump = processed.get("json_dump");
        let at = |path: &[&str]| path.iter().try_fold(dump?, |v, k| v.get(*k));
        CrashData {
            crashing_thread: at(&["crash_info", "crashing_thread"])
                .or_else(|| processed.get("crashing_thread"))
                .and_then(Value::as_i64),
            threads: at(&["threads"]).and_then(Value::as_array).map(Vec::as_slice),
            os: at(&["system_info", "os"]).and_then(text).or_else(|| field("os_name", &[])),
            reason: at(&["crash_info", "type"]).and_then(text).or_else(|| field("reason", &[])),
            hang_type: processed.get("hang_type").and_then(Value::as_i64),
            oom_allocation_size: lookup("oom_allocation_size", &["OOMAllocationSize"]).and_then(int_or_none),
            abort_message: field("abort_message", &["AbortMessage"]),
            mdsw_status_string: field("mdsw_status_string", &[]),
            async_shutdown_timeout: field("async_shutdown_timeout", &["AsyncShutdownTimeout"]),
            ipc_channel_error: field("ipc_channel_error", &["ipc_channel_error", "IPCChannelError"]),
            ipc_message_name: field("ipc_message_name", &["IPCMessageName"]),
            moz_crash_reason: field("moz_crash_reason", &["MozCrashReason"]),
            additional_minidumps: additional_minidumps(lookup("additional_minidumps", &["additional_minidumps"])),
            java_stack_trace: lookup("java_stack_trace", &["JavaStackTrace"]).filter(|v| truthy(v)).map(Value::as_str),
        }
    }
}

/// `additional_minidumps` as a list of names: a JSON list (processed crash) or a comma-separated
/// annotation (`browser,flash1`).
fn additional_minidumps(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => Vec::new(),
    }
}
