//! `json_dump` without a `serde_json::Value` tree: byte-identical to minidump-processor's
//! `ProcessState::print_json` (what `minidump-stackwalk --json` prints), written straight from
//! the `ProcessState`.
//!
//! Upstream builds the whole output as a `Value` (a `String` per key, a tree node per field)
//! and serializes it; for a dump with many threads that is most of the processing time. Here
//! the bulk (modules, and every thread's frames) is serialized by hand-written `Serialize`
//! impls over borrowed data, with keys in the sorted order a `Value` map gives them. Everything
//! else (system and crash info, Linux/macOS extras, handles, unloaded modules...) is still
//! upstream's own code: `print_json` runs on the state with its modules and frames taken out,
//! which is small and cheap, and its output is merged with the bulk in key order.
//!
//! The `same_bytes_as_print_json_*` tests check the bytes against `print_json` on every
//! testdata dump and on generated dumps (stacks cut or not), and the view against its output.

use std::borrow::Cow;

use minidump::system_info::PointerWidth;
use minidump::{MinidumpContext, MinidumpContextValidity, MinidumpModule, Module};
use minidump_processor::ProcessState;
use minidump_unwind::{CallStack, StackFrame};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Stacks longer than this are truncated (by the `truncate_stacks` rule, and by
/// [`WalkedDump`] when written after [`WalkedDump::truncate_stacks`]).
pub const MAX_FRAMES: usize = 500;
/// Frames kept before the marker frame.
pub const HEAD_FRAMES: usize = 250;
/// Frames kept after the marker frame.
pub const TAIL_FRAMES: usize = 249;

/// Truncates one stack of a `json_dump` in place to [`HEAD_FRAMES`], one marker frame
/// `{"truncated": {"msg": "N frames truncated"}}` and [`TAIL_FRAMES`]; true when it was cut.
pub fn truncate_frames(frames: &mut Vec<Value>) -> bool {
    if frames.len() <= MAX_FRAMES {
        return false;
    }
    let cut = frames.len() - HEAD_FRAMES - TAIL_FRAMES;
    let marker = serde_json::json!({"truncated": {"msg": format!("{cut} frames truncated")}});
    frames.splice(HEAD_FRAMES..frames.len() - TAIL_FRAMES, [marker]);
    true
}

/// A walked dump waiting to be written: the state and upstream's JSON of everything but the
/// modules and the frames.
pub struct WalkedDump {
    state: Box<ProcessState>,
    /// `print_json` of the state without modules and frames (so without `crashing_thread`),
    /// minus `modules` and `threads`.
    rest: Map<String, Value>,
    modules: Vec<ModuleJson>,
    wide: bool,
    /// Cut stacks longer than [`MAX_FRAMES`] when writing (set by the `truncate_stacks` rule).
    truncate: bool,
}

impl std::fmt::Debug for WalkedDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalkedDump").field("threads", &self.state.threads.len()).finish_non_exhaustive()
    }
}

impl WalkedDump {
    pub fn new(mut state: ProcessState) -> Result<WalkedDump, serde_json::Error> {
        let modules = std::mem::take(&mut state.modules);
        let frames: Vec<Vec<StackFrame>> = state.threads.iter_mut().map(|t| std::mem::take(&mut t.frames)).collect();
        let mut text = Vec::with_capacity(4096);
        let printed = state.print_json(&mut text, false);
        state.modules = modules;
        for (thread, frames) in state.threads.iter_mut().zip(frames) {
            thread.frames = frames;
        }
        printed?;
        let mut rest: Map<String, Value> = serde_json::from_slice(&text)?;
        rest.remove("modules");
        rest.remove("threads");
        let wide = state.system_info.cpu.pointer_width() != PointerWidth::Bits32;
        let modules = state.modules.iter().map(|m| ModuleJson::new(&state, m, wide)).collect();
        Ok(WalkedDump { state: Box::new(state), rest, modules, wide, truncate: false })
    }

    /// The walked state (for rules that need more than the [view](Self::view)).
    /// Per thread, per frame: how far the instruction is past the start of its source line
    /// (what `minidump-stackwalk --human` shows as `[file : line + 0x3]`).
    pub fn line_offsets(&self) -> Vec<Vec<Option<u64>>> {
        let frames = |t: &minidump_unwind::CallStack| {
            t.frames.iter().map(|f| f.source_line_base.map(|base| f.instruction.wrapping_sub(base))).collect()
        };
        self.state.threads.iter().map(frames).collect()
    }

