//! Tables as crashstats-tools prints them, byte for byte: tab, csv and markdown rows with its
//! escaping rules, rich's markdown-box table, and JSON with keys in the order given (as
//! Python's `json.dumps(indent=2)` writes a dict). Pure functions over strings.

use serde_json::Value;

/// A table of already stringified cells (`str()` of each value, not yet escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// `\t`, `\r` and `\n` as the two characters `\t`, `\r`, `\n` (crashstats-tools'
/// `escape_whitespace`).
pub fn escape_whitespace(text: &str) -> String {
    text.replace('\t', "\\t").replace('\r', "\\r").replace('\n', "\\n")
}

/// `|` as `\|` (crashstats-tools' `escape_pipes`, for markdown cells).
pub fn escape_pipes(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Python's `str()` of a value from a JSON answer (`None`, `True`, `1.0`, `['a']`...).
pub fn py_str(value: &Value) -> String {
    crate::siggen::py::py_str(value)
}

/// Keeps only the characters of Python's `string.printable` (what supersearchfacet does to
/// every cell: non-ASCII is dropped).
pub fn printable_only(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_graphic() || matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')).collect()
}

/// Lines joined by `\n` with a final `\n`; nothing at all for no lines (as `click.echo` of
/// the joined rows, with no output for an empty result).
fn lines_out(lines: Vec<String>) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// What crashstats-tools prints for a row that comes out empty.
pub const NO_DATA: &str = "<no data>";

/// Tab-separated: each cell whitespace-escaped; headers only when asked (and with a first row).
pub fn tab(table: &Table, headers: bool) -> String {
    let row = |cells: &[String]| {
        let line = cells.iter().map(|c| escape_whitespace(c)).collect::<Vec<_>>().join("\t");
        if line.is_empty() {
            NO_DATA.to_string()
        } else {
            line
        }
    };
    let mut lines = Vec::new();
    if headers && !table.rows.is_empty() {
        lines.push(row(&table.headers));
    }
    lines.extend(table.rows.iter().map(|r| row(r)));
    lines_out(lines)
}

/// One CSV field as Python's csv module writes it (excel dialect, minimal quoting).
fn csv_field(text: &str, only_field: bool) -> String {
    if (only_field && text.is_empty()) || text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Comma-separated (excel dialect, lines ending in `\n`), cells whitespace-escaped first.
pub fn csv(table: &Table, headers: bool) -> String {
    let row = |cells: &[String]| {
        let only = cells.len() == 1;
        cells.iter().map(|c| csv_field(&escape_whitespace(c), only)).collect::<Vec<_>>().join(",")
    };
    let mut lines = Vec::new();
    if headers && !table.rows.is_empty() {
        lines.push(row(&table.headers));
    }
    lines.extend(table.rows.iter().map(|r| row(r)));
    // crashstats-tools prints the csv module's output line by line with str.splitlines()
    let text = lines.join("\n");
    lines_out(python_splitlines(&text).into_iter().map(str::to_string).collect())
}

/// Python's `str.splitlines()`: splits at \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
fn python_splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            out.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(j, '\n')) = chars.peek() {
                    chars.next();
                    end = j + 1;
                }
            }
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Markdown as crashstats-tools writes it: headers always (with a first row), one dash per
/// header character, ` | ` between cells, no outer pipes, `|` in cells escaped.
pub fn markdown(table: &Table) -> String {
    if table.rows.is_empty() {
        return String::new();
    }
    let mut lines = vec![
        table.headers.join(" | "),
        table.headers.iter().map(|h| "-".repeat(h.chars().count())).collect::<Vec<_>>().join(" | "),
    ];
    for r in &table.rows {
        let line = r.iter().map(|c| escape_pipes(&escape_whitespace(c))).collect::<Vec<_>>().join(" | ");
        lines.push(if line.is_empty() { NO_DATA.to_string() } else { line });
    }
    lines_out(lines)
}

