//! A processed crash as a developer reads it (`crashctl process --dump FILE --format text`):
//! crash reason and address, the crashing thread's frames with the trust of each, the other
//! threads on request, the modules whose symbols were missing, and the signature with the
//! processor's notes — the way `minidump-stackwalk --human` / `--brief` show a dump, read from
//! the processed crash (so it works the same for a crash from the store).

use std::io::{self, Write};

use serde_json::Value;

use super::processed::Processed;

/// What the human view shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanOptions {
    /// Every thread's frames, not only the crashing thread's.
    pub all_threads: bool,
}

impl Processed {
    /// Writes the human view of this processed crash (see the module documentation).
    pub fn print_human(&self, out: &mut impl Write, options: HumanOptions) -> io::Result<()> {
        print_view(&Value::Object(self.to_map()), out, options, &self.line_offsets)
    }
}

/// The human view of a processed crash given as a JSON object (`json_dump` inside).
pub fn print_human(processed: &Value, out: &mut impl Write, options: HumanOptions) -> io::Result<()> {
    print_view(processed, out, options, &[])
}

/// `line_offsets[thread][frame]`: how far a frame's instruction is past the start of its
/// source line (known when this run walked the dump; the JSON does not keep it).
fn print_view(
    processed: &Value,
    out: &mut impl Write,
    options: HumanOptions,
    line_offsets: &[Vec<Option<u64>>],
) -> io::Result<()> {
    let text = |key: &str| processed.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let dump = processed.get("json_dump").unwrap_or(&Value::Null);
    if let Some(id) = text("uuid") {
        writeln!(out, "Crash ID:      {id}")?;
    }
    let status = text("mdsw_status_string").unwrap_or("unknown");
    if status != super::stackwalk::STATUS_OK {
        writeln!(out, "Stackwalk:     failed ({status}): the dump could not be walked")?;
    }
    writeln!(out, "Signature:     {}", text("signature").unwrap_or("(none)"))?;
    print_system(processed, dump, out)?;
    print_crash_info(processed, dump, out)?;
    print_threads(dump, out, options, line_offsets)?;
    print_missing_symbols(dump, out)?;
    if let Some(notes) = text("processor_notes") {
        writeln!(out, "\nNotes:")?;
        for note in notes.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(out, "  {note}")?;
        }
    }
    Ok(())
}

/// `Operating system:` and `CPU:`, as minidump-stackwalk prints them.
fn print_system(processed: &Value, dump: &Value, out: &mut impl Write) -> io::Result<()> {
    let text = |key: &str| processed.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let system = dump.get("system_info").unwrap_or(&Value::Null);
    let sys = |key: &str| system.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(os) = text("os_name").or_else(|| sys("os")) {
        writeln!(out, "Operating system: {os}")?;
        if let Some(version) = text("os_version").or_else(|| sys("os_ver")) {
            writeln!(out, "                  {version}")?;
        }
    }
    if let Some(cpu) = text("cpu_arch").or_else(|| sys("cpu_arch")) {
        writeln!(out, "CPU: {cpu}")?;
        if let Some(info) = text("cpu_info").or_else(|| sys("cpu_info")) {
            writeln!(out, "     {info}")?;
        }
        if let Some(n) = system.get("cpu_count").and_then(Value::as_u64) {
            writeln!(out, "     {n} CPU{}", if n > 1 { "s" } else { "" })?;
        }
    }
    Ok(())
}

