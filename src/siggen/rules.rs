//! The signature rule pipeline: a port of socorro-siggen's `rules.py` rules and
//! `generator.DEFAULT_RULESET`, each rule a separate unit with a predicate and an action.

use serde_json::Value;

use super::csig;
use super::java;
use super::lists::SigLists;
use super::normalize::drop_bad_characters;

/// `SIGNATURE_MAX_LENGTH`: longer signatures are cut to 252 characters plus `...`.
pub const SIGNATURE_MAX_LENGTH: usize = 255;

/// The data signature generation reads (upstream's "crash data" schema), taken from the
/// processed crash and, for annotations the processed crash does not carry, the raw crash.
#[derive(Debug, Clone, Default)]
pub struct CrashData<'a> {
    /// `json_dump.crash_info.crashing_thread` (`None` when the dump names no crashing thread).
    pub crashing_thread: Option<i64>,
    /// `json_dump.threads`.
    pub threads: Option<&'a [Value]>,
    /// `json_dump.system_info.os` (`Windows NT`, `Mac OS X`, `Linux`, ...).
    pub os: Option<String>,
    /// `json_dump.crash_info.type` (e.g. `EXCEPTION_STACK_OVERFLOW`).
    pub reason: Option<String>,
    /// `-1` (plugin hang) or `1` (chrome hang), from the processed crash's `hang_type`.
    pub hang_type: Option<i64>,
    pub oom_allocation_size: Option<i128>,
    pub abort_message: Option<String>,
    pub mdsw_status_string: Option<String>,
    pub async_shutdown_timeout: Option<String>,
    pub ipc_channel_error: Option<String>,
    pub ipc_message_name: Option<String>,
    pub moz_crash_reason: Option<String>,
    /// Names of the other minidumps (`upload_file_minidump_browser`, ... or `browser`).
    pub additional_minidumps: Vec<String>,
    /// `JavaStackTrace`: `Some(None)` when present but not a string.
    pub java_stack_trace: Option<Option<&'a str>>,
}

/// The state a pipeline run builds: upstream's `generator.Result`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigResult {
    pub signature: String,
    /// `"<Rule>: <message>"` notes for `processor_notes`.
    pub notes: Vec<String>,
    /// `"<Rule>: <message>"` debugging notes (every signature change, every list decision).
    pub debug_log: Vec<String>,
    /// All normalized frames of the crashing thread joined by ` | ` (`None` without frames).
    pub proto_signature: Option<String>,
    pub normalized_frames: Vec<String>,
}

impl SigResult {
    pub fn set_signature(&mut self, rule: &str, signature: String) {
        self.debug(rule, &format!("change signature: \"{}\" -> \"{signature}\"", self.signature));
        self.signature = signature;
    }

    pub fn info(&mut self, rule: &str, msg: &str) {
        self.notes.push(format!("{rule}: {msg}"));
    }

    pub fn debug(&mut self, rule: &str, msg: &str) {
        self.debug_log.push(format!("{rule}: {msg}"));
    }
}

/// One rule of the pipeline. `predicate` decides whether `action` runs; an action that fails
/// adds the note `"<Rule>: Rule failed: <error>"` and the pipeline goes on.
pub trait Rule: Send + Sync {
    fn name(&self) -> &'static str;
    fn predicate(&self, _data: &CrashData<'_>, _result: &SigResult) -> bool {
        true
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String>;
}

/// `generator.DEFAULT_RULESET`, in upstream order.
pub static DEFAULT_RULESET: &[&dyn Rule] = &[
    &SignatureGenerationRule,
    &StackwalkerErrorSignatureRule,
    &BadHardware,
    &OomSignature,
    &AbortSignature,
    &SignatureShutdownTimeout,
    &SignatureRunWatchDog,
    &SignatureIpcChannelError,
    &SignatureIpcMessageName,
    &SignatureParentIdNotEqualsChildId,
    &StackOverflowSignature,
    // These always come last, in this order.
    &SigFixWhitespace,
    &SigTruncate,
];

/// Runs `rules` over `data`: upstream's `SignatureGenerator.generate`.
pub fn run(rules: &[&dyn Rule], lists: &SigLists, data: &CrashData<'_>) -> SigResult {
    let mut result = SigResult::default();
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
    fn generate(name: &str, lists: &SigLists, data: &CrashData<'_>, thread: Option<i64>, result: &mut SigResult) {
        if let Some(trace) = data.java_stack_trace {
            result.debug(name, "using JavaSignatureTool");
            let (signature, notes) = java::generate(trace, ": ");
            notes.iter().for_each(|n| result.info(name, n));
            result.set_signature(name, signature);
            return;
        }
        result.debug(name, "using CSignatureTool");
        // A chrome hang (hang_type 1) uses thread 0; a missing crashing thread falls back to 0.
        let index = if data.hang_type == Some(1) { 0 } else { thread.unwrap_or(0) };
        let thread_data = usize::try_from(index).ok().and_then(|i| data.threads?.get(i));
        let frames = csig::create_frame_list(lists, thread_data, data.os.as_deref() == Some("Windows NT"));
        let c = csig::generate(lists, &frames, thread, data.hang_type);
        if !frames.is_empty() {
            result.proto_signature = Some(frames.join(" | "));
            result.normalized_frames = frames;
        }
        c.notes.iter().for_each(|n| result.info(name, n));
        c.debug_notes.iter().for_each(|n| result.debug(name, n));
        if !c.signature.is_empty() {
            result.set_signature(name, c.signature);
        }
    }
}

impl Rule for SignatureGenerationRule {
    fn name(&self) -> &'static str {
        "SignatureGenerationRule"
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        Self::generate(self.name(), lists, data, data.crashing_thread, result);
        Ok(())
    }
}

