//! The Java signature tools: ports of socorro-siggen's `JavaSignatureTool` (from the
//! `JavaStackTrace` text: exception class, description with `@<addr>`, and the first frame
//! without its line number) and `JavaExceptionSignatureTool` (from the structured
//! `JavaException`: class and first frame).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::py::{py_str, py_truthy};

/// Longer Java signatures drop the exception description.
const DESCRIPTION_MAX_LENGTH: usize = 255;

static LINE_NUMBER_KILLER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\.java:\d+\)$").unwrap());
static HEX_ADDR_KILLER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"@[0-9a-f]{8}").unwrap());

/// `(signature, notes)` for a `JavaStackTrace` annotation; `None` means "not a string".
pub fn generate(source: Option<&str>, delimiter: &str) -> (String, Vec<String>) {
    let bad_format = || {
        let note = "JavaSignatureTool: stack trace not in expected format".to_string();
        ("EMPTY: Java stack trace not in expected format".to_string(), vec![note])
    };
    let Some(source) = source else { return bad_format() };
    let lines: Vec<&str> = python_splitlines(source).into_iter().map(str::trim).collect();
    let Some(first) = lines.first() else { return bad_format() };
    let mut notes = Vec::new();

    let (class, description) = match first.split_once(':') {
        Some((class, description)) => {
            (class.trim(), HEX_ADDR_KILLER.replace_all(description, "@<addr>").trim().to_string())
        }
        None => {
            notes.push("JavaSignatureTool: stack trace line 1 is not in the expected format".to_string());
            (*first, String::new())
        }
    };
    let method = match lines.get(1) {
        Some(line) => {
            let method = LINE_NUMBER_KILLER.replace(line, ".java)").into_owned();
            if method.is_empty() {
                notes.push("JavaSignatureTool: stack trace line 2 is empty".to_string());
            }
            method
        }
        None => {
            notes.push("JavaSignatureTool: stack trace line 2 is missing".to_string());
            String::new()
        }
    };

    // Upstream keeps a historical quirk (bug 865142): the colon between description and method
    // only appears when the description ends with "<addr>".
    let signature = if description.ends_with("<addr>") {
        join_ignore_empty(delimiter, &[class, &description, &method])
    } else {
        let phrase = join_ignore_empty(" ", &[&description, &method]);
        join_ignore_empty(delimiter, &[class, &phrase])
    };
    if signature.chars().count() > DESCRIPTION_MAX_LENGTH {
        notes.push("JavaSignatureTool: dropped Java exception description due to length".to_string());
        return ([class, method.as_str()].join(delimiter), notes);
    }
    (signature, notes)
}

/// `JavaExceptionSignatureTool.generate`: `<module>.<type>: at <first frame>` from the
/// structured `JavaException` (`exception.values[0].stacktrace`). `Err` is an error upstream does
/// not catch (the rule fails).
pub fn generate_from_exception(source: &Value) -> Result<(String, Vec<String>), String> {
    let bad_format = || {
        let note = "JavaExceptionSignatureTool: value not in expected format".to_string();
        Ok(("EMPTY: Java exception not in expected format".to_string(), vec![note]))
    };
    if !source.is_object() {
        return bad_format();
    }
    let stacktrace = source.pointer("/exception/values/0/stacktrace");
    let Some(stacktrace) = stacktrace.filter(|s| py_truthy(s)) else { return bad_format() };
    let stacktrace = stacktrace.as_object().ok_or("'stacktrace' object has no attribute 'get'")?;
    let module = stacktrace.get("module").filter(|m| py_truthy(m));
    let unknown = Value::String("Unknown".to_string());
    let exc_type = stacktrace.get("type").unwrap_or(&unknown);
    let class = match module {
        Some(m) if py_truthy(exc_type) => format!("{}.{}", py_str(m), py_str(exc_type)),
        _ => py_str(exc_type),
    };
    let first = stacktrace.get("frames").and_then(Value::as_array).and_then(|f| f.first());
    let signature = match first {
        Some(frame) => format!("{class}: at {}", normalize_exception_frame(frame)),
        None => class,
    };
    Ok((signature, Vec::new()))
}

