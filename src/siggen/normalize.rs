//! Frame normalization: a port of socorro-siggen's `CSignatureTool.normalize_frame` (C++ and
//! Rust function cleanup, `file#line`, `module@offset`, `@offset`, unloaded modules) and the
//! helpers from its `utils.py` (`collapse_types`, `collapse_arguments`,
//! `drop_prefix_and_return_type`, `parse_source_file`, `strip_leading_zeros`,
//! `drop_bad_characters`).

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
    pub line: Option<String>,
    pub module_offset: Option<&'a str>,
    pub offset: Option<&'a str>,
    /// `(module, first offset)` of the first unloaded module the address falls in.
    pub unloaded: Option<(&'a str, Option<&'a str>)>,
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
    if truthy(frame.module).is_none() && truthy(frame.module_offset).is_none() {
        if let Some((module, offset)) = frame.unloaded.filter(|(m, _)| !m.is_empty()) {
            return match offset {
                Some(o) => format!("(unloaded {module}@{})", strip_leading_zeros(o)),
                None => format!("(unloaded {module})"),
            };
        }
        if let Some(offset) = truthy(frame.offset) {
            return format!("@{}", strip_leading_zeros(offset));
        }
    }
    // Python formats a missing module offset as "None"; kept for identical signatures.
    let module_offset = frame.module_offset.map_or_else(|| "None".to_string(), strip_leading_zeros);
    format!("{}@{module_offset}", frame.module.unwrap_or(""))
}

static FIXUP_LAMBDA_NUMBERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"::\$_\d+::").unwrap());
static FIXUP_HASH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"::h[0-9a-fA-F]+$").unwrap());

/// `CSignatureTool.normalize_cpp_function`.
pub fn normalize_cpp_function(lists: &SigLists, function: &str, line: Option<&str>) -> String {
    // Drop member function cv/ref qualifiers like const, const&, &, and &&.
    let mut f = function;
    for qualifier in ["const", "const&", "&&", "&"] {
        if let Some(stripped) = f.strip_suffix(qualifier) {
            f = stripped.trim();
        }
    }
    // Operator overloading syntax does not have a prefix or return type: leave it.
    let f = if f.contains("::operator") { f } else { drop_prefix_and_return_type(f) };
    // bug #1672847, bug #1688249
    let f = f.replace("`anonymous namespace'", "(anonymous namespace)");
    let f = FIXUP_LAMBDA_NUMBERS.replace_all(&f, "::$$::");
    let f = collapse_arguments(&collapse_types(&f));
    // Remove PGO cold block labels like "[clone .cold.222]". bug #1397926
    let f = if f.contains("clone .cold") { replace_enclosed_slices(&f, '[', ']', |_, _| String::new()) } else { f };
    finish_function(lists, f, line)
}