    pub fn state(&self) -> &ProcessState {
        &self.state
    }

    /// From now on, stacks longer than [`MAX_FRAMES`] are written cut as [`truncate_frames`]
    /// cuts them.
    pub fn truncate_stacks(&mut self) {
        self.truncate = true;
    }

    /// The JSON text (`minidump-stackwalk --json`, compact).
    pub fn to_json(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(&Whole(self)).expect("the stackwalker output always serializes")
    }

    /// What the rules read as `json_dump`: every field, except that `threads` only holds
    /// thread 0 and the crashing thread (the others are `null`), and stacks are not cut.
    pub fn view(&self) -> Value {
        let mut view = self.rest.clone();
        view.insert("modules".into(), to_value(&self.modules));
        let wanted = |i: usize| i == 0 || Some(i) == self.state.requesting_thread;
        let threads = self.state.threads.iter().enumerate().map(|(i, thread)| match wanted(i) {
            true => to_value(&Thread { dump: self, thread, index: None, truncate: false }),
            false => Value::Null,
        });
        view.insert("threads".into(), Value::Array(threads.collect()));
        if let Some(thread) = self.crashing_thread(false) {
            view.insert("crashing_thread".into(), to_value(&thread));
        }
        Value::Object(view)
    }

    /// The crashing thread as `crashing_thread` (only when it has frames, as upstream).
    fn crashing_thread(&self, truncate: bool) -> Option<Thread<'_>> {
        let index = self.state.requesting_thread?;
        let thread = self.state.threads.get(index).filter(|t| !t.frames.is_empty())?;
        Some(Thread { dump: self, thread, index: Some(index), truncate })
    }

    fn hex(&self, address: u64) -> Hex {
        Hex { address, wide: self.wide }
    }
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).expect("the stackwalker output always serializes")
}

/// The whole output: upstream's fields merged in key order with the bulk.
struct Whole<'a>(&'a WalkedDump);

/// The fields written here rather than by upstream.
enum Bulk<'a> {
    CrashingThread(Thread<'a>),
    Modules(&'a WalkedDump),
    Threads(&'a WalkedDump),
}

impl Serialize for Bulk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Bulk::CrashingThread(thread) => thread.serialize(s),
            Bulk::Modules(dump) => dump.modules.serialize(s),
            Bulk::Threads(dump) => {
                let threads = &dump.state.threads;
                let mut seq = s.serialize_seq(Some(threads.len()))?;
                for thread in threads {
                    seq.serialize_element(&Thread { dump, thread, index: None, truncate: dump.truncate })?;
                }
                seq.end()
            }
        }
    }
}

impl Serialize for Whole<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let dump = self.0;
        // In key order.
        let bulk = [
            dump.crashing_thread(dump.truncate).map(|t| ("crashing_thread", Bulk::CrashingThread(t))),
            Some(("modules", Bulk::Modules(dump))),
            Some(("threads", Bulk::Threads(dump))),
        ];
        let mut bulk = bulk.into_iter().flatten().peekable();
        let mut map = s.serialize_map(None)?;
        for (key, value) in &dump.rest {
            while let Some((k, v)) = bulk.next_if(|(k, _)| *k < key.as_str()) {
                map.serialize_entry(k, &v)?;
            }
            map.serialize_entry(key, value)?;
        }
        for (k, v) in bulk {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

/// An address as upstream writes it: `0x` and 8 or 16 hex digits (by the dump's pointer width).
struct Hex {
    address: u64,
    wide: bool,
}

impl Serialize for Hex {
    /// `format!("{:#018x}")` (`{:#010x}` when narrow), without the formatting machinery.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let needed = (64 - self.address.leading_zeros() as usize).div_ceil(4);
        let len = needed.max(if self.wide { 16 } else { 8 });
        let mut text = *b"0x0000000000000000";
        for (i, digit) in text[2..2 + len].iter_mut().enumerate() {
            *digit = DIGITS[((self.address >> (4 * (len - 1 - i))) & 0xf) as usize];
        }
        s.serialize_str(std::str::from_utf8(&text[..2 + len]).expect("ASCII"))
    }
}

/// Upstream's `basename`: the part after the last `/` or `\`.
fn basename(path: &str) -> &str {
    path.rfind(['/', '\\']).map_or(path, |i| &path[i + 1..])
}

