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
pub mod py;
pub mod rules;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::crash::{ProcessedCrash, RawCrash};

pub use lists::SigLists;
pub use rules::{CrashData, SigResult, SignatureRule, DEFAULT_RULESET};

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
    lists: Arc<SigLists>,
    rules: Vec<&'static dyn SignatureRule>,
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
    pub fn with_rules(lists: SigLists, rules: Vec<&'static dyn SignatureRule>) -> SignatureGenerator {
        SignatureGenerator { lists: Arc::new(lists), rules }
    }

    pub fn lists(&self) -> &SigLists {
        &self.lists
    }

    /// Generates the signature from the processed crash built so far (`json_dump` in the
    /// minidump-stackwalk JSON format, `mdsw_status_string`, ...) and the raw crash annotations
    /// (`OOMAllocationSize`, `AbortMessage`, `ipc_channel_error`, ...).
    pub fn generate(&self, raw: &RawCrash, processed: &ProcessedCrash) -> Signature {
        let result = rules::run(&self.rules, &self.lists, &CrashData::from_crash(raw, processed), false);
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

    /// Runs the pipeline over already extracted crash data (debug log included).
    pub fn generate_from(&self, data: &CrashData<'_>) -> SigResult {
        rules::run(&self.rules, &self.lists, data, true)
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

/// `int_or_none`: an integer from a number or a decimal string.
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
    /// stack from `json_dump`; Socorro's processed fields when present, else the raw annotations
    /// they come from (`OOMAllocationSize`, `JSLargeAllocationFailure`, `AbortMessage`,
    /// `AsyncShutdownTimeout`, `ipc_channel_error`, `IPCMessageName`, `Hang`, `JavaStackTrace`,
    /// `JavaException`, `additional_minidumps`).
    pub fn from_crash(raw: &'a RawCrash, processed: &'a ProcessedCrash) -> CrashData<'a> {
        let lookup = |processed_key: &str, raw_keys: &[&str]| -> Option<&'a Value> {
            let found = processed.get(processed_key).filter(|v| !v.is_null());
            found.or_else(|| raw_keys.iter().find_map(|k| raw.get(*k).filter(|v| !v.is_null())))
        };
        let field = |processed_key: &str, raw_keys: &[&str]| lookup(processed_key, raw_keys).and_then(text);
        let dump = processed.get("json_dump");
        let at = |path: &str| dump?.pointer(path);
        CrashData {
            crashing_thread: at("/crash_info/crashing_thread")
                .and_then(int_or_none)
                .and_then(|t| i64::try_from(t).ok())
                .unwrap_or(0),
            threads: at("/threads").and_then(Value::as_array).map(Vec::as_slice),
            os: at("/system_info/os").and_then(text),
            reason: at("/crash_info/type").and_then(text),
            hang: field("hang", &["Hang"]),
            oom_allocation_size: lookup("oom_allocation_size", &["OOMAllocationSize"]).and_then(int_or_none),
            js_large_allocation_failure: field("js_large_allocation_failure", &["JSLargeAllocationFailure"]),
            abort_message: field("abort_message", &["AbortMessage"]),
            mdsw_status_string: field("mdsw_status_string", &[]),
            async_shutdown_timeout: field("async_shutdown_timeout", &["AsyncShutdownTimeout"]),
            ipc_channel_error: field("ipc_channel_error", &["ipc_channel_error", "IPCChannelError"]),
            ipc_message_name: field("ipc_message_name", &["IPCMessageName"]),
            additional_minidumps: additional_minidumps(
                processed.get("additional_minidumps"),
                raw.get("additional_minidumps"),
            ),
            java_stack_trace: lookup("java_stack_trace", &["JavaStackTrace"]),
            java_exception: java_exception(processed.get("java_exception"), raw.get("JavaException")),
        }
    }
}

/// The names of the other minidumps: the processed crash's list, else the annotation
/// (`browser,content`), whose names get the `upload_file_minidump_` prefix.
fn additional_minidumps(processed: Option<&Value>, raw: Option<&Value>) -> Vec<String> {
    if let Some(Value::Array(items)) = processed {
        return items.iter().filter_map(text).collect();
    }
    let Some(Value::String(names)) = raw else { return Vec::new() };
    let names = names.split(',').map(str::trim).filter(|n| !n.is_empty());
    names
        .map(
            |n| if n.starts_with("upload_file_minidump") { n.to_string() } else { format!("upload_file_minidump_{n}") },
        )
        .collect()
}

/// The structured `JavaException`: the processed crash's value, else the annotation parsed.
fn java_exception<'a>(processed: Option<&'a Value>, raw: Option<&'a Value>) -> Option<Cow<'a, Value>> {
    if let Some(v) = processed.filter(|v| !v.is_null()) {
        return Some(Cow::Borrowed(v));
    }
    match raw? {
        Value::String(s) => serde_json::from_str(s).ok().map(Cow::Owned),
        other => Some(Cow::Borrowed(other)),
    }
}
