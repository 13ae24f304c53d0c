//! The C/C++/Rust signature tool: a port of socorro-siggen's `CSignatureTool` (frame list with
//! inline frames, at most 40 frames, Windows module names lower-cased; then sentinels,
//! irrelevant and prefix lists, merging of repeated module-only frames, and the EMPTY
//! fallbacks).

use std::borrow::Cow;

use serde_json::Value;

use super::lists::SigLists;
use super::normalize::{fix_missing_module, normalize_frame, Frame};

/// `MAXIMUM_FRAMES_TO_CONSIDER`: only the top 40 frames (inline frames included) are looked at.
pub const MAXIMUM_FRAMES_TO_CONSIDER: usize = 40;

/// What `CSignatureTool.generate` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CSignature {
    pub signature: String,
    pub notes: Vec<String>,
    pub debug_notes: Vec<String>,
}

/// The fields of one frame (or inline frame) object, read in one pass over its keys.
#[derive(Default)]
struct FrameFields<'a> {
    frame: Frame<'a>,
    inlines: &'a [Value],
}

fn read_frame(v: &Value) -> FrameFields<'_> {
    let mut out = FrameFields::default();
    let Some(map) = v.as_object() else { return out };
    for (key, value) in map {
        match key.as_str() {
            "module" => out.frame.module = value.as_str(),
            "function" => out.frame.function = value.as_str(),
            "file" => out.frame.file = value.as_str(),
            "offset" => out.frame.offset = value.as_str(),
            "line" => out.frame.line = line_text(value),
            "inlines" => out.inlines = value.as_array().map_or(&[], Vec::as_slice),
            // The first of the frame's unloaded modules (`Some(None)` when it has no name).
            "unloaded_modules" => {
                out.frame.unloaded =
                    value.as_array().and_then(|a| a.first()).map(|u| u.get("module").and_then(Value::as_str))
            }
            _ => {}
        }
    }
    out
}

/// A JSON line number as text (`23`); strings are kept as they are.
fn line_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::String(s) => Some(Cow::Borrowed(s)),
        _ => None,
    }
}

/// `CSignatureTool.frame_generator`: each inline frame (innermost first), then the frame. An
/// inline frame has its own function, file and line, and the module and offset of its frame.
fn expand_frames(frames: &[Value]) -> impl Iterator<Item = Frame<'_>> {
    frames.iter().flat_map(|frame| {
        let FrameFields { frame: own, inlines } = read_frame(frame);
        let (module, offset) = (own.module, own.offset);
        let inline_frames = inlines.iter().map(move |inline| {
            let f = read_frame(inline).frame;
            Frame { module, offset, function: f.function, file: f.file, line: f.line, unloaded: None }
        });
        inline_frames.chain(std::iter::once(own))
    })
}