/// One entry of `modules`, fields in key order. Computed once per walk: its ids are formatted
/// strings, costly for hundreds of modules.
#[derive(Serialize)]
struct ModuleJson {
    base_addr: Hex,
    cert_subject: Option<String>,
    code_id: String,
    corrupt_symbols: bool,
    debug_file: String,
    debug_id: String,
    end_addr: Hex,
    filename: String,
    loaded_symbols: bool,
    /// "Missing" only when the symbolizer tried (has statistics) and failed.
    missing_symbols: bool,
    symbol_url: Option<String>,
    version: Option<String>,
}

impl ModuleJson {
    fn new(state: &ProcessState, module: &MinidumpModule, wide: bool) -> ModuleJson {
        let full_name = module.code_file();
        let name = basename(&full_name);
        let stats = state.symbol_stats.get(name);
        let extra = stats.and_then(|s| s.extra_debug_info.as_ref());
        let own_debug_file = module.debug_file().unwrap_or(Cow::Borrowed(""));
        let (debug_file, debug_id) = match extra {
            Some(info) => (info.debug_file.as_str(), info.debug_identifier),
            None => (own_debug_file.as_ref(), module.debug_identifier().unwrap_or_default()),
        };
        let base = module.raw.base_of_image;
        ModuleJson {
            base_addr: Hex { address: base, wide },
            cert_subject: state.cert_info.get(name).cloned(),
            code_id: module.code_identifier().unwrap_or_default().as_str().to_string(),
            corrupt_symbols: stats.is_some_and(|s| s.corrupt_symbols),
            debug_file: basename(debug_file).to_string(),
            debug_id: debug_id.breakpad().to_string(),
            end_addr: Hex { address: base.wrapping_add(u64::from(module.raw.size_of_image)), wide },
            filename: name.to_string(),
            loaded_symbols: stats.is_some_and(|s| s.loaded_symbols),
            missing_symbols: stats.is_some_and(|s| !s.loaded_symbols),
            symbol_url: stats.and_then(|s| s.symbol_url.clone()),
            version: module.version().map(Cow::into_owned),
        }
    }
}

/// Any `Display` as a JSON string.
struct Display<T>(T);

impl<T: std::fmt::Display> Serialize for Display<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// One thread; with `index`, the crashing thread (`threads_index`, registers in frame 0).
struct Thread<'a> {
    dump: &'a WalkedDump,
    thread: &'a CallStack,
    index: Option<usize>,
    truncate: bool,
}

impl Serialize for Thread<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let thread = self.thread;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("frame_count", &thread.frames.len())?;
        map.serialize_entry("frames", &Frames(self))?;
        map.serialize_entry("last_error_value", &thread.last_error_value.map(Display))?;
        map.serialize_entry("thread_id", &thread.thread_id)?;
        map.serialize_entry("thread_name", &thread.thread_name)?;
        if let Some(index) = self.index {
            map.serialize_entry("threads_index", &index)?;
        }
        map.end()
    }
}

struct Frames<'t, 'a>(&'t Thread<'a>);

impl Serialize for Frames<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let thread = self.0;
        let frames = &thread.thread.frames;
        let crashing = thread.index.is_some();
        let frame =
            |i: usize| FrameJson { dump: thread.dump, frame: &frames[i], index: i, registers: crashing && i == 0 };
        let cut = thread.truncate && frames.len() > MAX_FRAMES;
        let mut seq = s.serialize_seq(None)?;
        if !cut {
            for i in 0..frames.len() {
                seq.serialize_element(&frame(i))?;
            }
            return seq.end();
        }
        for i in 0..HEAD_FRAMES {
            seq.serialize_element(&frame(i))?;
        }
        let dropped = frames.len() - HEAD_FRAMES - TAIL_FRAMES;
        let marker = serde_json::json!({"truncated": {"msg": format!("{dropped} frames truncated")}});
        seq.serialize_element(&marker)?;
        for i in frames.len() - TAIL_FRAMES..frames.len() {
            seq.serialize_element(&frame(i))?;
        }
        seq.end()
    }
}

struct FrameJson<'a> {
    dump: &'a WalkedDump,
    frame: &'a StackFrame,
    index: usize,
    /// Add `registers` (frame 0 of the crashing thread).
    registers: bool,
}

