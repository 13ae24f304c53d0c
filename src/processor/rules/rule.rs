//! What every processing rule is and works with: the [`ProcessorRule`] trait, the
//! [`CrashContext`] it runs on, the shared [`Tools`], and small helpers for reading a crash.
//! The rule files (`meta.rs`, `walk.rs`, ...) import this file, never `rules/mod.rs`.

use serde_json::Value;

use crate::crash::{Crash, ProcessedCrash};
use crate::processor::json_dump::WalkedDump;
use crate::processor::stackwalk::Stackwalker;
use crate::siggen::SignatureGenerator;

/// What the rules work with: the crash, the processed crash being built, this run's notes,
/// and the run's shared tools.
pub struct CrashContext<'a> {
    pub crash: &'a Crash,
    pub processed: ProcessedCrash,
    /// The main dump as walked in this run. While the rules run, `processed["json_dump"]` is
    /// its [view](WalkedDump::view) (read it, do not change it: what is saved is this dump,
    /// written at the end in place of the view).
    pub json_dump: Option<WalkedDump>,
    pub notes: Vec<String>,
    pub tools: &'a Tools,
}

/// The shared, read-only tools of a run.
pub struct Tools {
    pub stackwalker: Stackwalker,
    pub signer: SignatureGenerator,
}

/// One processing step.
pub trait ProcessorRule: Send + Sync {
    /// A stable name, used in notes and docs.
    fn name(&self) -> &'static str;
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()>;
}

/// Runs `rules` in order; a rule that fails or panics adds a note and the next one runs.
pub fn run_rules(ruleset: &str, rules: &[Box<dyn ProcessorRule>], cx: &mut CrashContext<'_>) {
    for rule in rules {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rule.run(cx)));
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => "the rule panicked".to_string(),
        };
        cx.notes.push(format!("ruleset '{ruleset}' rule '{}' failed: {error}", rule.name()));
    }
}

/// A value of the processed crash by JSON pointer (`/json_dump/crash_info/type`).
pub fn lookup<'a>(processed: &'a ProcessedCrash, pointer: &str) -> Option<&'a Value> {
    let rest = pointer.strip_prefix('/')?;
    let (head, tail) = rest.split_once('/').map(|(h, t)| (h, Some(t))).unwrap_or((rest, None));
    let value = processed.get(head)?;
    match tail {
        Some(t) => value.pointer(&format!("/{t}")),
        None => Some(value),
    }
}

/// An annotation as text (Socorro's annotations are strings; numbers are accepted too).
pub fn annotation<'a>(crash: &'a Crash, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    match crash.raw.get(key)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}