/// The display width of a cell (one column per character; good for the ASCII that
/// supersearchfacet keeps).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// rich's `Table(show_edge=False, box=box.MARKDOWN)`: ` a | b ` cells padded to the column
/// width, a `---|---` rule under the header, trailing spaces kept.
pub fn rich_markdown(table: &Table) -> String {
    let cols = table.headers.len();
    let mut widths: Vec<usize> = table.headers.iter().map(|h| width(h)).collect();
    for r in &table.rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c}{} ", " ".repeat(w - width(c))))
            .collect::<Vec<_>>()
            .join("|")
    };
    let mut lines = vec![line(&table.headers), widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")];
    lines.extend(table.rows.iter().map(|r| line(r)));
    lines_out(lines)
}

/// An aligned, human table for the terminal (two spaces between columns, header underlined).
pub fn plain(table: &Table) -> String {
    let cols = table.headers.len();
    let mut widths: Vec<usize> = table.headers.iter().map(|h| width(h)).collect();
    for r in &table.rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(width(&escape_whitespace(c)));
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let c = escape_whitespace(c);
                format!("{c}{}", " ".repeat(w - width(&c)))
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut lines = vec![line(&table.headers), widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  ")];
    lines.extend(table.rows.iter().map(|r| line(r)));
    lines_out(lines)
}

/// A JSON value whose objects keep their keys in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Value(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::from(v)))
            }
            fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::from(v)))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Value(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(kv) = map.next_entry()? {
                    items.push(kv);
                }
                Ok(Ordered::Object(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    /// Python's `json.dumps(value, indent=2, ensure_ascii=False)`, plus a final newline (as
    /// rich's `print_json` prints it).
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            Ordered::Value(v) => out.push_str(&python_json_scalar(v)),
            Ordered::Array(items) if items.is_empty() => out.push_str("[]"),
            Ordered::Object(items) if items.is_empty() => out.push_str("{}"),
            Ordered::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push(']');
            }
            Ordered::Object(items) => {
                out.push_str("{\n");
                for (i, (k, v)) in items.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    out.push_str(&serde_json::to_string(k).expect("strings serialize"));
                    out.push_str(": ");
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push('}');
            }
        }
    }
}

/// A scalar (or a nested plain value) as Python's `json.dumps(indent=2)` writes it.
fn python_json_scalar(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => {
            let ordered = from_value(v);
            let mut s = String::new();
            ordered.write(&mut s, 0);
            s
        }
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                n.to_string()
            }
        }
        other => serde_json::to_string(other).expect("JSON values serialize"),
    }
}

fn from_value(v: &Value) -> Ordered {
    match v {
        Value::Array(a) => Ordered::Array(a.iter().map(from_value).collect()),
        Value::Object(o) => Ordered::Object(o.iter().map(|(k, v)| (k.clone(), from_value(v))).collect()),
        other => Ordered::Value(other.clone()),
    }
}

/// Python's `json.dumps(value, indent=2, sort_keys=True)` (ASCII-escaped, `", "`/`": "`
/// separators, no final newline): how crashstats-tools' `fetch-data` writes raw and
/// processed crashes.
pub fn python_json_sorted_ascii(v: &Value) -> String {
    let mut out = String::new();
    write_sorted_ascii(v, &mut out, 0);
    out
}

fn write_sorted_ascii(v: &Value, out: &mut String, depth: usize) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(items) if items.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_sorted_ascii(item, out, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map is sorted by UTF-8 bytes, which is code point order (Python's)
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&ascii_string(k));
                out.push_str(": ");
                write_sorted_ascii(item, out, depth + 1);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::String(s) => out.push_str(&ascii_string(s)),
        other => out.push_str(&python_json_scalar(other)),
    }
}