impl Serialize for FrameJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (dump, frame) = (self.dump, self.frame);
        let at = frame.instruction;
        let inlines = (!frame.inlines.is_empty()).then_some(Inlines(frame));
        let unloaded = (!frame.unloaded_modules.is_empty()).then_some(Unloaded(self));
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("file", &frame.source_file_name)?;
        map.serialize_entry("frame", &self.index)?;
        map.serialize_entry("function", &frame.function_name)?;
        map.serialize_entry("function_offset", &frame.function_base.map(|b| dump.hex(at.wrapping_sub(b))))?;
        map.serialize_entry("inlines", &inlines)?;
        map.serialize_entry("line", &frame.source_line)?;
        map.serialize_entry("missing_symbols", &frame.function_name.is_none())?;
        map.serialize_entry("module", &frame.module.as_ref().map(|m| basename(&m.name)))?;
        let module_offset = frame.module.as_ref().map(|m| dump.hex(at.wrapping_sub(m.raw.base_of_image)));
        map.serialize_entry("module_offset", &module_offset)?;
        map.serialize_entry("offset", &dump.hex(at))?;
        if self.registers {
            map.serialize_entry("registers", &Registers(&frame.context))?;
        }
        map.serialize_entry("trust", frame.trust.as_str())?;
        map.serialize_entry("unloaded_modules", &unloaded)?;
        map.end()
    }
}

struct Inlines<'a>(&'a StackFrame);

impl Serialize for Inlines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.inlines.iter().map(|inline| InlineJson {
            file: inline.source_file_name.as_deref(),
            function: &inline.function_name,
            line: inline.source_line,
        }))
    }
}

/// Fields in key order.
#[derive(Serialize)]
struct InlineJson<'a> {
    file: Option<&'a str>,
    function: &'a str,
    line: Option<u32>,
}

struct Unloaded<'f, 'a>(&'f FrameJson<'a>);

impl Serialize for Unloaded<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let FrameJson { dump, frame, .. } = self.0;
        s.collect_seq(frame.unloaded_modules.iter().map(|(module, offsets)| {
            let offsets: Vec<Hex> = offsets.iter().map(|&o| dump.hex(o)).collect();
            UnloadedModule { module, offsets }
        }))
    }
}

/// Fields in key order.
#[derive(Serialize)]
struct UnloadedModule<'a> {
    module: &'a str,
    offsets: Vec<Hex>,
}

/// Upstream's `json_registers`: the valid general-purpose registers, by name.
struct Registers<'a>(&'a MinidumpContext);