/// The crash reason and address (and the crashing instruction, what it accessed, possible bit
/// flips), as minidump-stackwalk prints them.
fn print_crash_info(processed: &Value, dump: &Value, out: &mut impl Write) -> io::Result<()> {
    let text = |key: &str| processed.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let info = dump.get("crash_info").unwrap_or(&Value::Null);
    let get = |key: &str| info.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    writeln!(out)?;
    let Some(reason) = get("type").or_else(|| text("reason")) else {
        return writeln!(out, "No crash");
    };
    writeln!(out, "Crash reason:  {reason}")?;
    let address = get("address").or_else(|| text("address")).unwrap_or("(none)");
    match info.get("adjusted_address").filter(|a| !a.is_null()) {
        Some(adjusted) => {
            writeln!(out, "Crash address: {address} **")?;
            let kind = adjusted.get("kind").and_then(Value::as_str).unwrap_or("");
            let value = adjusted.get("address").or_else(|| adjusted.get("offset")).and_then(Value::as_str);
            match (kind, value) {
                ("non-canonical", Some(v)) => writeln!(out, "    ** Non-canonical address detected: {v}")?,
                ("null-pointer", Some(v)) => writeln!(out, "    ** Null pointer detected with offset: {v}")?,
                _ => {}
            }
        }
        None => writeln!(out, "Crash address: {address}")?,
    }
    if let Some(instruction) = get("instruction") {
        writeln!(out, "Crashing instruction: `{instruction}`")?;
    }
    if let Some(accesses) = info.get("memory_accesses").and_then(Value::as_array) {
        if accesses.is_empty() {
            writeln!(out, "No memory accessed by instruction")?;
        } else {
            writeln!(out, "Memory accessed by instruction:")?;
            for (i, access) in accesses.iter().enumerate() {
                let address = access.get("address").and_then(Value::as_str).unwrap_or("?");
                writeln!(out, "  {i}. Address: {address}")?;
                match access.get("size").and_then(Value::as_u64) {
                    Some(size) => writeln!(out, "     Size: {size}")?,
                    None => writeln!(out, "     Size: Unknown")?,
                }
                if access.get("is_likely_guard_page").and_then(Value::as_bool) == Some(true) {
                    writeln!(out, "     This address falls in a likely guard page.")?;
                }
                match access.get("access_type").and_then(Value::as_str) {
                    Some("read") => writeln!(out, "     Access type: Read")?,
                    Some("write") => writeln!(out, "     Access type: Write")?,
                    _ => {}
                }
            }
        }
    }
    let flips = info.get("possible_bit_flips").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if !flips.is_empty() {
        writeln!(out, "Crashing address may be the result of a flipped bit:")?;
        let mut flips: Vec<(f64, &Value)> =
            flips.iter().map(|f| (f.get("confidence").and_then(Value::as_f64).unwrap_or_default(), f)).collect();
        let address = |f: &Value| f.get("address").and_then(Value::as_str).unwrap_or("?").to_string();
        flips.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| address(a.1).cmp(&address(b.1))));
        for (i, (confidence, flip)) in flips.iter().enumerate() {
            let register =
                flip.get("source_register").and_then(Value::as_str).map(|r| format!("{r}=")).unwrap_or_default();
            writeln!(out, "  {i}. Valid address: {register}{} ({confidence:.3})", address(flip))?;
        }
    }
    if let Some(assertion) = get("assertion") {
        writeln!(out, "Assertion: {assertion}")?;
    }
    Ok(())
}

