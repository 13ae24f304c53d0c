//! Socorro's signature lists: loading a folder of list files, translating their Python regular
//! expressions to the `regex` crate, compiling each list once, and the built-in default.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use regex::{Regex, RegexBuilder};

/// File names of the four lists, as in socorro-siggen's `siglists/` folder.
pub const IRRELEVANT_FILE: &str = "irrelevant_signature_re.txt";
pub const PREFIX_FILE: &str = "prefix_signature_re.txt";
pub const LINE_NUMBERS_FILE: &str = "signatures_with_line_numbers_re.txt";
pub const SENTINELS_FILE: &str = "signature_sentinels.txt";

/// One list of regular expressions, compiled into a single anchored `Regex`
/// (`^(?:line1|line2|...)`), which is what Python's `re.compile("|".join(lines)).match()` does.
///
/// An empty list matches nothing (upstream would compile `""`, which matches every frame; that
/// is an accident of `"|".join([])`, not a feature, so we do not copy it).
#[derive(Clone)]
pub struct RegexList {
    regex: Option<Regex>,
    len: usize,
}

impl RegexList {
    /// Whether `s` matches one of the expressions at its start (Python's `re.match`).
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(s))
    }

    /// Number of expressions in the list.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Compiles the entries of `file` (already stripped of comments and blank lines). A bad
    /// expression is reported with the file name and the line number it came from.
    fn compile(file: &str, entries: &[(usize, String)]) -> anyhow::Result<RegexList> {
        if entries.is_empty() {
            return Ok(RegexList { regex: None, len: 0 });
        }
        let translated: Vec<String> = entries.iter().map(|(_, e)| python_to_rust_regex(e)).collect();
        let combined = format!("^(?:{})", translated.join("|"));
        // A bigger lazy-DFA cache than the default: the lists have hundreds of alternatives
        // and are matched against every frame of every crash of a run.
        match RegexBuilder::new(&combined).dfa_size_limit(8 << 20).build() {
            Ok(regex) => Ok(RegexList { regex: Some(regex), len: entries.len() }),
            Err(err) => Err(Self::find_bad_line(file, entries, &translated)
                .unwrap_or_else(|| anyhow::anyhow!("{file}: the combined regular expression does not compile: {err}"))),
        }
    }

    /// Finds the first entry that does not compile on its own (only called on failure).
    fn find_bad_line(file: &str, entries: &[(usize, String)], translated: &[String]) -> Option<anyhow::Error> {
        entries.iter().zip(translated).find_map(|((line, raw), t)| {
            Regex::new(&format!("^(?:{t})"))
                .err()
                .map(|err| anyhow::anyhow!("{file}:{line}: bad regular expression {raw:?}: {err}"))
        })
    }
}

impl fmt::Debug for RegexList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexList").field("len", &self.len).finish()
    }
}

/// Socorro's signature lists, compiled once and shared by every signature generated in a run.
#[derive(Debug, Clone)]
pub struct SigLists {
    /// Frames skipped while walking the stack (`irrelevant_signature_re.txt`).
    pub irrelevant: RegexList,
    /// Frames that do not identify a crash on their own (`prefix_signature_re.txt`).
    pub prefix: RegexList,
    /// Functions that get `:<line>` appended (`signatures_with_line_numbers_re.txt`).
    pub line_numbers: RegexList,
    /// Frames the signature starts from when present (`signature_sentinels.txt`, exact names).
    pub sentinels: HashSet<String>,
    /// Where the lists came from (`None` for the built-in default), for debug notes.
    pub source: Option<PathBuf>,
}

impl Default for SigLists {
    fn default() -> SigLists {
        SigLists::builtin()
    }
}

/// The built-in default lists, in the same file format (see `docs/signatures.md`). They are
/// deliberately small and generic (C runtime, panics, thread entry points, unsymbolized
/// addresses); production use should load Mozilla's lists with `--siglists DIR`.
pub const BUILTIN_IRRELEVANT: &str = r"# built-in irrelevant frames
@0x[0-9a-fA-F]{2,}
@0x[1-9a-fA-F]
__aeabi_
_?abort$
__GI_abort
__GI_raise
raise$
__pthread_kill
pthread_kill
__kernel_vsyscall
_chkstk
__chkstk
BaseThreadInitThunk
RtlUserThreadStart
_RtlUserThreadStart
KiUserExceptionDispatcher
KiFastSystemCallRet
NtWaitForSingleObject
NtWaitForMultipleObjects
ZwWaitForSingleObject
WaitForSingleObject
WaitForMultipleObjects
RaiseException
_CxxThrowException
__cxa_throw
__cxa_rethrow
std::terminate
core::panicking::
core::result::unwrap_failed
core::option::expect_failed
core::ptr::drop_in_place
std::panicking::
std::panic::
std::rt::
rust_panic
rust_begin_unwind
__rust_start_panic
__rust_alloc_error_handler
MOZ_Crash
MOZ_CrashPrintf
mozalloc_abort
libc\.so
libpthread\.so
libsystem_kernel\.dylib
libsystem_pthread\.dylib
libsystem_c\.dylib
ntdll\.dll
kernel32\.dll
kernelbase\.dll
KERNELBASE\.dll
ucrtbase\.dll
";

