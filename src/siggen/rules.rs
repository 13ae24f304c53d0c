//! The signature rule pipeline: a port of socorro-siggen's `rules.py` rules and
//! `generator.DEFAULT_RULESET` (siggen 2.2.20241029), each rule a separate unit with a
//! predicate and an action.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use super::csig;
use super::java;
use super::lists::SigLists;
use super::normalize::drop_bad_characters;
use super::py::{py_isspace, py_str, py_truthy};

/// `SIGNATURE_MAX_LENGTH`: longer signatures are cut to 252 characters plus `...`.
pub const SIGNATURE_MAX_LENGTH: usize = 255;

/// The data signature generation reads (upstream's "crash data" schema), taken from the
/// processed crash and, for annotations the processed crash does not carry, the raw crash.
#[derive(Debug, Clone, Default)]
pub struct CrashData<'a> {
    /// The thread to sign: `json_dump.crash_info.crashing_thread`, or 0 when the dump names
    /// none (upstream's `get_crashing_thread`).
    pub crashing_thread: i64,
    /// `json_dump.threads`.
    pub threads: Option<&'a [Value]>,
    /// `json_dump.system_info.os` (`Windows NT`, `Mac OS X`, `Linux`, ...).
    pub os: Option<String>,
    /// `json_dump.crash_info.type` (e.g. `EXCEPTION_STACK_OVERFLOW`).
    pub reason: Option<String>,
    /// The hang type (`Hang` annotation, e.g. `ui`).
    pub hang: Option<String>,
    pub oom_allocation_size: Option<i128>,
    pub js_large_allocation_failure: Option<String>,
    pub abort_message: Option<String>,
    pub mdsw_status_string: Option<String>,
    pub async_shutdown_timeout: Option<String>,
    pub ipc_channel_error: Option<String>,
    pub ipc_message_name: Option<String>,
    /// Names of the other minidumps (`upload_file_minidump_browser`, ...).
    pub additional_minidumps: Vec<String>,
    /// `JavaStackTrace` (any JSON value; only a string makes a Java signature).
    pub java_stack_trace: Option<&'a Value>,
    /// `JavaException`, parsed.
    pub java_exception: Option<Cow<'a, Value>>,
}

impl<'a> CrashData<'a> {
    /// `threads[index]`, counting from the end for a negative index as Python does.
    pub fn thread(&self, index: i64) -> Option<&'a Value> {
        let threads = self.threads?;
        let index = if index < 0 { threads.len() as i64 + index } else { index };
        threads.get(usize::try_from(index).ok()?)
    }
}

/// The state a pipeline run builds: upstream's `generator.Result`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigResult {
    pub signature: String,
    /// `"<Rule>: <message>"` notes for `processor_notes`.
    pub notes: Vec<String>,
    /// `"<Rule>: <message>"` debugging notes (every signature change, every list decision);
    /// only recorded when `record_debug` is set.
    pub debug_log: Vec<String>,
    pub record_debug: bool,
    /// All normalized frames of the crashing thread joined by ` | ` (`None` without frames).
    pub proto_signature: Option<String>,
    pub normalized_frames: Vec<String>,
}

impl SigResult {
    pub fn set_signature(&mut self, rule: &str, signature: String) {
        if self.record_debug {
            let line = format!("{rule}: change signature: \"{}\" -> \"{signature}\"", self.signature);
            self.debug_log.push(line);
        }
        self.signature = signature;
    }

    pub fn info(&mut self, rule: &str, msg: &str) {
        self.notes.push(format!("{rule}: {msg}"));
    }

    pub fn debug(&mut self, rule: &str, msg: fmt::Arguments<'_>) {
        if self.record_debug {
            self.debug_log.push(format!("{rule}: {msg}"));
        }
    }
}