/// Appends the stackwalker status to an `EMPTY` signature: `EMPTY: ...; <mdsw_status_string>`.
pub struct StackwalkerErrorSignatureRule;

impl Rule for StackwalkerErrorSignatureRule {
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

impl Rule for BadHardware {
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
        let index = usize::try_from(data.crashing_thread.unwrap_or(0)).ok()?;
        data.threads?.get(index)?.get("last_error_value")?.as_str()
    }
}

impl Rule for OomSignature {
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
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let signature = match data.oom_allocation_size {
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

impl Rule for AbortSignature {
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
        let conditions = obj.get("conditions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let mut names = Vec::with_capacity(conditions.len());
        for c in conditions {
            // A condition is either a name or an object with a "name".
            let name = match (c.is_object(), c.get("name")) {
                (true, None) => return Ok((parts, Some("'name'".to_string()))),
                (true, Some(name)) => name,
                (false, _) => c,
            };
            let name = name.as_str().ok_or_else(|| format!("expected str instance, {} found", py_type(name)))?;
            names.push(name.to_string());
        }
        names.sort();
        parts.push(if names.is_empty() { "(none)".to_string() } else { names.join(",") });
        Ok((parts, None))
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

impl Rule for SignatureShutdownTimeout {
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

impl Rule for SignatureRunWatchDog {
    fn name(&self) -> &'static str {
        "SignatureRunWatchDog"
    }
    fn predicate(&self, _: &CrashData<'_>, result: &SigResult) -> bool {
        result.signature.contains("RunWatchdog")
    }
    fn action(&self, lists: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        SignatureGenerationRule::generate(SignatureGenerationRule.name(), lists, data, Some(0), result);
        result.set_signature(self.name(), format!("shutdownhang | {}", result.signature));
        Ok(())
    }
}

/// Replaces the signature with `IPCError-browser | <error>` (or `IPCError-content`).
pub struct SignatureIpcChannelError;

impl Rule for SignatureIpcChannelError {
    fn name(&self) -> &'static str {
        "SignatureIPCChannelError"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.ipc_channel_error.as_deref().is_some_and(|s| !s.is_empty())
    }
    fn action(&self, _: &SigLists, data: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let browser = data.additional_minidumps.iter().any(|d| d == "upload_file_minidump_browser" || d == "browser");
        let error: String = data.ipc_channel_error.as_deref().unwrap_or_default().chars().take(100).collect();
        let kind = if browser { "browser" } else { "content" };
        result.info(self.name(), "IPC Channel Error stomped on signature");
        result.set_signature(self.name(), format!("IPCError-{kind} | {error}"));
        Ok(())
    }
}

/// Appends ` | IPC_Message_Name=<name>`.
pub struct SignatureIpcMessageName;

impl Rule for SignatureIpcMessageName {
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

/// Buckets `MOZ_RELEASE_ASSERT(parentBuildID == childBuildID)` crashes together.
pub struct SignatureParentIdNotEqualsChildId;

impl Rule for SignatureParentIdNotEqualsChildId {
    fn name(&self) -> &'static str {
        "SignatureParentIDNotEqualsChildID"
    }
    fn predicate(&self, data: &CrashData<'_>, _: &SigResult) -> bool {
        data.moz_crash_reason.as_deref() == Some("MOZ_RELEASE_ASSERT(parentBuildID == childBuildID)")
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        let was = format!("Signature replaced with MOZ_RELEASE_ASSERT, was: \"{}\"", result.signature);
        result.info(self.name(), &was);
        result.set_signature(self.name(), "parentBuildID != childBuildID".to_string());
        Ok(())
    }
}

/// `stackoverflow | <sig>` for `EXCEPTION_STACK_OVERFLOW` crashes (bug #1796389).
pub struct StackOverflowSignature;

impl Rule for StackOverflowSignature {
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

/// Trims, turns every white-space character into a space and folds runs of them into one.
pub struct SigFixWhitespace;

impl Rule for SigFixWhitespace {
    fn name(&self) -> &'static str {
        "SigFixWhitespace"
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, result: &mut SigResult) -> Result<(), String> {
        // Python's `str.isspace()` also counts the separators U+001C..U+001F as white space.
        let is_space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
        let fixed = result.signature.split(is_space).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        if fixed != result.signature {
            result.set_signature(self.name(), fixed);
        }
        Ok(())
    }
}

/// Cuts signatures longer than 255 characters to 252 characters plus `...`.
pub struct SigTruncate;

impl Rule for SigTruncate {
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