/// `CSignatureTool.normalize_rust_function`.
pub fn normalize_rust_function(lists: &SigLists, function: &str, line: Option<&str>) -> String {
    let f = collapse_arguments(&collapse_types(drop_prefix_and_return_type(function)));
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

/// `utils.find_enclosed_slices` + `replace_enclosed_slices`: replaces each top-level
/// `open ... close` slice (an unclosed one runs to the end) by `replace(before, inside)`, where
/// `before` is the text since the previous slice.
pub fn replace_enclosed_slices(s: &str, open: char, close: char, replace: impl Fn(&str, &str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut level, mut start, mut prev_end) = (0usize, 0usize, 0usize);
    let emit = |start: usize, end: usize, prev_end: &mut usize, out: &mut String| {
        let before = &s[*prev_end..start];
        out.push_str(before);
        out.push_str(&replace(before, &s[start..end]));
        *prev_end = end;
    };
    for (i, c) in s.char_indices() {
        if c == open {
            if level == 0 {
                start = i;
            }
            level += 1;
        } else if c == close && level > 0 {
            level -= 1;
            if level == 0 {
                emit(start, i + c.len_utf8(), &mut prev_end, &mut out);
            }
        }
    }
    if level > 0 {
        emit(start, s.len(), &mut prev_end, &mut out);
    }
    out.push_str(&s[prev_end..]);
    out
}

/// `utils.collapse_types`: template/generic arguments become `<T>`, except `<name omitted>`,
/// trait paths (`<A as B>`), `<unknown in foo.dll>` (bug #1685178), and the argument of
/// `IPC::ParamTraits<...>`, which is collapsed recursively.
pub fn collapse_types(f: &str) -> String {
    replace_enclosed_slices(f, '<', '>', |before, inside| {
        if inside == "<name omitted>" || inside.contains(" as ") || inside.contains(" in ") {
            inside.to_string()
        } else if before.ends_with("IPC::ParamTraits") {
            let inner = inside.get(1..inside.len().saturating_sub(1)).unwrap_or("");
            format!("<{}>", collapse_types(inner))
        } else {
            "<T>".to_string()
        }
    })
}

/// `utils.collapse_arguments`: argument lists are dropped, except `(anonymous namespace)` and
/// the parentheses of `operator()`.
pub fn collapse_arguments(f: &str) -> String {
    replace_enclosed_slices(f, '(', ')', |before, inside| {
        if inside == "(anonymous namespace)" || before.ends_with("operator") {
            inside.to_string()
        } else {
            String::new()
        }
    })
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
            line: Some(line.to_string()),
            module_offset: Some(offset).filter(|o| !o.is_empty() && module.is_some()),
            offset: Some(offset),
            unloaded: None,
        }
    }

    // Upstream: test_rules.py TestCSignatureTool.test_normalize_frame (offsets now go through
    // strip_leading_zeros, so 0xFFF is printed 0xfff as current siggen does).
    #[test]
    fn normalize_frame_variations() {
        let s = lists();
        let cases = [
            (frame(Some("module"), "", "source/", "23", "0xFFF"), "source#23"),
            (frame(Some("module"), "", "source\\", "23", "0xFFF"), "source#23"),
            (frame(Some("module"), "", "/a/b/c/source", "23", "0xFFF"), "source#23"),
            (frame(Some("module"), "", "\\a\\b\\c\\source", "23", "0xFFF"), "source#23"),
            (frame(Some("module"), "", "\\a\\b\\c\\source", "", "0xFFF"), "module@0xfff"),
            (frame(Some("module"), "", "", "23", "0xFFF"), "module@0xfff"),
            (frame(Some("module"), "", "", "", "0xFFF"), "module@0xfff"),
            (frame(None, "", "", "", "0xFFF"), "@0xfff"),
            (
                frame(
                    Some("module"),
                    "expect_failed::h7f635057bfba806a",
                    "hg:hg.mozilla.org/a/b:servio/wrapper.rs:44444444444",
                    "23",
                    "0xFFF",
                ),
                "expect_failed",
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(normalize_frame(&s, &f), expected, "{f:?}");
        }
    }

    #[test]
    fn module_offsets_lose_their_leading_zeros() {
        let f = Frame { module: Some("xul.dll"), module_offset: Some("0x0000000000032ec0"), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "xul.dll@0x32ec0");
        let f = Frame { offset: Some("0x00007ffb12345678"), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "@0x7ffb12345678");
    }

    #[test]
    fn unloaded_modules_name_the_frame() {
        let f = Frame { offset: Some("0x10"), unloaded: Some(("gone.dll", Some("0x00000abc"))), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "(unloaded gone.dll@0xabc)");
        let f = Frame { offset: Some("0x10"), unloaded: Some(("gone.dll", None)), ..Frame::default() };
        assert_eq!(normalize_frame(&lists(), &f), "(unloaded gone.dll)");
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

    // Upstream: test_utils.py test_collapse (types; the exceptions of the current siggen)
    #[test]
    fn collapse_types_cases() {
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
            assert_eq!(collapse_types(function), expected, "{function}");
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
