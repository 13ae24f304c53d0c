//! Frame normalization: a port of socorro-siggen's `CSignatureTool.normalize_frame` (C++ and
//! Rust function cleanup, `file#line`, module name, unloaded module, `@offset`) and the helpers
//! from its `utils.py` (`collapse`, `drop_prefix_and_return_type`, `parse_source_file`,
//! `strip_leading_zeros`, `drop_bad_characters`). Ported from siggen 2.2.20241029.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::lists::SigLists;

/// One frame as signature generation sees it (an inline frame is a frame of its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame<'a> {
    pub module: Option<&'a str>,
    pub function: Option<&'a str>,
    pub file: Option<&'a str>,
    /// The source line, as text (JSON numbers are printed in decimal).
    pub line: Option<Cow<'a, str>>,
    pub offset: Option<&'a str>,
    /// The first of the frame's `unloaded_modules` (its `module` name, if it has one).
    pub unloaded: Option<Option<&'a str>>,
}

/// Python's `x or ""` / truthiness for optional strings.
fn truthy(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// `CSignatureTool.normalize_frame`: the frame's name in a signature.
pub fn normalize_frame(lists: &SigLists, frame: &Frame<'_>) -> String {
    let line = frame.line.as_deref();
    if let Some(function) = truthy(frame.function) {
        let is_rust = truthy(frame.file).and_then(parse_source_file).is_some_and(|f| f.ends_with(".rs"));
        return if is_rust {
            normalize_rust_function(lists, function, line)
        } else {
            normalize_cpp_function(lists, function, line)
        };
    }
    // Python truthiness: a line of 0 counts as no line.
    if let (Some(file), Some(line)) = (truthy(frame.file), line.filter(|l| !l.is_empty() && *l != "0")) {
        let file = file.trim_end_matches(['/', '\\']);
        let base = if file.contains('\\') { file.rsplit('\\').next() } else { file.rsplit('/').next() };
        return format!("{}#{line}", base.unwrap_or(file));
    }
    if let Some(module) = truthy(frame.module) {
        // Extra [ and ] around module names are dropped (bug 1926077).
        return module.trim_matches(['[', ']']).to_string();
    }
    if let Some(unloaded) = frame.unloaded {
        // Python formats a missing name as "None"; kept for identical signatures.
        return format!("(unloaded {})", unloaded.unwrap_or("None"));
    }
    match truthy(frame.offset) {
        Some(offset) => format!("@{}", strip_leading_zeros(offset)),
        // Nothing meaningful: the empty frame is skipped by the signature walk.
        None => String::new(),
    }
}

static FIXUP_LAMBDA_NUMBERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"::\$_\d+::").unwrap());
static FIXUP_HASH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"::h[0-9a-fA-F]+$").unwrap());

/// `CSignatureTool.normalize_cpp_function`.
pub fn normalize_cpp_function(lists: &SigLists, function: &str, line: Option<&str>) -> String {
    // Drop member function cv/ref qualifiers like const, const&, const &, &, and &&.
    let mut f = function;
    for qualifier in ["const", "const&", "const &", "&&", "&"] {
        if let Some(stripped) = f.strip_suffix(qualifier) {
            f = stripped.trim();
        }
    }
    // Operator overloading syntax does not have a prefix or return type: leave it.
    let f = if f.contains("::operator") { f } else { drop_prefix_and_return_type(f) };
    // bug #1672847, bug #1688249
    let f = f.replace("`anonymous namespace'", "(anonymous namespace)");
    let f = FIXUP_LAMBDA_NUMBERS.replace_all(&f, "::$$::");
    // " in " keeps "<unknown in foobar.dll>" (bug #1685178).
    let f = collapse(&f, '<', '>', "<T>", &["name omitted", "IPC::ParamTraits", " in "]);
    let f = collapse(&f, '(', ')', "", &["anonymous namespace", "operator"]);
    // Remove PGO cold block labels like "[clone .cold.222]". bug #1397926
    let f = if f.contains("clone .cold") { collapse(&f, '[', ']', "", &[]) } else { f };
    finish_function(lists, f, line)
}

/// `CSignatureTool.normalize_rust_function`.
pub fn normalize_rust_function(lists: &SigLists, function: &str, line: Option<&str>) -> String {
    let f = collapse(drop_prefix_and_return_type(function), '<', '>', "<T>", &[" as "]);
    let f = collapse(&f, '(', ')', "", &[]);
    let f = finish_function(lists, f, line);
    // Remove rust-generated uniqueness hashes.
    match FIXUP_HASH.find(&f) {
        Some(m) => f[..m.start()].to_string(),
        None => f,
    }
}