fn print_threads(
    dump: &Value,
    out: &mut impl Write,
    options: HumanOptions,
    line_offsets: &[Vec<Option<u64>>],
) -> io::Result<()> {
    let threads = dump.get("threads").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let crash_info = dump.get("crash_info").unwrap_or(&Value::Null);
    let crashed = crash_info.get("crashing_thread").and_then(Value::as_u64).map(|i| i as usize);
    let crashing_frames = dump.get("crashing_thread").and_then(|t| t.get("frames"));
    if threads.is_empty() && crashing_frames.is_none() {
        return Ok(());
    }
    // the crashing thread first, as minidump-stackwalk does
    let order =
        crashed.filter(|&c| c < threads.len()).into_iter().chain((0..threads.len()).filter(|&i| Some(i) != crashed));
    for index in order {
        let thread = &threads[index];
        let is_crashed = crashed == Some(index);
        if !is_crashed && !options.all_threads {
            continue;
        }
        let name = thread.get("thread_name").and_then(Value::as_str).unwrap_or("");
        let tid = thread.get("thread_id").map(|t| t.to_string()).unwrap_or_else(|| "?".into());
        let mark = if is_crashed { " (crashed)" } else { "" };
        writeln!(out, "\nThread {index} {name}{mark} - tid: {tid}")?;
        let frames = match thread.get("frames").and_then(Value::as_array) {
            Some(f) if !f.is_empty() || !is_crashed => Some(f),
            _ => crashing_frames.and_then(Value::as_array),
        };
        let frames = frames.map(Vec::as_slice).unwrap_or_default();
        if frames.is_empty() {
            writeln!(out, "<no frames>")?;
        }
        let offsets = line_offsets.get(index).map(Vec::as_slice).unwrap_or_default();
        let mut number = 0;
        for frame in frames {
            print_frame(frame, &mut number, offsets, out)?;
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

/// One frame (its inlined frames first, each numbered), the way minidump-stackwalk prints it:
/// `module!function [file : line + 0xLINE_OFFSET]`, `module!function + 0xFUNCTION_OFFSET`
/// without a source line, `module + 0xMODULE_OFFSET` without a function, the address
/// without a module; then `Found by:` the frame's trust. (No registers.)
fn print_frame(frame: &Value, number: &mut usize, offsets: &[Option<u64>], out: &mut impl Write) -> io::Result<()> {
    let get = |key: &str| frame.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(msg) = frame.get("truncated").and_then(|t| t.get("msg")).and_then(Value::as_str) {
        return writeln!(out, "    ({msg})");
    }
    let module = get("module");
    for inline in frame.get("inlines").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let function = inline.get("function").and_then(Value::as_str).unwrap_or("?");
        writeln!(out, "{:2}  {}!{function}{}", *number, module.unwrap_or(""), source(inline, None))?;
        writeln!(out, "    Found by: inlining")?;
        *number += 1;
    }
    let line_offset =
        frame.get("frame").and_then(Value::as_u64).and_then(|i| offsets.get(i as usize).copied().flatten());
    let location = match (module, get("function")) {
        (Some(module), Some(function)) if frame.get("line").and_then(Value::as_u64).is_some() => {
            format!("{module}!{function}{}", source(frame, line_offset))
        }
        (Some(module), Some(function)) => {
            format!("{module}!{function} + {}", short_hex(get("function_offset").unwrap_or("0x0")))
        }
        (Some(module), None) => format!("{module} + {}", short_hex(get("module_offset").unwrap_or("0x0"))),
        (None, _) => short_hex(get("offset").unwrap_or("0x0")),
    };
    writeln!(out, "{:2}  {location}", *number)?;
    writeln!(out, "    Found by: {}", found_by(get("trust").unwrap_or("none")))?;
    *number += 1;
    Ok(())
}

/// ` [file : line]`, or ` [file : line + 0xOFFSET]` with the offset into the line.
fn source(frame: &Value, line_offset: Option<u64>) -> String {
    match (frame.get("file").and_then(Value::as_str), frame.get("line").and_then(Value::as_u64)) {
        (Some(file), Some(line)) => match line_offset {
            Some(offset) => format!(" [{} : {line} + {offset:#x}]", basename(file)),
            None => format!(" [{} : {line}]", basename(file)),
        },
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

/// minidump-stackwalk's words for a frame's trust (`FrameTrust::description`).
fn found_by(trust: &str) -> &str {
    match trust {
        "context" => "given as instruction pointer in context",
        "prewalked" => "recovered by external stack walker",
        "cfi" => "call frame info",
        "frame_pointer" => "previous frame's frame pointer",
        "cfi_scan" => "call frame info with scanning",
        "scan" => "stack scanning",
        "inline" => "inlining",
        _ => "unknown",
    }
}

/// The modules whose symbols were looked for and not found, each as minidump-stackwalk's
/// `Loaded modules:` lists it (`BASE - END  NAME  VERSION`), with the debug file and ID the
/// symbols would be found by.
fn print_missing_symbols(dump: &Value, out: &mut impl Write) -> io::Result<()> {
    let modules = dump.get("modules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let missing: Vec<&Value> =
        modules.iter().filter(|m| m.get("missing_symbols").and_then(Value::as_bool) == Some(true)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nModules without symbols:")?;
    let hex = |v: Option<&str>| v.and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
    for module in missing {
        let get = |key: &str| module.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (base, end) = (hex(get("base_addr")), hex(get("end_addr")));
        let range = match (base, end) {
            (Some(base), Some(end)) => format!("{base:#010x} - {:#010x}  ", end.saturating_sub(1)),
            _ => String::new(),
        };
        let (name, version) = (get("filename").unwrap_or("?"), get("version").unwrap_or("???"));
        let debug = format!("{} {}", get("debug_file").unwrap_or("?"), get("debug_id").unwrap_or("?"));
        writeln!(out, "{range}{name}  {version}  ({debug})")?;
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
                    {"thread_id": 7, "frames": [frame(0, Some("Idle"), "context")]},
                    {"thread_id": 9, "thread_name": "Main",
                     "frames": [frame(0, Some("CrashFunction"), "context"), frame(1, None, "scan")]}
                ],
                "modules": [
                    {"filename": "app.exe", "missing_symbols": false},
                    {"filename": "kernel32.dll", "debug_file": "kernel32.pdb", "debug_id": "BCE8", "missing_symbols": true,
                     "base_addr": "0x7c800000", "end_addr": "0x7c8f4000", "version": "5.1.2600.2945"}
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
        assert!(
            text.contains(
                "Thread 1 Main (crashed) - tid: 9\n 0  app.exe!CrashFunction [app.cc : 58]\n    \
                 Found by: given as instruction pointer in context\n 1  app.exe + 0x429e\n    Found by: stack scanning\n"
            ),
            "{text}"
        );
        assert!(!text.contains("Idle"), "other threads only with all_threads: {text}");
        assert!(text.contains("(1 other threads: --all-threads shows them)"), "{text}");
        assert!(
            text.contains(
                "Modules without symbols:\n0x7c800000 - 0x7c8f3fff  kernel32.dll  5.1.2600.2945  (kernel32.pdb BCE8)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("  app.exe  "), "{text}");
        assert!(text.contains("Notes:\n  signature changed: a -> CrashFunction\n"), "{text}");
    }

    #[test]
    fn all_threads_shows_every_thread() {
        let text = render(&sample(), true);
        assert!(text.contains("Thread 0  - tid: 7\n 0  app.exe!Idle [app.cc : 58]\n"), "{text}");
        assert!(!text.contains("other threads"), "{text}");
    }

    #[test]
    fn frames_read_as_minidump_stackwalk_prints_them() {
        let processed = Processed::from(sample().as_object().unwrap().clone());
        let mut with_offsets = processed.clone();
        with_offsets.line_offsets = vec![vec![], vec![Some(3)]];
        let mut out = Vec::new();
        with_offsets.print_human(&mut out, HumanOptions::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(" 0  app.exe!CrashFunction [app.cc : 58 + 0x3]\n"), "{text}");
        let mut no_line = sample();
        no_line["json_dump"]["threads"][1]["frames"][0]["line"] = Value::Null;
        let text = render(&no_line, false);
        assert!(text.contains(" 0  app.exe!CrashFunction + 0xe\n"), "the function offset without a line: {text}");
        let mut no_module = sample();
        no_module["json_dump"]["threads"][1]["frames"][1]["module"] = Value::Null;
        let text = render(&no_module, false);
        assert!(text.contains(" 1  0x40429e\n    Found by: stack scanning\n"), "the address without a module: {text}");
    }

    #[test]
    fn a_failed_walk_says_so() {
        let text =
            render(&json!({"mdsw_status_string": "MissingThreadList", "signature": "EMPTY: no frame data"}), false);
        assert!(text.contains("Stackwalk:     failed (MissingThreadList)"), "{text}");
        assert!(text.contains("\nNo crash\n"), "{text}");
    }
}