/// One rule of the pipeline. `predicate` decides whether `action` runs; an action that fails
/// adds the note `"<Rule>: Rule failed: <error>"` and the pipeline goes on.
pub trait SignatureRule: Send + Sync {
    fn name(&self) -> &'static str;
    fn predicate(&self, _data: &CrashData<'_>, _result: &SigResult) -> bool {
        true
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String>;
}

/// `generator.DEFAULT_RULESET`, in upstream order.
pub static DEFAULT_RULESET: &[&dyn SignatureRule] = &[
    &SignatureGenerationRule,
    &StackwalkerErrorSignatureRule,
    &BadHardware,
    &OomSignature,
    &AbortSignature,
    &SignatureShutdownTimeout,
    &SignatureRunWatchDog,
    &SignatureIpcChannelError,
    &SignatureIpcMessageName,
    &StackOverflowSignature,
    &HungProcess,
    // These always come last, in this order.
    &SigFixWhitespace,
    &SigTruncate,
];

/// Runs `rules` over `data`: upstream's `SignatureGenerator.generate`. The debug log is only
/// recorded when `record_debug` is set (it costs an allocation per frame and rule).
pub fn run(rules: &[&dyn SignatureRule], lists: &SigLists, data: &CrashData<'_>, record_debug: bool) -> SigResult {
    let mut result = SigResult { record_debug, ..SigResult::default() };
    for rule in rules {
        if rule.predicate(data, &result) {
            if let Err(err) = rule.action(lists, data, &mut result) {
                result.info(rule.name(), &format!("Rule failed: {err}"));
            }
        }
    }
    result
}

/// Generates a signature from the stack: Java if there is a Java stack trace, otherwise the
/// crashing thread's frames through the C signature tool.
pub struct SignatureGenerationRule;

impl SignatureGenerationRule {
    /// The action with an explicit thread (the watchdog rule uses thread 0).
    fn generate(
        name: &str,
        lists: &SigLists,
        data: &CrashData<'_>,
        thread: i64,
        result: &mut SigResult,
    ) -> Result<(), String> {
        let java = if let Some(trace) = data.java_stack_trace.filter(|t| py_truthy(t)) {
            result.debug(name, format_args!("using JavaSignatureTool"));
            Some(java::generate(trace.as_str(), ": "))
        } else if let Some(exception) = data.java_exception.as_deref().filter(|e| py_truthy(e)) {
            result.debug(name, format_args!("using JavaExceptionSignatureTool"));
            Some(java::generate_from_exception(exception)?)
        } else {
            None
        };
        if let Some((signature, notes)) = java {
            notes.iter().for_each(|n| result.info(name, n));
            result.set_signature(name, signature);
            return Ok(());
        }
        result.debug(name, format_args!("using CSignatureTool"));
        let frames = csig::create_frame_list(lists, data.thread(thread), data.os.as_deref() == Some("Windows NT"));
        let c = csig::generate(lists, &frames, Some(thread), result.record_debug);
        if !frames.is_empty() {
            result.proto_signature = Some(frames.join(" | "));
            result.normalized_frames = frames;
        }
        c.notes.iter().for_each(|n| result.info(name, n));
        c.debug_notes.iter().for_each(|n| result.debug(name, format_args!("{n}")));
        if !c.signature.is_empty() {
            result.set_signature(name, c.signature);
        }
        Ok(())
    }
}

impl SignatureRule for SignatureGenerationRule {
    fn name(&self) -> &'static str {
        "SignatureGenerationRule"
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        Self::generate(self.name(), lists, data, data.crashing_thread, result)
    }
}

/// Appends the stackwalker status to an `EMPTY` signature: `EMPTY: ...; <mdsw_status_string>`.
pub struct StackwalkerErrorSignatureRule;

impl SignatureRule for StackwalkerErrorSignatureRule {
    fn name(&self) -> &'static str {
        "StackwalkerErrorSignatureRule"
    }
    fn predicate(&self, data: &CrashData<'_>, result: &SigResult) -> bool {
        result.signature.starts_with("EMPTY") && data.mdsw_status_string.as_deref().is_some_and(|s| !s.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let status = data.mdsw_status_string.as_deref().unwrap_or_default();
        result.set_signature(self.name(), format!("{}; {status}", result.signature));
        Ok(())
    }
}

/// Prepends `bad hardware` when the crash reason says the hardware failed (bug #1733904).
pub struct BadHardware;

impl SignatureRule for BadHardware {
    fn name(&self) -> &'static str {
        "BadHardware"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.reason.as_deref().is_some_and(|r| r.contains("STATUS_DEVICE_DATA_ERROR"))
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        result.set_signature(self.name(), format!("bad hardware | {}", result.signature));
        Ok(())
    }
}

/// `OOM | small` (allocation of at most 256 KiB), `OOM | large | <sig>` or
/// `OOM | unknown | <sig>` for out-of-memory crashes (bug #1007530).
pub struct OomSignature;

impl OomSignature {
    const SIGNATURE_FRAGMENTS: [&str; 5] =
        ["NS_ABORT_OOM", "mozalloc_handle_oom", "CrashAtUnhandlableOOM", "AutoEnterOOMUnsafeRegion", "alloc::oom::oom"];
    const OOM_REASONS: [&str; 2] = ["STATUS_FATAL_MEMORY_EXHAUSTION", "STATUS_NO_MEMORY"];
    const OOM_LAST_ERROR_VALUES: [&str; 2] = ["ERROR_COMMITMENT_LIMIT", "ERROR_NOT_ENOUGH_MEMORY"];