/// `CSignatureTool.create_frame_list`: the normalized names of a thread's top frames.
pub fn create_frame_list(lists: &SigLists, thread: Option<&Value>, lower_case_modules: bool) -> Vec<String> {
    let frames = thread.and_then(|t| t.get("frames")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    expand_frames(frames)
        .take(MAXIMUM_FRAMES_TO_CONSIDER)
        .map(|frame| {
            // Bug #1544246: Rust 1.34 panic symbols lack their module path.
            let function = fix_missing_module(frame.file, frame.function).or(frame.function);
            let lowered = frame.module.filter(|m| lower_case_modules && !m.is_empty()).map(str::to_lowercase);
            let frame = Frame { function, module: lowered.as_deref().or(frame.module), ..frame };
            normalize_frame(lists, &frame)
        })
        .collect()
}

/// Module-only frames that are merged when they repeat: libraries (`.dll`, `.so`), `XUL` on
/// macOS, and functions the symbols do not name (`<name omitted>`, `<unknown in foo.dll>`).
fn is_mergeable(frame: &str) -> bool {
    if frame.starts_with("(unloaded") {
        return false;
    }
    let lower_ends = |suffix: &str| {
        frame.len() >= suffix.len()
            && frame.is_char_boundary(frame.len() - suffix.len())
            && frame[frame.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    lower_ends(".dll")
        || lower_ends(".so")
        || frame == "XUL"
        || frame == "<name omitted>"
        || frame.starts_with("<unknown in")
}

/// `CSignatureTool.generate`: walks the normalized frames and builds the signature.
///
/// Starts at the first sentinel frame if there is one; skips empty and irrelevant frames;
/// merges repeated module-only frames; keeps adding frames while they match the prefix list.
/// `crashed_thread` only chooses the explanation for an empty result; `debug` records the
/// decisions in `debug_notes`.
pub fn generate(lists: &SigLists, source: &[String], crashed_thread: Option<i64>, debug: bool) -> CSignature {
    let mut out = CSignature::default();
    let mut log = |args: std::fmt::Arguments<'_>| {
        if debug {
            out.debug_notes.push(args.to_string());
        }
    };
    match &lists.source {
        None => log(format_args!("using included signature lists")),
        Some(dir) => log(format_args!("using signature lists from {}", dir.display())),
    }
    let mut source = source;
    if let Some(index) = source.iter().position(|frame| lists.sentinels.contains(frame)) {
        log(format_args!("sentinel; starting at \"{}\" index {index}", source[index]));
        source = &source[index..];
    }

    let mut list: Vec<&str> = Vec::new();
    for frame in source {
        if frame.is_empty() {
            log(format_args!("empty string; ignoring: \"\""));
            continue;
        }
        if lists.irrelevant.is_match(frame) {
            log(format_args!("irrelevant; ignoring: \"{frame}\""));
            continue;
        }
        if is_mergeable(frame) && list.last() == Some(&frame.as_str()) {
            continue;
        }
        list.push(frame);
        if !lists.prefix.is_match(frame) {
            log(format_args!("not a prefix; stop: \"{frame}\""));
            break;
        }
        log(format_args!("prefix; continue iterating: \"{frame}\""));
    }
    out.signature = list.join(" | ");

    if out.signature.is_empty() {
        match crashed_thread {
            None => {
                out.notes.push("CSignatureTool: no crashing thread identified".into());
                out.signature = "EMPTY: no crashing thread identified".into();
            }
            Some(thread) => {
                out.notes.push(format!("CSignatureTool: no frame data for crashing thread ({thread})"));
                // The frames were probably all irrelevant: pick the first one.
                out.signature = source.first().cloned().unwrap_or_else(|| "EMPTY: no frame data available".into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists(ig: &str, pr: &str) -> SigLists {
        // TestCSignatureTool.setup_config_c_sig_tool in upstream tests/test_rules.py; the tuple
        // sentinel ("sentinel2" with a condition) exists only in upstream's Python code.
        SigLists::from_texts([("ig", ig), ("pr", pr), ("si", "fnNeedNumber")], "sentinel").unwrap()
    }

    fn chars(s: &str) -> Vec<String> {
        s.chars().map(String::from).collect()
    }

    fn sig(lists: &SigLists, source: &[String]) -> String {
        generate(lists, source, Some(0), true).signature
    }

    // Upstream: TestCSignatureTool.test_generate_1
    #[test]
    fn generate_simple() {
        let s = lists("a\nb\nc", "d\ne\nf");
        assert_eq!(sig(&s, &chars("abcdefghijklmnopqrstuvwxyz")), "d | e | f | g");
        assert_eq!(sig(&s, &chars("abcdaeafagahijklmnopqrstuvwxyz")), "d | e | f | g");
    }

    // Upstream: TestCSignatureTool.test_generate_2a (long frames are not cut here)
    #[test]
    fn generate_long_frames() {
        let s = lists("a\nb\nc", "d\ne\nf");
        let mut a = chars("abcdefghijklmnopqrstuvwxyz");
        for f in &mut a[3..8] {
            *f = f.repeat(70);
        }
        let expected = [a[3].clone(), a[4].clone(), a[5].clone(), a[6].clone()].join(" | ");
        assert_eq!(sig(&s, &a), expected);
    }

    // Upstream: TestCSignatureTool.test_generate_3
    #[test]
    fn generate_sentinel() {
        let mut a = chars("abcdefghabcfaeabdijklmnopqrstuvwxyz");
        a[7] = "sentinel".into();
        assert_eq!(sig(&lists("a\nb\nc", "d\ne\nf"), &a), "sentinel");
        assert_eq!(sig(&lists("a\nb\nc\nsentinel", "d\ne\nf"), &a), "f | e | d | i");
    }

    // Upstream: TestCSignatureTool.test_generate_with_merged_dll
    #[test]
    fn generate_with_merged_dll() {
        let s = lists("a\nb\nc", "d\ne\nf");
        let source: Vec<String> = ["a", "d", "foo32.dll", "foo32.dll", "foo32.dll", "g"].map(String::from).to_vec();
        assert_eq!(sig(&s, &source), "d | foo32.dll | g");
        let source: Vec<String> = ["foo32.dll", "foo32.dll", "g"].map(String::from).to_vec();
        assert_eq!(sig(&s, &source), "foo32.dll | g");
        // Other module-only frames merge too; function frames do not.
        let source: Vec<String> =
            ["libc.SO", "libc.SO", "XUL", "XUL", "<unknown in a>", "<unknown in a>", "d", "d", "g"]
                .map(String::from)
                .to_vec();
        assert_eq!(sig(&lists("zzz", "lib\nXUL\n<\nd"), &source), "libc.SO | XUL | <unknown in a> | d | d | g");
    }

    // Upstream (siggen 1.x): test_specifiers_and_return_types; frames are matched as they are.
    #[test]
    fn lists_match_normalized_frames_verbatim() {
        let s = lists("ignored", "pre1\npre2");
        let source: Vec<String> = ["static void ignored", "pre1", "static bool pre2", "foo"].map(String::from).to_vec();
        assert_eq!(sig(&s, &source), "static void ignored");
    }

    #[test]
    fn unloaded_module_frames_do_not_merge_and_empty_frames_are_skipped() {
        let s = lists("zzz", r"\(unloaded");
        let source: Vec<String> = ["", "(unloaded foo.dll)", "(unloaded foo.dll)", "g"].map(String::from).to_vec();
        assert_eq!(sig(&s, &source), "(unloaded foo.dll) | (unloaded foo.dll) | g");
    }

    #[test]
    fn empty_results_explain_themselves() {
        let s = lists("a", "d");
        let r = generate(&s, &[], None, true);
        assert_eq!(r.signature, "EMPTY: no crashing thread identified");
        assert_eq!(r.notes, ["CSignatureTool: no crashing thread identified"]);
        let r = generate(&s, &[], Some(3), true);
        assert_eq!(r.signature, "EMPTY: no frame data available");
        assert_eq!(r.notes, ["CSignatureTool: no frame data for crashing thread (3)"]);
        // All frames irrelevant: the first frame is the signature.
        let r = generate(&s, &chars("aaa"), Some(0), true);
        assert_eq!(r.signature, "a");
    }

    #[test]
    fn inline_frames_count_and_come_first() {
        let s = lists("zzz", "zzz");
        let thread = json!({"frames": [
            {"module": "xul.dll", "module_offset": "0x10", "offset": "0x1010", "function": "Outer()",
             "inlines": [{"function": "Inner1()", "file": "a.cpp", "line": 1},
                         {"function": "Inner2()", "file": "a.cpp", "line": 2}]},
            {"module": "XUL.DLL", "module_offset": "0x00000020", "offset": "0x1020"},
            {"offset": "0x0000000000001030", "unloaded_modules": [{"module": "gone.dll", "offsets": ["0x30"]}]},
            {"offset": "0x0000000000001040"},
        ]});
        let frames = create_frame_list(&s, Some(&thread), true);
        assert_eq!(frames, ["Inner1", "Inner2", "Outer", "xul.dll", "(unloaded gone.dll)", "@0x1040"]);
        let frames = create_frame_list(&s, Some(&thread), false);
        assert_eq!(frames[3], "XUL.DLL");
    }

    #[test]
    fn at_most_40_frames_are_considered() {
        let s = lists("zzz", "zzz");
        let frames: Vec<Value> =
            (0..30).map(|i| json!({"function": format!("f{i}"), "inlines": [{"function": format!("i{i}")}]})).collect();
        let list = create_frame_list(&s, Some(&json!({ "frames": frames })), false);
        assert_eq!(list.len(), MAXIMUM_FRAMES_TO_CONSIDER);
        assert_eq!(list[..3], ["i0", "f0", "i1"]);
    }

    #[test]
    fn missing_rust_module_paths_are_fixed_before_sentinels() {
        let s = lists("zzz", "zzz");
        let thread = json!({"frames": [{"function": "panic",
            "file": "git:github.com/rust-lang/rust:src/libcore/panicking.rs:abc"}]});
        assert_eq!(create_frame_list(&s, Some(&thread), false), ["core::panicking::panic"]);
    }
}
