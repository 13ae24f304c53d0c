//! Rules about the crash itself: identity, what the collector recorded, which keys were sent.

use serde_json::Value;

use super::rule::{CrashContext, ProcessorRule};

/// `uuid` and `crash_id`: the crash ID (validated, from the store key).
pub struct Identity;

impl ProcessorRule for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let id = cx.crash.id.as_str();
        cx.processed.insert("uuid".into(), id.into());
        cx.processed.insert("crash_id".into(), id.into());
        Ok(())
    }
}

/// `collector_metadata`: the raw crash's `metadata` object (collector notes, checksums,
/// payload kind...), copied as is (an empty object when absent).
pub struct CollectorMetadata;

impl ProcessorRule for CollectorMetadata {
    fn name(&self) -> &'static str {
        "collector_metadata"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let metadata = match cx.crash.raw.get("metadata") {
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => anyhow::bail!("raw crash `metadata` is not an object"),
            None => Value::Object(Default::default()),
        };
        cx.processed.insert("collector_metadata".into(), metadata);
        Ok(())
    }
}

/// `crash_report_keys`: every annotation name and dump name, sorted, without duplicates.
pub struct CrashReportKeys;

impl ProcessorRule for CrashReportKeys {
    fn name(&self) -> &'static str {
        "crash_report_keys"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let mut keys: Vec<&str> = cx.crash.raw.keys().map(String::as_str).collect();
        keys.extend(cx.crash.dumps.iter().map(|d| d.name.as_str()));
        keys.sort_unstable();
        keys.dedup();
        cx.processed.insert("crash_report_keys".into(), keys.into());
        Ok(())
    }
}