    fn last_error_value<'a>(data: &CrashData<'a>) -> Option<&'a str> {
        data.thread(data.crashing_thread)?.get("last_error_value")?.as_str()
    }

    fn js_large_allocation_reporting(data: &CrashData<'_>) -> bool {
        data.js_large_allocation_failure.as_deref() == Some("Reporting")
    }
}

impl SignatureRule for OomSignature {
    fn name(&self) -> &'static str {
        "OOMSignature"
    }
    fn predicate(&self, data: &CrashData<'_>, result: &SigResult) -> bool {
        if data.oom_allocation_size.is_some_and(|s| s != 0) {
            return true;
        }
        if result.signature.is_empty() {
            return false;
        }
        Self::SIGNATURE_FRAGMENTS.iter().any(|f| result.signature.contains(f))
            || Self::last_error_value(data).is_some_and(|v| Self::OOM_LAST_ERROR_VALUES.contains(&v))
            || data.reason.as_deref().is_some_and(|r| Self::OOM_REASONS.contains(&r))
            || Self::js_large_allocation_reporting(data)
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let signature = match data.oom_allocation_size {
            _ if Self::js_large_allocation_reporting(data) => format!("OOM | large | {}", result.signature),
            None => format!("OOM | unknown | {}", result.signature),
            Some(size) if size <= 262_144 => "OOM | small".to_string(),
            Some(_) => format!("OOM | large | {}", result.signature),
        };
        result.set_signature(self.name(), signature);
        Ok(())
    }
}

/// `Abort | <message> | <sig>` from the abort message, without file and line (bug #803779).
pub struct AbortSignature;

impl AbortSignature {
    fn clean_message(message: &str) -> Option<String> {
        if message.contains("###!!! ABORT: file ") {
            // No interesting information: just the "Abort" marker.
            return None;
        }
        let mut message = message.split_once("###!!! ABORT:").map_or(message, |(_, rest)| rest).to_string();
        if let Some((head, _)) = message.split_once(": file ") {
            message = head.to_string();
        }
        if message.contains("unable to find a usable font") {
            // Drop the localized font name in parentheses (bug #1385966).
            if let (Some(open), Some(close)) = (message.find('('), message.rfind(')')) {
                message = format!("{}{}", &message[..open], message.get(close + 1..).unwrap_or(""));
            }
        }
        let message = drop_bad_characters(&message).trim().to_string();
        Some(if message.len() > 80 { format!("{}...", &message[..77]) } else { message })
    }
}

impl SignatureRule for AbortSignature {
    fn name(&self) -> &'static str {
        "AbortSignature"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.abort_message.as_deref().is_some_and(|m| !m.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let signature = match Self::clean_message(data.abort_message.as_deref().unwrap_or_default()) {
            None => format!("Abort | {}", result.signature),
            Some(message) => format!("Abort | {message} | {}", result.signature),
        };
        result.set_signature(self.name(), signature);
        Ok(())
    }
}

/// Replaces the signature with `AsyncShutdownTimeout | <phase> | <conditions>`.
pub struct SignatureShutdownTimeout;

impl SignatureShutdownTimeout {
    /// The parts after `AsyncShutdownTimeout` and, when the annotation could not be parsed
    /// (upstream's `ValueError`/`KeyError`), the error; `Err` is an error upstream does not
    /// catch (the rule fails).
    fn parts(text: &str) -> Result<(Vec<String>, Option<String>), String> {
        let data: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(err) => return Ok((Vec::new(), Some(err.to_string()))),
        };
        let obj = data.as_object().ok_or_else(|| format!("'{}' object has no attribute 'get'", py_type(&data)))?;
        let mut parts = vec![obj.get("phase").and_then(Value::as_str).unwrap_or("(unknown)").to_string()];
        let mut names = Vec::new();
        for c in Self::conditions(obj.get("conditions"))? {
            // A condition is either a name or an object with a "name".
            let name = match c.as_object() {
                Some(o) => match o.get("name") {
                    Some(name) => name,
                    None => return Ok((parts, Some("'name'".to_string()))),
                },
                None => c.as_ref(),
            };
            names.push(py_str(name));
        }
        names.sort();
        parts.push(if names.is_empty() { "(none)".to_string() } else { names.join(",") });
        Ok((parts, None))
    }

    /// Iterates `conditions or []` as Python would: a list's items, a string's characters, a
    /// dict's keys.
    fn conditions(v: Option<&Value>) -> Result<Vec<Cow<'_, Value>>, String> {
        Ok(match v.filter(|v| py_truthy(v)) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
            Some(Value::String(s)) => s.chars().map(|c| Cow::Owned(Value::String(c.to_string()))).collect(),
            Some(Value::Object(o)) => o.keys().map(|k| Cow::Owned(Value::String(k.clone()))).collect(),
            Some(other) => return Err(format!("'{}' object is not iterable", py_type(other))),
        })
    }
}

