//! A processed crash as a developer reads it (`crashctl process --dump FILE --format text`):
//! crash reason and address, the crashing thread's frames with the trust of each, the other
//! threads on request, the modules whose symbols were missing, and the signature with the
//! processor's notes — the way `minidump-stackwalk --human` / `--brief` show a dump, read from
//! the processed crash (so it works the same for a crash from the store).

use std::io::{self, Write};

use serde_json::Value;

use super::Processed;

/// What the human view shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanOptions {
    /// Every thread's frames, not only the crashing thread's.
    pub all_threads: bool,
}

impl Processed {
    /// Writes the human view of this processed crash (see the module documentation).
    pub fn print_human(&self, out: &mut impl Write, options: HumanOptions) -> io::Result<()> {
        print_human(&Value::Object(self.to_map()), out, options)
    }
}

/// The human view of a processed crash given as a JSON object (`json_dump` inside).
pub fn print_human(processed: &Value, out: &mut impl Write, options: HumanOptions) -> io::Result<()> {
    let text = |key: &str| processed.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let dump = processed.get("json_dump").unwrap_or(&Value::Null);
    if let Some(id) = text("uuid") {
        writeln!(out, "Crash ID:      {id}")?;
    }
    let status = text("mdsw_status_string").unwrap_or("unknown");
    if status != super::stackwalk::STATUS_OK {
        writeln!(out, "Stackwalk:     failed ({status}): the dump could not be walked")?;
    }
    if let Some(os) = text("os_name") {
        let version = text("os_version").map(|v| format!(" {v}")).unwrap_or_default();
        writeln!(out, "OS:            {os}{version}")?;
    }
    if let Some(cpu) = text("cpu_arch") {
        let info = text("cpu_info").map(|v| format!(" ({v})")).unwrap_or_default();
        writeln!(out, "CPU:           {cpu}{info}")?;
    }
    let crash_info = dump.get("crash_info").unwrap_or(&Value::Null);
    let reason = text("reason").or_else(|| crash_info.get("type").and_then(Value::as_str));
    writeln!(out, "Crash reason:  {}", reason.unwrap_or("(none)"))?;
    let address = text("address").or_else(|| crash_info.get("address").and_then(Value::as_str));
    writeln!(out, "Crash address: {}", address.unwrap_or("(none)"))?;
    if let Some(assertion) = crash_info.get("assertion").and_then(Value::as_str) {
        writeln!(out, "Assertion:     {assertion}")?;
    }
    writeln!(out, "Signature:     {}", text("signature").unwrap_or("(none)"))?;
    print_threads(dump, crash_info, out, options)?;
    print_missing_symbols(dump, out)?;
    if let Some(notes) = text("processor_notes") {
        writeln!(out, "\nNotes:")?;
        for note in notes.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(out, "  {note}")?;
        }
    }
    Ok(())
}

fn print_threads(dump: &Value, crash_info: &Value, out: &mut impl Write, options: HumanOptions) -> io::Result<()> {
    let threads = dump.get("threads").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let crashed = crash_info.get("crashing_thread").and_then(Value::as_u64).map(|i| i as usize);
    let crashing_frames = dump.get("crashing_thread").and_then(|t| t.get("frames"));
    if threads.is_empty() && crashing_frames.is_none() {
        return Ok(());
    }
    for (index, thread) in threads.iter().enumerate() {
        let is_crashed = crashed == Some(index);
        if !is_crashed && !options.all_threads {
            continue;
        }
        let name = thread.get("thread_name").and_then(Value::as_str).map(|n| format!(" ({n})")).unwrap_or_default();
        let mark = if is_crashed { " (crashed)" } else { "" };
        writeln!(out, "\nThread {index}{name}{mark}")?;
        let frames = match thread.get("frames").and_then(Value::as_array) {
            Some(f) if !f.is_empty() || !is_crashed => Some(f),
            _ => crashing_frames.and_then(Value::as_array),
        };
        for frame in frames.map(Vec::as_slice).unwrap_or_default() {
            print_frame(frame, out)?;
        }
    }
    let others = threads.len().saturating_sub(usize::from(crashed.is_some_and(|i| i < threads.len())));
    if crashed.is_none() {
        writeln!(out, "\nNo crashing thread in this dump.")?;
    }
    if !options.all_threads && others > 0 {
        writeln!(out, "\n({others} other threads: --all-threads shows them)")?;
    }
    Ok(())
}

fn print_frame(frame: &Value, out: &mut impl Write) -> io::Result<()> {
    let get = |key: &str| frame.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let number = frame.get("frame").and_then(Value::as_u64).unwrap_or(0);
    for inline in frame.get("inlines").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let function = inline.get("function").and_then(Value::as_str).unwrap_or("?");
        let module = get("module").map(|m| format!("{m}!")).unwrap_or_default();
        writeln!(out, "{number:>2}  {module}{function}{}", source(inline))?;
        writeln!(out, "    Found by: inlining")?;
    }
    let location = match (get("module"), get("function")) {
        (Some(module), Some(function)) => {
            let offset = get("function_offset").map(|o| format!(" + {}", short_hex(o))).unwrap_or_default();
            format!("{module}!{function}{offset}")
        }
        (Some(module), None) => format!("{module} + {}", short_hex(get("module_offset").unwrap_or("0x0"))),
        (None, _) => get("offset").unwrap_or("?").to_string(),
    };
    writeln!(out, "{number:>2}  {location}{}", source(frame))?;
    writeln!(out, "    Found by: {}", found_by(get("trust").unwrap_or("none")))
}