/// Built-in prefix frames (see [`BUILTIN_IRRELEVANT`]).
pub const BUILTIN_PREFIX: &str = r"# built-in prefix frames
@0x0
Abort
.*abort
.*alloc_impl
.*calloc
.*malloc
.*realloc
free$
_?free_base
operator new
operator delete
moz_x
mozalloc_handle_oom
alloc::alloc::
alloc::raw_vec::
memcmp
memcpy
memmove
memset
strcmp
strcpy
strlen
strncmp
strncpy
wcslen
wcscmp
RtlEnterCriticalSection
RtlpWaitOnCriticalSection
EnterCriticalSection
pthread_mutex_lock
pthread_cond_wait
";

/// Built-in functions whose line number joins the frame (none by default).
pub const BUILTIN_LINE_NUMBERS: &str = "# built-in: functions that get :<line> appended (none)\n";

/// Built-in sentinels (exact frame names).
pub const BUILTIN_SENTINELS: &str = r"# built-in sentinels
_purecall
__assert_fail
__GI___assert_fail
core::panicking::panic
core::panicking::panic_fmt
core::panicking::panic_bounds_check
std::panicking::begin_panic
std::panicking::begin_panic<T>
std::panicking::begin_panic_fmt
alloc::alloc::handle_alloc_error
";

impl SigLists {
    /// Loads a folder of lists in Socorro's format: `irrelevant_signature_re.txt`,
    /// `prefix_signature_re.txt`, `signatures_with_line_numbers_re.txt` (regular expressions in
    /// Python syntax, matched at the start of a frame) and `signature_sentinels.txt` (exact frame
    /// names); one entry a line, blank lines and lines starting with `#` ignored. All four files
    /// must exist. Errors name the file (and the line for a bad regular expression).
    pub fn load(dir: &Path) -> anyhow::Result<SigLists> {
        let read = |name: &str| -> anyhow::Result<(String, String)> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read signature list {}", path.display()))?;
            Ok((path.display().to_string(), text))
        };
        let (irr_name, irr) = read(IRRELEVANT_FILE)?;
        let (pre_name, pre) = read(PREFIX_FILE)?;
        let (lin_name, lin) = read(LINE_NUMBERS_FILE)?;
        let (_, sen) = read(SENTINELS_FILE)?;
        let mut lists = SigLists::from_texts([(&irr_name, &irr), (&pre_name, &pre), (&lin_name, &lin)], &sen)?;
        lists.source = Some(dir.to_path_buf());
        Ok(lists)
    }

    /// The documented built-in default, used without `--siglists` (see `docs/signatures.md`).
    pub fn builtin() -> SigLists {
        let lists = [
            ("builtin:irrelevant", BUILTIN_IRRELEVANT),
            ("builtin:prefix", BUILTIN_PREFIX),
            ("builtin:line_numbers", BUILTIN_LINE_NUMBERS),
        ];
        SigLists::from_texts(lists, BUILTIN_SENTINELS).expect("built-in signature lists compile")
    }

    /// Builds lists from in-memory texts in the list file format: `(name, text)` for the
    /// irrelevant, prefix and line-number lists, then the sentinels text.
    pub fn from_texts<N: AsRef<str>, T: AsRef<str>>(
        regex_lists: [(N, T); 3],
        sentinels: &str,
    ) -> anyhow::Result<SigLists> {
        let [irr, pre, lin] = regex_lists.map(|(name, text)| {
            let name = name.as_ref();
            RegexList::compile(name, &entries(text.as_ref()))
        });
        Ok(SigLists {
            irrelevant: irr?,
            prefix: pre?,
            line_numbers: lin?,
            sentinels: entries(sentinels).into_iter().map(|(_, e)| e).collect(),
            source: None,
        })
    }
}

/// The entries of a list file with their 1-based line numbers: each line stripped of
/// surrounding white space, blank lines and `#` comments dropped (as socorro-siggen does).
pub fn entries(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i, l.to_string()))
        .collect()
}