/// Python's type name for a JSON value, for error messages.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl SignatureRule for SignatureShutdownTimeout {
    fn name(&self) -> &'static str {
        "SignatureShutdownTimeout"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.async_shutdown_timeout.as_deref().is_some_and(|s| !s.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let (rest, error) = Self::parts(data.async_shutdown_timeout.as_deref().unwrap_or_default())?;
        let mut parts = vec!["AsyncShutdownTimeout".to_string()];
        parts.extend(rest);
        if let Some(err) = error {
            parts.push("UNKNOWN".to_string());
            result.info(self.name(), &format!("Error parsing AsyncShutdownTimeout: {err}"));
        }
        let was = format!("Signature replaced with a Shutdown Timeout signature, was: \"{}\"", result.signature);
        result.info(self.name(), &was);
        result.set_signature(self.name(), parts.join(" | "));
        Ok(())
    }
}

/// `shutdownhang | <sig>`: a shutdown hang is signed from thread 0, the thread that hung.
pub struct SignatureRunWatchDog;

impl SignatureRule for SignatureRunWatchDog {
    fn name(&self) -> &'static str {
        "SignatureRunWatchDog"
    }
    fn predicate(&self, _: &CrashData<'_>, result: &SigResult) -> bool {
        result.signature.contains("RunWatchdog")
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        SignatureGenerationRule::generate(SignatureGenerationRule.name(), lists, data, 0, result)?;
        result.set_signature(self.name(), format!("shutdownhang | {}", result.signature));
        Ok(())
    }
}

/// Replaces the signature with `IPCError-browser | <error>` (or `IPCError-content`).
pub struct SignatureIpcChannelError;

impl SignatureRule for SignatureIpcChannelError {
    fn name(&self) -> &'static str {
        "SignatureIPCChannelError"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.ipc_channel_error.as_deref().is_some_and(|s| !s.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let browser = data.additional_minidumps.iter().any(|d| d == "upload_file_minidump_browser");
        let error: String = data.ipc_channel_error.as_deref().unwrap_or_default().chars().take(100).collect();
        let kind = if browser { "browser" } else { "content" };
        result.info(self.name(), "IPC Channel Error stomped on signature");
        result.set_signature(self.name(), format!("IPCError-{kind} | {error}"));
        Ok(())
    }
}

/// Appends ` | IPC_Message_Name=<name>`.
pub struct SignatureIpcMessageName;

impl SignatureRule for SignatureIpcMessageName {
    fn name(&self) -> &'static str {
        "SignatureIPCMessageName"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.ipc_message_name.as_deref().is_some_and(|s| !s.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let name = data.ipc_message_name.as_deref().unwrap_or_default();
        result.set_signature(self.name(), format!("{} | IPC_Message_Name={name}", result.signature));
        Ok(())
    }
}

/// `stackoverflow | <sig>` for `EXCEPTION_STACK_OVERFLOW` crashes (bug #1796389).
pub struct StackOverflowSignature;

impl SignatureRule for StackOverflowSignature {
    fn name(&self) -> &'static str {
        "StackOverflowSignature"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.reason.as_deref() == Some("EXCEPTION_STACK_OVERFLOW")
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        result.set_signature(self.name(), format!("stackoverflow | {}", result.signature));
        Ok(())
    }
}

/// `hang: <type> | <sig>` for hangs (bug #1826703).
pub struct HungProcess;

impl SignatureRule for HungProcess {
    fn name(&self) -> &'static str {
        "HungProcess"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.hang.is_some()
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let hang = data.hang.as_deref().unwrap_or_default();
        result.set_signature(self.name(), format!("hang: {hang} | {}", result.signature));
        Ok(())
    }
}

/// Trims, turns every white-space character into a space and folds runs of them into one.
pub struct SigFixWhitespace;

impl SignatureRule for SigFixWhitespace {
    fn name(&self) -> &'static str {
        "SigFixWhitespace"
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let fixed = result.signature.split(py_isspace).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        if fixed != result.signature {
            result.set_signature(self.name(), fixed);
        }
        Ok(())
    }
}

/// Cuts signatures longer than 255 characters to 252 characters plus `...`.
pub struct SigTruncate;

impl SignatureRule for SigTruncate {
    fn name(&self) -> &'static str {
        "SigTruncate"
    }
    fn predicate(&self, _: &CrashData<'_>, result: &SigResult) -> bool {
        result.signature.chars().count() > SIGNATURE_MAX_LENGTH
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let cut: String = result.signature.chars().take(SIGNATURE_MAX_LENGTH - 3).collect();
        result.set_signature(self.name(), format!("{cut}..."));
        result.info(self.name(), "SigTrunc: signature truncated due to length");
        Ok(())
    }
}
