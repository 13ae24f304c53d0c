//! Rules that derive fields from the stackwalker output (`json_dump`).

use serde_json::Value;

use super::rule::{annotation, lookup, CrashContext, ProcessorRule};

/// `crashing_thread` (`json_dump.crash_info.crashing_thread`, a note when none),
/// `crashing_thread_name` (`json_dump.crashing_thread.thread_name`), `address`
/// (`json_dump.crash_info.address`), `reason` (`json_dump.crash_info.type`, else empty),
/// `thread_count` (`json_dump.thread_count`).
pub struct CrashingThread;

impl ProcessorRule for CrashingThread {
    fn name(&self) -> &'static str {
        "crashing_thread"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let p = &cx.processed;
        let crashing = lookup(p, "/json_dump/crash_info/crashing_thread").cloned().unwrap_or(Value::Null);
        let name = lookup(p, "/json_dump/crashing_thread/thread_name").cloned().unwrap_or(Value::Null);
        let address = lookup(p, "/json_dump/crash_info/address").cloned().unwrap_or(Value::Null);
        let reason = lookup(p, "/json_dump/crash_info/type").and_then(Value::as_str).unwrap_or("").to_string();
        let threads = lookup(p, "/json_dump/thread_count").cloned().unwrap_or(Value::Null);
        if crashing.is_null() {
            cx.notes.push("the stackwalker did not identify the crashing thread".into());
        }
        let p = &mut cx.processed;
        p.insert("crashing_thread".into(), crashing);
        p.insert("crashing_thread_name".into(), name);
        p.insert("address".into(), address);
        p.insert("reason".into(), reason.into());
        p.insert("thread_count".into(), threads);
        Ok(())
    }
}

/// `os_name` (`json_dump.system_info.os`) and `os_version` (`json_dump.system_info.os_ver`);
/// when the dump has no system info: the `Android_Version` annotation (`os_name` `Android`),
/// else `Unknown` and an empty version.
pub struct OsInfo;

impl ProcessorRule for OsInfo {
    fn name(&self) -> &'static str {
        "os_info"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let from_dump = |key: &str| {
            lookup(&cx.processed, &format!("/json_dump/system_info/{key}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (name, version) = match (from_dump("os"), from_dump("os_ver")) {
            (Some(n), v) => (n, v.unwrap_or_default()),
            (None, _) => match annotation(cx.crash, "Android_Version") {
                Some(v) => ("Android".to_string(), v.into_owned()),
                None => ("Unknown".to_string(), String::new()),
            },
        };
        cx.processed.insert("os_name".into(), name.into());
        cx.processed.insert("os_version".into(), version.into());
        Ok(())
    }
}

/// `cpu_arch`, `cpu_info`, `cpu_count` from `json_dump.system_info`.
pub struct CpuInfo;

impl ProcessorRule for CpuInfo {
    fn name(&self) -> &'static str {
        "cpu_info"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        for (field, key) in [("cpu_arch", "cpu_arch"), ("cpu_info", "cpu_info"), ("cpu_count", "cpu_count")] {
            let v = lookup(&cx.processed, &format!("/json_dump/system_info/{key}")).cloned().unwrap_or(Value::Null);
            cx.processed.insert(field.into(), v);
        }
        Ok(())
    }
}

/// `modules_in_stack`: `debug_file/debug_id` of each module the crashing thread's frames are
/// in, in stack order, once each, joined by `;`.
pub struct ModulesInStack;

impl ProcessorRule for ModulesInStack {
    fn name(&self) -> &'static str {
        "modules_in_stack"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let frames = lookup(&cx.processed, "/json_dump/crashing_thread/frames").and_then(Value::as_array);
        let modules = lookup(&cx.processed, "/json_dump/modules").and_then(Value::as_array);
        let mut seen: Vec<String> = Vec::new();
        for name in frames.into_iter().flatten().filter_map(|f| f.get("module").and_then(Value::as_str)) {
            let module =
                modules.into_iter().flatten().find(|m| m.get("filename").and_then(Value::as_str) == Some(name));
            if let Some(key) = module.and_then(module_key) {
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
        }
        cx.processed.insert("modules_in_stack".into(), seen.join(";").into());
        Ok(())
    }
}

fn module_key(module: &Value) -> Option<String> {
    let file = module.get("debug_file").and_then(Value::as_str)?;
    let id = module.get("debug_id").and_then(Value::as_str)?;
    Some(format!("{file}/{id}"))
}

/// `missing_symbols`: `debug_file/debug_id` of each module of `json_dump.modules` marked
/// `missing_symbols`, in module order, joined by `;`.
pub struct MissingSymbols;

impl ProcessorRule for MissingSymbols {
    fn name(&self) -> &'static str {
        "missing_symbols"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let modules = lookup(&cx.processed, "/json_dump/modules").and_then(Value::as_array);
        let missing: Vec<String> = modules
            .into_iter()
            .flatten()
            .filter(|m| m.get("missing_symbols").and_then(Value::as_bool) == Some(true))
            .filter_map(module_key)
            .collect();
        cx.processed.insert("missing_symbols".into(), missing.join(";").into());
        Ok(())
    }
}