/// The steps shared by C++ and Rust: `:line` for listed functions, no space before `*`, `&`
/// and `,`, one space after each comma.
fn finish_function(lists: &SigLists, mut f: String, line: Option<&str>) -> String {
    if lists.line_numbers.is_match(&f) {
        f = format!("{f}:{}", line.unwrap_or("None"));
    }
    let mut out = String::with_capacity(f.len() + 4);
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if c == ' ' && matches!(next, Some('*' | '&' | ',')) {
            continue;
        }
        out.push(c);
        if c == ',' && next != Some(' ') {
            out.push(' ');
        }
    }
    out
}

/// `utils.collapse`: replaces each top-level `open ... close` token (an unclosed one runs to the
/// end) by `replacement`, unless an exception string ends the text before the delimiter or
/// occurs in the token (upstream's `_is_exception`).
pub fn collapse(function: &str, open: char, close: char, replacement: &str, exceptions: &[&str]) -> String {
    let is_exception = |before: &str, token: &str| exceptions.iter().any(|e| before.ends_with(e) || token.contains(e));
    let mut out = String::with_capacity(function.len());
    let (mut depth, mut token_start) = (0usize, 0usize);
    for (i, c) in function.char_indices() {
        if depth == 0 {
            if c == open && !is_exception(&function[..i], "") {
                depth = 1;
                token_start = i;
            } else {
                out.push(c);
            }
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                let token = &function[token_start..i + c.len_utf8()];
                out.push_str(if is_exception(&function[..i], token) { token } else { replacement });
            }
        }
    }
    if depth > 0 {
        // `before` is the text up to the last character, as in upstream's loop variable.
        let token = &function[token_start..];
        let last = function.char_indices().last().map_or(0, |(i, _)| i);
        out.push_str(if is_exception(&function[..last], token) { token } else { replacement });
    }
    out
}

/// `utils.drop_prefix_and_return_type`: splits on spaces outside `()`, `{}`, `[]`, `<>` and
/// `` `' `` and keeps the last token (re-joining a trailing `(args)` or `[clone ...]` token).
pub fn drop_prefix_and_return_type(function: &str) -> &str {
    const PAIRS: [(char, char); 5] = [('(', ')'), ('{', '}'), ('[', ']'), ('<', '>'), ('`', '\'')];
    let mut levels: Vec<char> = Vec::new();
    // Token boundaries as byte ranges into `function`.
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, c) in function.char_indices() {
        if let Some(&(_, close)) = PAIRS.iter().find(|(o, _)| *o == c) {
            levels.push(close);
        } else if PAIRS.iter().any(|(_, cl)| *cl == c) {
            if levels.last() == Some(&c) {
                levels.pop();
            }
        } else if levels.is_empty() && c == ' ' {
            tokens.push((start, i));
            start = i + 1;
        }
    }
    if start < function.len() {
        tokens.push((start, function.len()));
    }
    // Join "name (args)" and "name(args) [clone .cold.1]" back together.
    while tokens.len() > 1 {
        let (s, e) = tokens[tokens.len() - 1];
        let last = &function[s..e];
        if !(last.starts_with('(') || last.starts_with("[clone")) {
            break;
        }
        let (prev_start, _) = tokens[tokens.len() - 2];
        tokens.truncate(tokens.len() - 2);
        tokens.push((prev_start, e));
    }
    tokens.last().map_or("", |&(s, e)| &function[s..e])
}

/// `utils.parse_source_file`: the file name inside a `vcs:root:path:rev` source file, a
/// Windows `c:\path`, or an absolute Unix path; `None` for anything else.
pub fn parse_source_file(source_file: &str) -> Option<&str> {
    if source_file.is_empty() {
        return None;
    }
    let parts: Vec<&str> = source_file.split(':').collect();
    match parts.len() {
        4 => Some(parts[2]),
        2 => Some(parts[1]),
        _ if source_file.starts_with('/') => Some(source_file),
        _ => None,
    }
}