impl Serialize for Registers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let context = self.0;
        let all = context.general_purpose_registers();
        let valid = |reg: &str| match &context.valid {
            MinidumpContextValidity::All => true,
            MinidumpContextValidity::Some(which) => which.contains(reg),
        };
        let mut registers: Vec<&str> = all.iter().copied().filter(|r| valid(r)).collect();
        registers.sort_unstable();
        registers.dedup();
        s.collect_map(registers.into_iter().map(|reg| (reg, context.format_register(reg))))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use minidump::Minidump;
    use minidump_unwind::symbols::{simple_symbol_supplier, Symbolizer};

    use super::*;

    /// Walks a dump as the processor does (with the `--evil-json` annotations, so modules get
    /// `cert_subject`); `None` when it cannot be read or walked.
    fn walk(bytes: Vec<u8>, symbols: &[PathBuf], evil: &Path) -> Option<ProcessState> {
        let dump = Minidump::read(bytes).ok()?;
        let provider = Symbolizer::new(simple_symbol_supplier(symbols.to_vec()));
        let mut options = minidump_processor::ProcessorOptions::stable_basic();
        options.evil_json = Some(evil);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(minidump_processor::process_minidump_with_options(&dump, &provider, options)).ok()
    }

    /// Our bytes, truncated or not, and our view, against upstream's `print_json`.
    fn check(state: ProcessState, what: &str) {
        let mut expected = Vec::new();
        state.print_json(&mut expected, false).unwrap();
        let mut dump = WalkedDump::new(state).unwrap();
        let ours = dump.to_json();
        assert!(ours.get().as_bytes() == expected.as_slice(), "{what}: not the bytes of print_json");
        let mut full: Value = serde_json::from_slice(&expected).unwrap();
        let crashing = full["crash_info"]["crashing_thread"].as_u64().map(|t| t as usize);
        for (i, thread) in full["threads"].as_array_mut().unwrap().iter_mut().enumerate() {
            if i != 0 && Some(i) != crashing {
                *thread = Value::Null;
            }
        }
        assert!(dump.view() == full, "{what}: the view is not print_json's output with threads thinned");
        dump.truncate_stacks();
        let cut: Value = serde_json::from_str(dump.to_json().get()).unwrap();
        let mut expected: Value = serde_json::from_slice(&expected).unwrap();
        let cut_frames = |thread: &mut Value| truncate_frames(thread["frames"].as_array_mut().unwrap());
        for thread in expected["threads"].as_array_mut().unwrap() {
            cut_frames(thread);
        }
        expected.get_mut("crashing_thread").map(cut_frames);
        assert!(cut == expected, "{what}: stacks not cut as the truncate rule cuts them");
    }

    fn evil_json(dir: &Path) -> PathBuf {
        let path = dir.join("raw_crash.json");
        let evil = r#"{"CPUMicrocodeVersion": "0x42", "ModuleSignatureInfo": {"Microsoft Corporation": ["kernel32.dll", "ntdll.dll"], "Mozilla Corporation": ["xul.dll", "firefox.exe"]}}"#;
        std::fs::write(&path, evil).unwrap();
        path
    }

    #[test]
    fn same_bytes_as_print_json_on_the_testdata_dumps() {
        let Some(data) = crate::testutil::testdata() else { return };
        let tmp = tempfile::tempdir().unwrap();
        let evil = evil_json(tmp.path());
        let mut checked = 0;
        for entry in std::fs::read_dir(data.join("minidumps")).unwrap() {
            let path = entry.unwrap().path();
            for symbols in [vec![], vec![data.join("symbols")]] {
                if let Some(state) = walk(std::fs::read(&path).unwrap(), &symbols, &evil) {
                    check(state, &path.display().to_string());
                    checked += 1;
                }
            }
        }
        assert!(checked >= 10, "only {checked} dumps walked");
    }

    /// Every thread gets `len` frames (copies of its last one), to check stack cutting.
    fn long_stacks(state: &mut ProcessState, len: usize) {
        for thread in &mut state.threads {
            if let Some(last) = thread.frames.last().cloned() {
                thread.frames.resize(len, last);
            }
        }
    }

    #[test]
    fn same_bytes_as_print_json_on_generated_dumps() {
        let tmp = tempfile::tempdir().unwrap();
        let evil = evil_json(tmp.path());
        let symbols = tmp.path().join("symbols");
        crate::generate::write_symbols(&symbols).unwrap();
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let mut generator = crate::generate::Generator::new(Some(5), now);
        let mut checked = 0;
        for i in 0..60 {
            let submission = generator.submission();
            for (name, bytes) in submission.dumps {
                let paths = if i % 2 == 0 { vec![symbols.clone()] } else { vec![] };
                // (some scenarios send a corrupt or empty dump on purpose)
                if let Some(mut state) = walk(bytes, &paths, &evil) {
                    if i % 3 == 0 {
                        long_stacks(&mut state, 500 + i);
                    }
                    check(state, &format!("generated {i} {} {name}", submission.scenario));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 40, "only {checked} generated dumps walked");
    }

    #[test]
    fn addresses_are_written_as_upstream_formats_them() {
        for address in [0, 1, 0xabc, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
            let hex = |wide| serde_json::to_value(Hex { address, wide }).unwrap();
            assert_eq!(hex(true), format!("{address:#018x}"));
            assert_eq!(hex(false), format!("{address:#010x}"));
        }
    }

    fn stack(n: usize) -> Vec<Value> {
        (0..n).map(|i| serde_json::json!({"frame": i})).collect()
    }

    #[test]
    fn stacks_up_to_500_frames_are_kept() {
        let mut frames = stack(500);
        assert!(!truncate_frames(&mut frames));
        assert_eq!(frames, stack(500));
    }

    #[test]
    fn longer_stacks_keep_250_head_a_marker_and_249_tail() {
        let mut frames = stack(1000);
        assert!(truncate_frames(&mut frames));
        assert_eq!(frames.len(), 500);
        assert_eq!(frames[249], serde_json::json!({"frame": 249}));
        assert_eq!(frames[250], serde_json::json!({"truncated": {"msg": "501 frames truncated"}}));
        assert_eq!(frames[251], serde_json::json!({"frame": 751}));
        assert_eq!(frames[499], serde_json::json!({"frame": 999}));
    }
}