/// A JSON string literal with everything outside ASCII as `\uXXXX` (surrogate pairs past
/// U+FFFF), as Python's `ensure_ascii=True` writes it.
fn ascii_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(headers: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(),
        }
    }

    // Expected outputs below are written from crashstats-tools' rules (reference
    // supersearch-and-fetch.md and its tests), not from this code's output.

    #[test]
    fn tab_escapes_whitespace_and_hides_headers_by_default() {
        let table = t(&["uuid", "signature"], &[&["id1", "OOM | small"], &["id2", "a\tb\nc\r"]]);
        assert_eq!(tab(&table, false), "id1\tOOM | small\nid2\ta\\tb\\nc\\r\n");
        assert_eq!(tab(&table, true), "uuid\tsignature\nid1\tOOM | small\nid2\ta\\tb\\nc\\r\n");
        assert_eq!(tab(&t(&["uuid"], &[]), false), "", "no hits, no output");
        assert_eq!(tab(&t(&["uuid"], &[]), true), "", "not even a header");
        assert_eq!(tab(&t(&["version"], &[&[""]]), false), "<no data>\n", "an empty row");
    }

    #[test]
    fn csv_quotes_minimally_like_the_excel_dialect() {
        let table = t(&["a", "b"], &[&["x,y", "say \"hi\""], &["plain", ""], &["tab\there", "None"]]);
        assert_eq!(csv(&table, true), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\nplain,\ntab\\there,None\n");
        assert_eq!(csv(&t(&["a"], &[&[""]]), false), "\"\"\n", "a lone empty field is quoted");
        assert_eq!(csv(&t(&["a"], &[&["x\u{2028}y"]]), false), "x\ny\n", "lines split as Python splits them");
    }

    #[test]
    fn markdown_has_headers_dashes_and_escaped_pipes() {
        let table = t(&["product", "count"], &[&["Firefox", "5"], &["Fenix", "4"], &["total", "19"]]);
        assert_eq!(markdown(&table), "product | count\n------- | -----\nFirefox | 5\nFenix | 4\ntotal | 19\n");
        let sig = t(&["signature"], &[&["OOM | small"]]);
        assert_eq!(markdown(&sig), "signature\n---------\nOOM \\| small\n");
        assert_eq!(markdown(&t(&["uuid"], &[])), "", "headers come with the first row");
    }

    #[test]
    fn rich_markdown_box_pads_cells_and_keeps_trailing_spaces() {
        let table = t(&["product", "count"], &[&["Firefox", "5"], &["Fenix", "4"], &["total", "19"]]);
        let want = [
            " product | count ",
            "---------|-------",
            " Firefox | 5     ",
            " Fenix   | 4     ",
            " total   | 19    ",
            "",
        ];
        assert_eq!(rich_markdown(&table), want.join("\n"));
    }

    #[test]
    fn python_str_and_printable() {
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(3)), "3");
        assert_eq!(py_str(&json!(2.0)), "2.0");
        assert_eq!(printable_only("Zürich\u{1F600} ok"), "Zrich ok");
    }

    #[test]
    fn ordered_json_is_python_indent_2() {
        let v = Ordered::Object(vec![(
            "product".into(),
            Ordered::Array(vec![Ordered::Object(vec![
                ("product".into(), Ordered::Value(json!("Fïrefox"))),
                ("count".into(), Ordered::Value(json!(5))),
            ])]),
        )]);
        assert_eq!(
            v.to_pretty(),
            "{\n  \"product\": [\n    {\n      \"product\": \"Fïrefox\",\n      \"count\": 5\n    }\n  ]\n}\n"
        );
        assert_eq!(Ordered::Array(vec![]).to_pretty(), "[]\n");
    }

    #[test]
    fn fetch_data_json_is_sorted_ascii_without_final_newline() {
        let v = json!({"b": [1, {"z": null, "a": "é😀"}], "a": {}, "c": [], "d": 1.0, "e": "q\"\\\u{1}"});
        let want = "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"a\": \"\\u00e9\\ud83d\\ude00\",\n      \"z\": null\n    }\n  ],\n  \"c\": [],\n  \"d\": 1.0,\n  \"e\": \"q\\\"\\\\\\u0001\"\n}";
        assert_eq!(python_json_sorted_ascii(&v), want);
    }
}