/// `utils.strip_leading_zeros`: `0x0000000000032ec0` -> `0x32ec0` (Python's
/// `hex(int(text, 16))`); text that is not a hex number is returned unchanged.
pub fn strip_leading_zeros(text: &str) -> String {
    let t = text.trim();
    let (sign, t) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let digits = digits.strip_prefix('_').unwrap_or(digits);
    let valid = !digits.is_empty()
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    if !valid {
        return text.to_string();
    }
    let significant = digits.replace('_', "").trim_start_matches('0').to_ascii_lowercase();
    if significant.is_empty() {
        return "0x0".to_string();
    }
    format!("{sign}0x{significant}")
}

/// `utils.drop_bad_characters`: keeps printable ASCII (32..=126) only.
pub fn drop_bad_characters(text: &str) -> String {
    text.chars().filter(|c| (' '..='~').contains(c)).collect()
}

/// `rules.FILE_FUNCTION_TO_FUNCTION`: Rust 1.34 panic symbols that lack their module path
/// (bug #1544246), keyed by (source file, function).
const FILE_FUNCTION_TO_FUNCTION: [(&str, &str, &str); 9] = [
    ("src/liballoc/raw_vec.rs", "capacity_overflow", "alloc::raw_vec::capacity_overflow"),
    ("src/libcore/option.rs", "expect_failed", "core::option::expect_failed"),
    ("src/libcore/panicking.rs", "panic_bounds_check", "core::panicking::panic_bounds_check"),
    ("src/libcore/panicking.rs", "panic_fmt", "core::panicking::panic_fmt"),
    ("src/libcore/panicking.rs", "panic", "core::panicking::panic"),
    ("src/libcore/slice/mod.rs", "slice_index_order_fail", "core::slice::slice_index_order_fail"),
    ("src/libstd/panicking.rs", "begin_panic_fmt", "std::panicking::begin_panic_fmt"),
    ("src/libstd/panicking.rs", "continue_panic_fmt", "std::panicking::continue_panic_fmt"),
    ("src/libstd/panicking.rs", "rust_panic_with_hook", "std::panicking::rust_panic_with_hook"),
];