/// `JavaExceptionSignatureTool.normalize_frame`: `module.function(filename)`.
pub fn normalize_exception_frame(frame: &Value) -> String {
    let field = |k: &str| frame.get(k).filter(|v| py_truthy(v)).map(py_str);
    let name = match (field("module"), field("function")) {
        (Some(m), Some(f)) => format!("{m}.{f}"),
        (Some(m), None) => m,
        (None, Some(f)) => f,
        (None, None) => String::new(),
    };
    match field("filename") {
        Some(file) if !name.is_empty() => format!("{name}({file})"),
        _ if !name.is_empty() => name,
        _ => "unknown".to_string(),
    }
}

fn join_ignore_empty(delimiter: &str, parts: &[&str]) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(delimiter)
}

/// Python's `str.splitlines()`: splits on every line boundary Python knows, no trailing empty
/// line.
pub fn python_splitlines(s: &str) -> Vec<&str> {
    let is_break =
        |c: char| matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !is_break(c) {
            continue;
        }
        out.push(&s[start..i]);
        start = i + c.len_utf8();
        if c == '\r' && iter.peek().map(|&(_, n)| n) == Some('\n') {
            iter.next();
            start += 1;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn java(trace: &str, delimiter: &str) -> (String, Vec<String>) {
        generate(Some(trace), delimiter)
    }

    // Upstream: TestJavaSignatureTool.test_bad_stack
    #[test]
    fn bad_stack() {
        let (sig, notes) = generate(None, ": ");
        assert_eq!(sig, "EMPTY: Java stack trace not in expected format");
        assert_eq!(notes, ["JavaSignatureTool: stack trace not in expected format"]);
    }

    // Upstream: test_basic_stack_frame_with_line_number, test_basic_stack_frame
    #[test]
    fn basic_stack_frames() {
        let e = "SomeJavaException: totally made up at org.mozilla.lars.myInvention(larsFile.java)";
        let trace = "SomeJavaException: totally made up  \nat org.mozilla.lars.myInvention(larsFile.java:666)";
        assert_eq!(java(trace, ": "), (e.to_string(), vec![]));
        let trace = "SomeJavaException: totally made up  \nat org.mozilla.lars.myInvention(larsFile.java)";
        assert_eq!(java(trace, ": "), (e.to_string(), vec![]));
    }

    // Upstream: test_long_exception_description(_with_line_number)
    #[test]
    fn long_exception_description() {
        for suffix in ["java)", "java:1234)"] {
            let trace = format!(
                "   SomeJavaException: {} \nat org.mozilla.lars.myInvention(larsFile.{suffix}",
                "t".repeat(1000)
            );
            let (sig, notes) = java(&trace, ": ");
            assert_eq!(sig, "SomeJavaException: at org.mozilla.lars.myInvention(larsFile.java)");
            assert_eq!(notes, ["JavaSignatureTool: dropped Java exception description due to length"]);
        }
    }

    // Upstream: test_no_description
    #[test]
    fn no_description() {
        let (sig, notes) = java("   SomeJavaException\nat org.mozilla.lars.myInvention(larsFile.java:1234)", ": ");
        assert_eq!(sig, "SomeJavaException: at org.mozilla.lars.myInvention(larsFile.java)");
        assert_eq!(notes, ["JavaSignatureTool: stack trace line 1 is not in the expected format"]);
    }

    // Upstream: test_frame_with_line_ending_but_missing_second_line, test_frame_missing_second_line
    #[test]
    fn missing_second_line() {
        for trace in ["SomeJavaException: totally made up  \n", "SomeJavaException: totally made up  "] {
            let (sig, notes) = java(trace, ": ");
            assert_eq!(sig, "SomeJavaException: totally made up");
            assert_eq!(notes, ["JavaSignatureTool: stack trace line 2 is missing"]);
        }
    }

    // Upstream: test_no_interference
    #[test]
    fn no_interference() {
        let trace = "SomeJavaException: totally made up  \nat org.mozilla.lars.myInvention(larsFile.java:@abef1234)";
        let (sig, notes) = java(trace, " ");
        assert_eq!(sig, "SomeJavaException totally made up at org.mozilla.lars.myInvention(larsFile.java:@abef1234)");
        assert!(notes.is_empty());
    }

    // Upstream: test_replace_address, test_replace_address_with_trailing_text
    #[test]
    fn replace_address() {
        let trace =
            "java.lang.IllegalArgumentException: Given view not a child of android.widget.AbsoluteLayout@4054b560\n\
            \tat android.view.ViewGroup.updateViewLayout(ViewGroup.java:1968)\n\
            \tat org.mozilla.gecko.GeckoApp.repositionPluginViews(GeckoApp.java:1492)";
        let (sig, _) = java(trace, ": ");
        assert_eq!(
            sig,
            "java.lang.IllegalArgumentException: Given view not a child of android.widget.AbsoluteLayout@<addr>: \
             at android.view.ViewGroup.updateViewLayout(ViewGroup.java)"
        );
        let trace = "android.view.WindowManager$BadTokenException: Unable to add window -- token android.os.BinderProxy@406237c0 is not valid; is your activity running?\n\
            \tat android.view.ViewRoot.setView(ViewRoot.java:533)\n";
        let (sig, _) = java(trace, ": ");
        assert_eq!(
            sig,
            "android.view.WindowManager$BadTokenException: Unable to add window -- token android.os.BinderProxy@<addr> \
             is not valid; is your activity running? at android.view.ViewRoot.setView(ViewRoot.java)"
        );
    }

    // Upstream: TestJavaExceptionSignatureTool.test_bad_data
    #[test]
    fn java_exception_bad_data() {
        for value in [Value::Null, json!("abcde"), json!([]), json!({})] {
            let (sig, notes) = generate_from_exception(&value).unwrap();
            assert_eq!(sig, "EMPTY: Java exception not in expected format");
            assert_eq!(notes, ["JavaExceptionSignatureTool: value not in expected format"]);
        }
    }

    // Upstream: TestJavaExceptionSignatureTool.test_normalize_frame
    #[test]
    fn java_exception_frames() {
        let m = "org.mozilla.fenix.ext.AddonManagerKt";
        let cases = [
            (json!({}), "unknown".to_string()),
            (
                json!({"module": m, "function": "getFenixAddons", "filename": "AddonManager.kt"}),
                format!("{m}.getFenixAddons(AddonManager.kt)"),
            ),
            (
                json!({"module": "", "function": "getFenixAddons", "filename": "AddonManager.kt"}),
                "getFenixAddons(AddonManager.kt)".into(),
            ),
            (
                json!({"module": null, "function": "getFenixAddons", "filename": "AddonManager.kt"}),
                "getFenixAddons(AddonManager.kt)".into(),
            ),
            (json!({"module": m, "function": null, "filename": "AddonManager.kt"}), format!("{m}(AddonManager.kt)")),
            (json!({"module": m, "filename": "AddonManager.kt"}), format!("{m}(AddonManager.kt)")),
            (json!({"module": m, "function": "getFenixAddons", "filename": ""}), format!("{m}.getFenixAddons")),
            (json!({"module": m, "function": "getFenixAddons"}), format!("{m}.getFenixAddons")),
        ];
        for (frame, expected) in cases {
            assert_eq!(normalize_exception_frame(&frame), expected, "{frame}");
        }
    }

    // Upstream: TestJavaExceptionSignatureTool.test_generate
    #[test]
    fn java_exception_signatures() {
        let frame = json!({"module": "org.mozilla.fenix.ext.AddonManagerKt", "function": "getFenixAddons", "filename": "AddonManager.kt"});
        let value = json!({"exception": {"values": [{"stacktrace": {"frames": [frame], "type": "IOException", "module": "java.io"}}]}});
        let (sig, _) = generate_from_exception(&value).unwrap();
        assert_eq!(sig, "java.io.IOException: at org.mozilla.fenix.ext.AddonManagerKt.getFenixAddons(AddonManager.kt)");
        let value = json!({"exception": {"values": [{"stacktrace": {"frames": [], "type": "RemoteException", "module": "android.os"}}]}});
        assert_eq!(generate_from_exception(&value).unwrap().0, "android.os.RemoteException");
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(python_splitlines("a\nb\r\nc\rd\n"), ["a", "b", "c", "d"]);
        assert_eq!(python_splitlines(""), Vec::<&str>::new());
        assert_eq!(python_splitlines("\n"), [""]);
    }
}