/// Translates the few Python `re` constructs the `regex` crate reads differently:
/// - a `{` or `}` that is not part of a `{m}`, `{m,}`, `{m,n}` or `{,n}` repetition is a literal
///   in Python (e.g. `{{closure}}`, `{virtual override thunk}`) but an error in `regex`;
/// - `\<` and `\>` are literal angle brackets in Python (`\<name omitted\>`) but word
///   boundaries in `regex`;
/// - `\Z` (end of text) is `\z` in `regex`;
/// - inside a class, `[`, `&&` and `~~` are literal in Python but set syntax in `regex`.
pub fn python_to_rust_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let (mut i, mut in_class) = (0, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                match chars.get(i + 1) {
                    // Python: literal `<`/`>`; `regex`: word-boundary assertions.
                    Some(&n @ ('<' | '>')) => out.push(n),
                    // Python's end of text is `\Z`, the `regex` crate's `\z`.
                    Some('Z') => out.push_str("\\z"),
                    Some(&n) => {
                        out.push(c);
                        out.push(n);
                    }
                    None => out.push(c),
                }
                i += 1;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal in both dialects.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class => match repetition_len(&chars[i..]) {
                Some(n) => {
                    out.extend(&chars[i..i + n]);
                    i += n - 1;
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            '[' | '&' | '~' if in_class => {
                // Class-set syntax in the `regex` crate (nested classes, `&&`, `~~`); literal in
                // Python.
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Length of a repetition quantifier `{m}`, `{m,}`, `{m,n}` or `{,n}` at the start of `s`.
fn repetition_len(s: &[char]) -> Option<usize> {
    let close = s.iter().position(|&c| c == '}')?;
    let inner: String = s[1..close].iter().collect();
    let (a, b) = match inner.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (inner.as_str(), None),
    };
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    let ok = match b {
        None => !a.is_empty() && digits(a),
        Some(b) => digits(a) && digits(b) && !(a.is_empty() && b.is_empty()),
    };
    ok.then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_skip_comments_and_blank_lines_and_keep_line_numbers() {
        let text = "# comment\n\n  foo  \n#bar\nbaz\n";
        assert_eq!(entries(text), vec![(3, "foo".to_string()), (5, "baz".to_string())]);
    }

    #[test]
    fn python_braces_that_are_not_repetitions_become_literals() {
        assert_eq!(python_to_rust_regex("@0x[0-9a-fA-F]{2,}"), "@0x[0-9a-fA-F]{2,}");
        assert_eq!(python_to_rust_regex("a{3}"), "a{3}");
        assert_eq!(python_to_rust_regex("log::{{closure}}"), "log::\\{\\{closure\\}\\}");
        assert_eq!(python_to_rust_regex("{virtual override thunk}"), "\\{virtual override thunk\\}");
        assert_eq!(python_to_rust_regex(r"core::result::impl\$"), r"core::result::impl\$");
        assert_eq!(python_to_rust_regex(r"\<name omitted\>"), "<name omitted>");
        assert_eq!(python_to_rust_regex(r"a\Z"), r"a\z");
        assert_eq!(python_to_rust_regex(r"[[&~]"), r"[\[\&\~]");
        let re =
            Regex::new(&format!("^(?:{})", python_to_rust_regex("<env_logger::Logger as log::Log>::log::{{closure}}")))
                .unwrap();
        assert!(re.is_match("<env_logger::Logger as log::Log>::log::{{closure}}"));
    }

    #[test]
    fn lists_match_at_the_start_only() {
        let lists = SigLists::from_texts(
            [("irr", "ignored1\nfoo.*bar"), ("pre", "pre1\npre2"), ("lin", "fnNeedNumber")],
            "sentinel\n",
        )
        .unwrap();
        assert!(lists.irrelevant.is_match("ignored1 and more"));
        assert!(lists.irrelevant.is_match("fooXXbar"));
        assert!(!lists.irrelevant.is_match("x ignored1"));
        assert!(lists.prefix.is_match("pre2"));
        assert!(lists.sentinels.contains("sentinel"));
        assert_eq!(lists.irrelevant.len(), 2);
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        let lists = SigLists::from_texts([("i", "# nothing"), ("p", ""), ("l", "")], "").unwrap();
        assert!(!lists.irrelevant.is_match("anything"));
        assert!(lists.prefix.is_empty());
    }

    #[test]
    fn a_bad_regex_is_reported_with_file_and_line() {
        let err = SigLists::from_texts([("irrelevant.txt", "# c\ngood\nbad(\n"), ("p", "x"), ("l", "y")], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("irrelevant.txt:3"), "{err}");
        assert!(err.contains("bad("), "{err}");
    }

    #[test]
    fn load_reports_a_missing_file_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", SigLists::load(dir.path()).unwrap_err());
        assert!(err.contains(IRRELEVANT_FILE), "{err}");
    }

    #[test]
    fn load_reads_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IRRELEVANT_FILE), "a\n").unwrap();
        std::fs::write(dir.path().join(PREFIX_FILE), "b\n").unwrap();
        std::fs::write(dir.path().join(LINE_NUMBERS_FILE), "c\n").unwrap();
        std::fs::write(dir.path().join(SENTINELS_FILE), "# s\nd\n").unwrap();
        let lists = SigLists::load(dir.path()).unwrap();
        assert!(lists.irrelevant.is_match("a"));
        assert!(lists.sentinels.contains("d"));
        assert_eq!(lists.source.as_deref(), Some(dir.path()));
    }

    #[test]
    fn builtin_lists_compile() {
        let lists = SigLists::builtin();
        assert!(lists.irrelevant.is_match("RtlUserThreadStart"));
        assert!(lists.prefix.is_match("memcpy"));
        assert!(lists.sentinels.contains("_purecall"));
        assert!(lists.source.is_none());
    }
}
