//! The stackwalk rules (`minidump_stackwalk`, `truncate_stacks`): walk every
//! `upload_file_minidump*` dump with the stackwalker ([`crate::processor::stackwalk`]), then
//! truncate huge stacks (as [`crate::processor::json_dump::truncate_frames`] cuts them).

use anyhow::Context as _;
use serde_json::{json, Value};

use super::rule::{CrashContext, ProcessorRule};
use crate::crash::{Dump, DumpData};
use crate::processor::json_dump::{truncate_frames, WalkedDump};
use crate::processor::stackwalk::WalkResult;

/// `json_dump`, `mdsw_status_string`, `mdsw_return_code`, `success` (and the stackwalker's
/// error as a note) for the main dump `upload_file_minidump` (its `json_dump` is the walked
/// dump's [view](WalkedDump::view) while the rules run, the dump itself is kept in
/// `CrashContext::json_dump` and written out at the end); every other dump whose name
/// starts with `upload_file_minidump` gets the same fields under its own name and is listed
/// in `additional_minidumps`. A crash without a main dump is processed with `success` false.
pub struct MinidumpStackwalk;

impl ProcessorRule for MinidumpStackwalk {
    fn name(&self) -> &'static str {
        "minidump_stackwalk"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let mut additional = Vec::new();
        let mut main_walked = false;
        for dump in cx.crash.dumps.iter().filter(|d| d.name.is_minidump()) {
            let result = walk(cx, dump)?;
            if let Some(e) = &result.error {
                cx.notes.push(format!("{}: stackwalk failed with {}: {e}", dump.name, result.status));
            }
            if dump.name.is_main() {
                main_walked = true;
                let view = result.dump.as_ref().map_or_else(|| json!({}), WalkedDump::view);
                for (k, v) in fields(view, &result) {
                    cx.processed.insert(k.into(), v);
                }
                cx.json_dump = result.dump;
            } else {
                additional.push(dump.name.as_str().to_string());
                let json_dump = match &result.dump {
                    Some(walked) => serde_json::from_str(walked.to_json().get())?,
                    None => json!({}),
                };
                let fields = fields(json_dump, &result).map(|(k, v)| (k.to_string(), v));
                cx.processed.insert(dump.name.as_str().into(), Value::Object(fields.collect()));
            }
        }
        cx.processed.insert("additional_minidumps".into(), additional.into());
        if !main_walked {
            cx.processed.insert("json_dump".into(), json!({}));
            cx.processed.insert("success".into(), false.into());
            cx.notes.push("no upload_file_minidump: nothing to stackwalk".into());
        }
        Ok(())
    }
}

fn walk(cx: &CrashContext<'_>, dump: &Dump) -> anyhow::Result<WalkResult> {
    // a dump in memory is shared with the walk, not copied
    let bytes = match &dump.data {
        DumpData::Bytes(b) => b.clone(),
        data => data.read().with_context(|| format!("reading dump {}", dump.name))?.into_owned().into(),
    };
    Ok(cx.tools.stackwalker.walk(bytes, &cx.crash.raw))
}

fn fields(json_dump: Value, r: &WalkResult) -> impl Iterator<Item = (&'static str, Value)> {
    [
        ("json_dump", json_dump),
        ("mdsw_status_string", r.status.clone().into()),
        ("mdsw_return_code", r.return_code.into()),
        ("success", r.success().into()),
    ]
    .into_iter()
}

/// Every thread of `json_dump` (and its `crashing_thread` copy) with more than 500 frames
/// keeps its first 250 frames, one marker frame `{"truncated": {"msg": "N frames truncated"}}`
/// and its last 249 frames. Sets `truncated` when the crashing thread was cut. The walked dump
/// of `CrashContext::json_dump` is written cut the same way.
pub struct TruncateStacks;

impl ProcessorRule for TruncateStacks {
    fn name(&self) -> &'static str {
        "truncate_stacks"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        if let Some(walked) = cx.json_dump.as_mut() {
            walked.truncate_stacks();
        }
        let Some(dump) = cx.processed.get_mut("json_dump") else { return Ok(()) };
        if let Some(threads) = dump.get_mut("threads").and_then(Value::as_array_mut) {
            for thread in threads {
                truncate_thread(thread);
            }
        }
        let truncated = dump.get_mut("crashing_thread").map(truncate_thread).unwrap_or(false);
        cx.processed.insert("truncated".into(), truncated.into());
        Ok(())
    }
}

fn truncate_thread(thread: &mut Value) -> bool {
    match thread.get_mut("frames").and_then(Value::as_array_mut) {
        Some(frames) => truncate_frames(frames),
        None => false,
    }
}