/// ` [file : line]` when the frame has a source line.
fn source(frame: &Value) -> String {
    match (frame.get("file").and_then(Value::as_str), frame.get("line").and_then(Value::as_u64)) {
        (Some(file), Some(line)) => format!(" [{} : {line}]", basename(file)),
        (Some(file), None) => format!(" [{}]", basename(file)),
        _ => String::new(),
    }
}

/// The file name of a source path, Windows or Unix (as minidump-stackwalk shows it).
fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `0x0000000e` -> `0xe`.
fn short_hex(hex: &str) -> String {
    match hex.strip_prefix("0x").map(|h| h.trim_start_matches('0')) {
        Some("") => "0x0".into(),
        Some(digits) => format!("0x{digits}"),
        None => hex.to_string(),
    }
}

/// minidump-stackwalk's words for a frame's trust.
fn found_by(trust: &str) -> &str {
    match trust {
        "context" => "given as instruction pointer in context",
        "prewalked" => "call frame info from pre-walked stack",
        "cfi" => "call frame info",
        "frame_pointer" => "previous frame's frame pointer",
        "cfi_scan" => "call frame info with scanning",
        "scan" => "stack scanning",
        "inline" => "inlining",
        other => other,
    }
}

fn print_missing_symbols(dump: &Value, out: &mut impl Write) -> io::Result<()> {
    let modules = dump.get("modules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let missing: Vec<&Value> =
        modules.iter().filter(|m| m.get("missing_symbols").and_then(Value::as_bool) == Some(true)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nModules without symbols (in the stack):")?;
    for module in missing {
        let get = |key: &str| module.get(key).and_then(Value::as_str).unwrap_or("?");
        writeln!(out, "  {}  {} {}", get("filename"), get("debug_file"), get("debug_id"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(processed: &Value, all_threads: bool) -> String {
        let mut out = Vec::new();
        print_human(processed, &mut out, HumanOptions { all_threads }).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample() -> Value {
        let frame = |n: u64, function: Option<&str>, trust: &str| {
            json!({"frame": n, "module": "app.exe", "function": function, "function_offset": "0x0000000e",
                   "file": function.map(|_| "c:\\src\\app.cc"), "line": function.map(|_| 58),
                   "module_offset": "0x0000429e", "offset": "0x0040429e", "trust": trust, "inlines": null})
        };
        json!({
            "uuid": "de1bb258-cbbf-4589-a673-34f800160918",
            "mdsw_status_string": "OK",
            "reason": "EXCEPTION_ACCESS_VIOLATION_WRITE",
            "address": "0x00000045",
            "signature": "CrashFunction",
            "processor_notes": "signature changed: a -> CrashFunction",
            "json_dump": {
                "crash_info": {"crashing_thread": 1, "type": "EXCEPTION_ACCESS_VIOLATION_WRITE"},
                "threads": [
                    {"frames": [frame(0, Some("Idle"), "context")]},
                    {"thread_name": "Main", "frames": [frame(0, Some("CrashFunction"), "context"), frame(1, None, "scan")]}
                ],
                "modules": [
                    {"filename": "app.exe", "missing_symbols": false},
                    {"filename": "kernel32.dll", "debug_file": "kernel32.pdb", "debug_id": "BCE8", "missing_symbols": true}
                ]
            }
        })
    }

    #[test]
    fn shows_the_crashing_thread_with_trust_and_what_was_missing() {
        let text = render(&sample(), false);
        assert!(
            text.contains("Crash reason:  EXCEPTION_ACCESS_VIOLATION_WRITE\nCrash address: 0x00000045\n"),
            "{text}"
        );
        assert!(text.contains("Signature:     CrashFunction\n"), "{text}");
        assert!(text.contains("Thread 1 (Main) (crashed)\n 0  app.exe!CrashFunction + 0xe [app.cc : 58]\n    Found by: given as instruction pointer in context\n 1  app.exe + 0x429e\n    Found by: stack scanning\n"), "{text}");
        assert!(!text.contains("Idle"), "other threads only with all_threads: {text}");
        assert!(text.contains("(1 other threads: --all-threads shows them)"), "{text}");
        assert!(
            text.contains("Modules without symbols (in the stack):\n  kernel32.dll  kernel32.pdb BCE8\n"),
            "{text}"
        );
        assert!(!text.contains("  app.exe  "), "{text}");
        assert!(text.contains("Notes:\n  signature changed: a -> CrashFunction\n"), "{text}");
    }

    #[test]
    fn all_threads_shows_every_thread() {
        let text = render(&sample(), true);
        assert!(text.contains("Thread 0\n 0  app.exe!Idle + 0xe [app.cc : 58]\n"), "{text}");
        assert!(!text.contains("other threads"), "{text}");
    }

    #[test]
    fn a_failed_walk_says_so() {
        let text =
            render(&json!({"mdsw_status_string": "MissingThreadList", "signature": "EMPTY: no frame data"}), false);
        assert!(text.contains("Stackwalk:     failed (MissingThreadList)"), "{text}");
        assert!(text.contains("Crash reason:  (none)"), "{text}");
    }
}