/// `rules.fix_missing_module`: the full path of a Rust 1.34 panic function, if it is one.
pub fn fix_missing_module(file: Option<&str>, function: Option<&str>) -> Option<&'static str> {
    let (file, function) = (parse_source_file(file?)?, function?);
    FILE_FUNCTION_TO_FUNCTION.iter().find(|(fl, fun, _)| *fl == file && *fun == function).map(|(_, _, fixed)| *fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> SigLists {
        // TestCSignatureTool.setup_config_c_sig_tool in upstream tests/test_rules.py
        SigLists::from_texts([("ig", "ignored1"), ("pr", "pre1\npre2"), ("si", "fnNeedNumber")], "sentinel").unwrap()
    }

    fn frame<'a>(module: Option<&'a str>, function: &'a str, file: &'a str, line: &str, offset: &'a str) -> Frame<'a> {
        Frame {
            module,
            function: Some(function),
            file: Some(file),
            line: Some(Cow::Owned(line.to_string())),
            offset: Some(offset),
            unloaded: None,
        }
    }

    // Upstream: test_rules.py TestCSignatureTool.test_normalize_frame
    #[test]
    fn normalize_frame_variations() {
        let s = lists();
        let cases = [
            (frame(Some("module"), "", "source/", "23", "0xfff"), "source#23"),
            (frame(Some("module"), "", "source\\", "23", "0xfff"), "source#23"),
            (frame(Some("module"), "", "/a/b/c/source", "23", "0xfff"), "source#23"),
            (frame(Some("module"), "", "\\a\\b\\c\\source", "23", "0xfff"), "source#23"),
            (frame(Some("module"), "", "\\a\\b\\c\\source", "", "0xfff"), "module"),
            (frame(Some("module"), "", "", "", "0xfff"), "module"),
            (
                frame(
                    Some("module"),
                    "expect_failed::h7f635057bfba806a",
                    "hg:hg.mozilla.org/a/b:servio/wrapper.rs:44444444444",
                    "23",
                    "0xfff",
                ),
                "expect_failed",
            ),
            (frame(Some("module]"), "", "\\a\\b\\c\\source", "", "0xfff"), "module"),
            (frame(Some("[module]"), "", "\\a\\b\\c\\source", "", "0xfff"), "module"),
            (frame(Some("[module"), "", "\\a\\b\\c\\source", "", "0xfff"), "module"),
            (frame(Some("[[[module]]"), "", "\\a\\b\\c\\source", "", "0xfff"), "module"),
        ];
        for (f, expected) in cases {
            assert_eq!(normalize_frame(&s, &f), expected, "{f:?}");
        }
    }

    // Upstream: test_normalize_frame, the unloaded-module cases
    #[test]
    fn unloaded_modules_name_the_frame() {
        let f = Frame { offset: Some("0x10"), unloaded: Some(Some("unmod")), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "(unloaded unmod)");
        let f = Frame { unloaded: Some(None), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "(unloaded None)");
    }

    #[test]
    fn offset_only_frames_lose_leading_zeros_and_empty_frames_are_empty() {
        let f = Frame { offset: Some("0x00007ffb12345678"), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "@0x7ffb12345678");
        assert_eq!(normalize_frame(&lists(), &Frame::default()), "");
    }

    // Upstream: test_rules.py TestCSignatureTool.test_normalize_cpp_function
    #[test]
    fn normalize_cpp_function_cases() {
        let s = lists();
        let cases = [
            ("fn", "fn"),
            ("fnNeedNumber", "fnNeedNumber:23"),
            ("f( *s)", "f"),
            ("f( &s)", "f"),
            ("f( *s , &n)", "f"),
            ("f3(s,t,u)", "f3"),
            ("operator()(s,t,u)", "operator()"),
            ("::(anonymous namespace)::f3(s,t,u)", "::(anonymous namespace)::f3"),
            (
                "mozilla::layers::D3D11YCbCrImage::GetAsSourceSurface()",
                "mozilla::layers::D3D11YCbCrImage::GetAsSourceSurface",
            ),
            (
                "mozilla::layers::BasicImageLayer::Paint(mozilla::gfx::DrawTarget*, mozilla::gfx::PointTyped<mozilla::gfx::UnknownUnits, float> const&, mozilla::layers::Layer*)",
                "mozilla::layers::BasicImageLayer::Paint",
            ),
            ("void nsDocumentViewer::DestroyPresShell()", "nsDocumentViewer::DestroyPresShell"),
            ("bool CCGraphBuilder::BuildGraph(class js::SliceBudget& const)", "CCGraphBuilder::BuildGraph"),
            ("f<3>(s,t,u)", "f<T>"),
            ("Alpha<Bravo<Charlie>, Delta>::Echo<Foxtrot>", "Alpha<T>::Echo<T>"),
            ("thread_start<unsigned int (__cdecl*)(void* __ptr64)>", "thread_start<T>"),
            (
                "class JSObject* DoCallback<JSObject*>(class JS::CallbackTracer*, class JSObject**, const char*)",
                "DoCallback<T>",
            ),
            ("JS::Heap<JSObject*>::operator JSObject* const &()", "JS::Heap<T>::operator JSObject* const&"),
            ("JSObject::allocKindForTenure const", "JSObject::allocKindForTenure"),
            (
                "mozilla::jni::GlobalRef<mozilla::jni::Object>::operator=(mozilla::jni::Ref<mozilla::jni::Object, _jobject*> const&)&",
                "mozilla::jni::GlobalRef<T>::operator=",
            ),
            ("`anonymous namespace'::foo", "(anonymous namespace)::foo"),
            ("(anonymous namespace)::foo", "(anonymous namespace)::foo"),
            ("mozilla::Maybe<unsigned long>::value() const &", "mozilla::Maybe<T>::value"),
            ("ShutdownWorkThreads::$_52::__invoke", "ShutdownWorkThreads::$::__invoke"),
            // Templates whose argument is a module: "<unknown in foo.dll>" (bug #1685178)
            ("<unknown in libxul.so>", "<unknown in libxul.so>"),
            ("nsXPConnect::InitStatics() [clone .cold.638]", "nsXPConnect::InitStatics "),
            (
                "IPC::ParamTraits<nsTSubstring<char> >::Write(IPC::Message *,nsTSubstring<char> const &)",
                "IPC::ParamTraits<nsTSubstring<T> >::Write",
            ),
        ];
        for (function, expected) in cases {
            assert_eq!(normalize_cpp_function(&s, function, Some("23")), expected, "{function}");
        }
    }

    // Upstream: test_rules.py TestCSignatureTool.test_normalize_rust_function
    #[test]
    fn normalize_rust_function_cases() {
        let s = lists();
        let cases = [
            ("expect_failed::h7f635057bfba806a", "expect_failed"),
            ("expect_failed::h7f6350::blah", "expect_failed::h7f6350::blah"),
            (
                "static void servo_arc::Arc<style::gecko_properties::ComputedValues>::drop_slow<style::gecko_properties::ComputedValues>()",
                "servo_arc::Arc<T>::drop_slow<T>",
            ),
            (
                "static void core::ptr::drop_in_place<style::stylist::CascadeData>(struct style::stylist::CascadeData*)",
                "core::ptr::drop_in_place<T>",
            ),
            (
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
            ),
            ("core::ptr::drop_in_place<alloc::vec::Vec<u8>>::h0123456789abcdef", "core::ptr::drop_in_place<T>"),
        ];
        for (function, expected) in cases {
            assert_eq!(normalize_rust_function(&s, function, Some("23")), expected, "{function}");
        }
    }

    // Upstream: test_utils.py test_collapse
    #[test]
    fn collapse_cases() {
        let cases = [
            ("", ""),
            ("HeapFree", "HeapFree"),
            ("Foo<bar>", "Foo<T>"),
            ("<bar>Foo", "<T>Foo"),
            ("<bar>", "<T>"),
            ("Foo<bar", "Foo<T>"),
            ("Foo<bar <baz> >", "Foo<T>"),
            ("Foo<bar<baz>", "Foo<T>"),
            ("CLayeredObjectWithCLS<CCryptoSession>::Release()", "CLayeredObjectWithCLS<T>::Release()"),
            ("core::ptr::drop_in_place<style::stylist::CascadeData>", "core::ptr::drop_in_place<T>"),
            (
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
            ),
            ("<name omitted>", "<name omitted>"),
            (
                "IPC::ParamTraits<nsTSubstring<char> >::Write(IPC::Message *,nsTSubstring<char> const &)",
                "IPC::ParamTraits<nsTSubstring<T> >::Write(IPC::Message *,nsTSubstring<T> const &)",
            ),
        ];
        for (function, expected) in cases {
            assert_eq!(collapse(function, '<', '>', "<T>", &["name omitted", "IPC::ParamTraits", " as "]), expected);
        }
    }

    // Upstream: test_utils.py test_drop_prefix_and_return_type
    #[test]
    fn drop_prefix_and_return_type_cases() {
        let cases = [
            ("`anonymous namespace'::xClose", "`anonymous namespace'::xClose"),
            (
                "bool CCGraphBuilder::BuildGraph(class js::SliceBudget & const)",
                "CCGraphBuilder::BuildGraph(class js::SliceBudget & const)",
            ),
            (
                "int nsHtml5Tokenizer::stateLoop<nsHtml5SilentPolicy>(int, char16_t, int, char16_t*, bool, int, int)",
                "nsHtml5Tokenizer::stateLoop<nsHtml5SilentPolicy>(int, char16_t, int, char16_t*, bool, int, int)",
            ),
            (
                "js::Shape* js::Allocate<js::Shape, (js::AllowGC)1>(JSContext*)",
                "js::Allocate<js::Shape, (js::AllowGC)1>(JSContext*)",
            ),
            (
                "static `anonymous-namespace'::reflectStatus `anonymous namespace'::internal_ReflectHistogramAndSamples(struct JSContext *, class JS::Handle<JSObject *>, class base::Histogram *, const class base::Histogram::SampleSet & const)",
                "`anonymous namespace'::internal_ReflectHistogramAndSamples(struct JSContext *, class JS::Handle<JSObject *>, class base::Histogram *, const class base::Histogram::SampleSet & const)",
            ),
            (
                "static class js::HashSet<js::Shape *,js::ShapeHasher,js::SystemAllocPolicy> * HashChildren(class js::Shape *, class js::Shape *)",
                "HashChildren(class js::Shape *, class js::Shape *)",
            ),
            ("static const class SkTMaskGamma<3,3,3> & const cached_mask_gamma(float, float, float)", "cached_mask_gamma(float, float, float)"),
            ("static unsigned int pr_root(void *)", "pr_root(void *)"),
            ("static void * Allocator<MozJemallocBase>::malloc(unsigned __int64)", "Allocator<MozJemallocBase>::malloc(unsigned __int64)"),
            ("void mozilla::layers::MLGDeviceD3D11::~MLGDeviceD3D11()", "mozilla::layers::MLGDeviceD3D11::~MLGDeviceD3D11()"),
            (
                "static <NoType> std::panicking::begin_panic<str*>(struct str*, struct (str*, u32, u32) *)",
                "std::panicking::begin_panic<str*>(struct str*, struct (str*, u32, u32) *)",
            ),
            (
                "static struct atomic_refcell::AtomicRefMut<style::data::ElementData> style::gecko::wrapper::{{impl}}::ensure_data(struct style::gecko::wrapper::GeckoElement *)",
                "style::gecko::wrapper::{{impl}}::ensure_data(struct style::gecko::wrapper::GeckoElement *)",
            ),
            ("static void core::option::expect_failed()", "core::option::expect_failed()"),
            (
                "[thunk]:CShellItem::QueryInterface`adjustor{12}' (_GUID const&, void**)",
                "[thunk]:CShellItem::QueryInterface`adjustor{12}' (_GUID const&, void**)",
            ),
            ("nsXPConnect::InitStatics() [clone .cold.638]", "nsXPConnect::InitStatics() [clone .cold.638]"),
            (
                "js::AssertObjectIsSavedFrameOrWrapper(JSContext*, JS::Handle<JSObject*>) [clone .isra.234] [clone .cold.687]",
                "js::AssertObjectIsSavedFrameOrWrapper(JSContext*, JS::Handle<JSObject*>) [clone .isra.234] [clone .cold.687]",
            ),
            (
                "(anonymous namespace)::EnqueueTask(already_AddRefed<nsIRunnable>, int)",
                "(anonymous namespace)::EnqueueTask(already_AddRefed<nsIRunnable>, int)",
            ),
        ];
        for (function, expected) in cases {
            assert_eq!(drop_prefix_and_return_type(function), expected, "{function}");
        }
    }

    // Upstream: test_utils.py test_parse_source_file
    #[test]
    fn parse_source_file_cases() {
        let cases = [
            (
                "hg:hg.mozilla.org/releases/mozilla-release:js/src/vm/JSFunction.cpp:7d280b7e277b82ef282325fefb601c10698e075b",
                Some("js/src/vm/JSFunction.cpp"),
            ),
            (
                "git:github.com/rust-lang/rust:src/libcore/cmp.rs:4d90ac38c0b61bb69470b61ea2cccea0df48d9e5",
                Some("src/libcore/cmp.rs"),
            ),
            ("f:\\dd\\vctools\\crt\\crtw32\\mbstring\\mbsnbico.c", Some("\\dd\\vctools\\crt\\crtw32\\mbstring\\mbsnbico.c")),
            ("/build/firefox/memory/mozjemalloc/jemalloc.c", Some("/build/firefox/memory/mozjemalloc/jemalloc.c")),
            ("relative/file.c", None),
            ("", None),
        ];
        for (file, expected) in cases {
            assert_eq!(parse_source_file(file), expected, "{file}");
        }
    }

    // Upstream: test_utils.py test_drop_bad_characters
    #[test]
    fn drop_bad_characters_cases() {
        assert_eq!(drop_bad_characters("123"), "123");
        assert_eq!(drop_bad_characters("1\u{18a}23"), "123");
        assert_eq!(drop_bad_characters("\r\n\t1 23"), "1 23");
        assert_eq!(drop_bad_characters("\0\x081 23"), "1 23");
    }

    #[test]
    fn strip_leading_zeros_cases() {
        assert_eq!(strip_leading_zeros("0x0000000000032ec0"), "0x32ec0");
        assert_eq!(strip_leading_zeros("0x00000000"), "0x0");
        assert_eq!(strip_leading_zeros("0xFFF"), "0xfff");
        assert_eq!(strip_leading_zeros("FFF"), "0xfff");
        assert_eq!(strip_leading_zeros("junk"), "junk");
        assert_eq!(strip_leading_zeros(""), "");
    }

    // Upstream: test_rules.py test_fix_missing_module
    #[test]
    fn fix_missing_module_cases() {
        assert_eq!(fix_missing_module(None, None), None);
        assert_eq!(fix_missing_module(None, Some("panic")), None);
        let file = "git:github.com/rust-lang/rust:src/libstd/panicking.rs:91856ed52c58aa5ba66a015354d1cc69e9779bdf";
        assert_eq!(fix_missing_module(Some(file), Some("begin_panic_fmt")), Some("std::panicking::begin_panic_fmt"));
    }
}
