//! Super Search aggregations as tables, as crashstats-tools' `supersearchfacet` prints them:
//! terms facets (`_facets`), nested aggregations (`_aggs.a.b`), cardinalities and histograms
//! (`_histogram.date`), plus bars for the terminal. Parsing and layout are pure functions.

use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::Value;

use super::format::{escape_whitespace, printable_only, py_str, Ordered, Table};

/// One flattened facet: a title (`product`, `histogram_date.product`) and its rows, each a
/// list of (column, value) in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetTable {
    pub title: String,
    /// The name under which JSON output nests it (`histogram_date` for histograms).
    pub group: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// How to lay the tables out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayoutOptions {
    /// `--` rows (terms: total minus the listed counts) and columns (histograms).
    pub leftover_count: bool,
    /// ` **` after Saturday and Sunday dates.
    pub denote_weekends: bool,
    /// Drop characters outside Python's `string.printable`, as supersearchfacet does.
    pub ascii_only: bool,
}

/// A JSON object with its keys in the order the server sent them.
pub fn ordered_entries(json: &[u8], key: &str) -> Vec<(String, Value)> {
    struct Entries(Vec<(String, Value)>);
    impl<'de> serde::Deserialize<'de> for Entries {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Entries;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = map.next_entry::<String, Value>()? {
                        out.push(kv);
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Outer {
        facets: Option<Entries>,
    }
    if key != "facets" {
        return Vec::new();
    }
    serde_json::from_slice::<Outer>(json).ok().and_then(|o| o.facets).map(|e| e.0).unwrap_or_default()
}

fn as_u64(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

fn terms(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// `2022-06-24T00:00:00+00:00` -> `2022-06-24` (midnight timestamps only).
fn histogram_term(term: &Value) -> Value {
    match term.as_str() {
        Some(t) if t.len() >= 10 && t[10..].starts_with("T00:00:00") => Value::String(t[..10].to_string()),
        _ => term.clone(),
    }
}

/// Flattens nested term buckets: `a / b` keys, `x / y` terms (crashstats-tools' `flatten_facets`).
fn flatten_nested(prefix_key: &str, prefix_term: &str, buckets: &[Value], rows: &mut Vec<(String, String, u64)>) {
    for b in buckets {
        let term = py_str(b.get("term").unwrap_or(&Value::Null));
        let t = if prefix_term.is_empty() { term } else { format!("{prefix_term} / {term}") };
        match b.get("facets").and_then(Value::as_object).filter(|m| !m.is_empty()) {
            Some(sub) => {
                for (k, v) in sub {
                    let key = format!("{prefix_key} / {k}");
                    if let Some(card) = k.strip_prefix("cardinality_").map(|_| v) {
                        rows.push((key, format!("{t} / value"), as_u64(card.get("value"))));
                    } else {
                        flatten_nested(&key, &t, terms(v), rows);
                    }
                }
            }
            None => rows.push((prefix_key.to_string(), t, as_u64(b.get("count")))),
        }
    }
}

/// Sorts column names as supersearchfacet does: `--` first, `total` last, the rest as strings.
fn sort_columns(cols: &mut [String]) {
    cols.sort_by(|a, b| {
        let rank = |s: &str| match s {
            "--" => 0,
            "total" => 2,
            _ => 1,
        };
        rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
    });
}

/// The tables of a Super Search answer. `requested_signature`: keep the `signature` facet the
/// server adds by itself only when it was asked for.
pub fn tables(response: &[u8], requested_signature: bool, opts: LayoutOptions) -> Vec<FacetTable> {
    let total = serde_json::from_slice::<Value>(response)
        .ok()
        .and_then(|v| v.get("total").and_then(Value::as_u64))
        .unwrap_or(0);
    let mut out = Vec::new();
    for (key, value) in ordered_entries(response, "facets") {
        if key == "signature" && !requested_signature {
            continue;
        }
        if key.starts_with("cardinality_") {
            out.push(FacetTable {
                title: key.clone(),
                group: None,
                columns: vec![key.clone(), "value".into()],
                rows: vec![vec![Value::from("value"), value.get("value").cloned().unwrap_or(Value::Null)]],
            });
        } else if let Some(_field) = key.strip_prefix("histogram_") {
            out.extend(histogram_tables(&key, terms(&value), opts));
        } else {
            out.extend(terms_tables(&key, terms(&value), total, opts));
        }
    }
    out
}

fn terms_tables(key: &str, buckets: &[Value], total: u64, opts: LayoutOptions) -> Vec<FacetTable> {
    let nested = buckets.iter().any(|b| b.get("facets").and_then(Value::as_object).is_some_and(|m| !m.is_empty()));
    let mut groups: Vec<(String, Vec<(Value, u64)>)> = Vec::new();
    if nested {
        let mut rows = Vec::new();
        flatten_nested(key, "", buckets, &mut rows);
        for (k, term, count) in rows {
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some((_, r)) => r.push((Value::String(term), count)),
                None => groups.push((k, vec![(Value::String(term), count)])),
            }
        }
    } else {
        let rows =
            buckets.iter().map(|b| (b.get("term").cloned().unwrap_or(Value::Null), as_u64(b.get("count")))).collect();
        groups.push((key.to_string(), rows));
    }
    groups
        .into_iter()
        .map(|(title, rows)| {
            let sum: u64 = rows.iter().map(|(_, c)| c).sum();
            let mut table: Vec<Vec<Value>> = rows.into_iter().map(|(t, c)| vec![t, Value::from(c)]).collect();
            if opts.leftover_count {
                table.push(vec![Value::from("--"), Value::from(total as i64 - sum as i64)]);
            }
            table.push(vec![Value::from("total"), Value::from(total)]);
            FacetTable { title: title.clone(), group: None, columns: vec![title, "count".into()], rows: table }
        })
        .collect()
}

fn histogram_tables(key: &str, buckets: &[Value], opts: LayoutOptions) -> Vec<FacetTable> {
    let mut buckets: Vec<&Value> = buckets.iter().collect();
    buckets.sort_by_key(|b| py_str(b.get("term").unwrap_or(&Value::Null)));
    // the sub-facets, in the order the first bucket that has them lists them
    let mut subs: Vec<String> = Vec::new();
    for b in &buckets {
        if let Some(m) = b.get("facets").and_then(Value::as_object) {
            for k in m.keys() {
                if !subs.contains(k) {
                    subs.push(k.clone());
                }
            }
        }
    }
    if subs.is_empty() {
        let rows =
            buckets.iter().map(|b| vec![histogram_term(&b["term"]), Value::from(as_u64(b.get("count")))]).collect();
        return vec![FacetTable {
            title: key.to_string(),
            group: None,
            columns: vec![key.to_string(), "total".into()],
            rows,
        }];
    }
    subs.iter()
        .map(|sub| {
            let title = format!("{key}.{sub}");
            let sub_of = |b: &Value| b.get("facets").and_then(|f| f.get(sub)).cloned();
            if sub.starts_with("cardinality_") {
                // supersearchfacet's leftover here is the sum of the row's numbers: the value
                let rows = buckets
                    .iter()
                    .map(|b| {
                        let value = sub_of(b).and_then(|c| c.get("value").cloned()).unwrap_or(Value::from(0));
                        let mut row = vec![histogram_term(&b["term"])];
                        if opts.leftover_count {
                            row.push(value.clone());
                        }
                        row.push(value);
                        row
                    })
                    .collect();
                let mut columns = vec![key.to_string()];
                if opts.leftover_count {
                    columns.push("--".into());
                }
                columns.push("value".into());
                return FacetTable { title, group: Some(key.to_string()), columns, rows };
            }
            let mut cols: Vec<String> = Vec::new();
            for b in &buckets {
                for t in sub_of(b).as_ref().map(terms).unwrap_or(&[]) {
                    let name = py_str(t.get("term").unwrap_or(&Value::Null));
                    if !cols.contains(&name) {
                        cols.push(name);
                    }
                }
            }
            if opts.leftover_count {
                cols.push("--".into());
            }
            cols.push("total".into());
            sort_columns(&mut cols);
            let rows = buckets
                .iter()
                .map(|b| {
                    let sub_terms = sub_of(b);
                    let list = sub_terms.as_ref().map(terms).unwrap_or(&[]);
                    let count_of = |name: &str| {
                        list.iter()
                            .find(|t| py_str(t.get("term").unwrap_or(&Value::Null)) == name)
                            .map(|t| as_u64(t.get("count")))
                    };
                    let total = as_u64(b.get("count"));
                    let sum: u64 = list.iter().map(|t| as_u64(t.get("count"))).sum();
                    let mut row = vec![histogram_term(&b["term"])];
                    for c in &cols {
                        row.push(match c.as_str() {
                            "total" => Value::from(total),
                            "--" => Value::from(sum as i64 - total as i64),
                            name => Value::from(count_of(name).unwrap_or(0)),
                        });
                    }
                    row
                })
                .collect();
            let mut columns = vec![key.to_string()];
            columns.extend(cols);
            FacetTable { title, group: Some(key.to_string()), columns, rows }
        })
        .collect()
}

fn is_weekend(text: &str) -> bool {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok_and(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
}

/// A cell as supersearchfacet prints it: `str()`, (non-printable dropped), whitespace escaped,
/// weekends denoted.
pub fn cell(value: &Value, opts: LayoutOptions) -> String {
    let mut s = py_str(value);
    if opts.ascii_only {
        s = printable_only(&s);
    }
    let mut s = escape_whitespace(&s);
    if opts.denote_weekends && s.len() == 10 && is_weekend(&s) {
        s.push_str(" **");
    }
    s
}

impl FacetTable {
    /// The stringified table (cells as supersearchfacet prints them).
    pub fn table(&self, opts: LayoutOptions) -> Table {
        Table {
            headers: self
                .columns
                .iter()
                .map(|c| cell(&Value::from(c.as_str()), LayoutOptions { denote_weekends: false, ..opts }))
                .collect(),
            rows: self.rows.iter().map(|r| r.iter().map(|v| cell(v, opts)).collect()).collect(),
        }
    }

    /// Rows as JSON objects, keys in column order (a histogram's `--` last and as a string,
    /// as supersearchfacet adds it).
    pub fn json_rows(&self) -> Ordered {
        let row = |r: &Vec<Value>| {
            let mut items: Vec<(String, Ordered)> = Vec::new();
            let mut leftover = None;
            for (c, v) in self.columns.iter().zip(r) {
                if c == "--" && self.group.is_some() {
                    leftover = Some(("--".to_string(), Ordered::Value(Value::from(py_str(v)))));
                } else {
                    items.push((c.clone(), Ordered::Value(v.clone())));
                }
            }
            items.extend(leftover);
            Ordered::Object(items)
        };
        Ordered::Array(self.rows.iter().map(row).collect())
    }

    /// Bars: one line per row, the label, the count (the `total` or `count` column) and a bar
    /// scaled to `width` columns; weekend dates marked with `*`.
    pub fn bars(&self, width: usize) -> String {
        let col = self
            .columns
            .iter()
            .position(|c| c == "total" || c == "count" || c == "value")
            .unwrap_or(self.columns.len() - 1);
        let rows: Vec<(String, u64)> = self
            .rows
            .iter()
            .filter(|r| !matches!(r[0].as_str(), Some("total") | Some("--")))
            .map(|r| (py_str(&r[0]), r.get(col).and_then(Value::as_u64).unwrap_or(0)))
            .collect();
        let max = rows.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
        let label_w = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
        let num_w = rows.iter().map(|(_, c)| c.to_string().len()).max().unwrap_or(1);
        let mut out = String::new();
        for (label, count) in rows {
            let n = ((count as f64 / max as f64) * width as f64).round() as usize;
            let mark = if is_weekend(&label) { "*" } else { " " };
            let pad = " ".repeat(label_w - label.chars().count());
            out.push_str(format!("{label}{pad} {mark} {count:>num_w$} {}", "█".repeat(n)).trim_end());
            out.push('\n');
        }
        out
    }
}

/// `{title: rows}`, histograms as `{histogram_x: {sub: rows}}` (supersearchfacet's json).
pub fn to_json(tables: &[FacetTable]) -> Ordered {
    let mut top: Vec<(String, Ordered)> = Vec::new();
    for t in tables {
        match &t.group {
            Some(g) => {
                let sub = t.title.strip_prefix(&format!("{g}.")).unwrap_or(&t.title).to_string();
                match top.iter_mut().find(|(k, _)| k == g) {
                    Some((_, Ordered::Object(items))) => items.push((sub, t.json_rows())),
                    _ => top.push((g.clone(), Ordered::Object(vec![(sub, t.json_rows())]))),
                }
            }
            None => top.push((t.title.clone(), t.json_rows())),
        }
    }
    Ordered::Object(top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crashstats::format::{csv, rich_markdown, tab};

    fn render_tab(resp: &str, opts: LayoutOptions) -> String {
        let ts = tables(resp.as_bytes(), false, opts);
        ts.iter().map(|t| format!("{}\n{}", t.title, tab(&t.table(opts), true))).collect::<Vec<_>>().join("\n")
    }

    const PRODUCT: &str = r#"{"hits": [], "total": 19, "facets": {"product": [{"term": "Firefox", "count": 5}, {"term": "Fenix", "count": 4}], "signature": [{"term": "x", "count": 1}]}, "errors": []}"#;

    // Expected outputs follow supersearchfacet's documented behaviour and its own tests.
    #[test]
    fn terms_with_total_and_leftover() {
        assert_eq!(
            render_tab(PRODUCT, LayoutOptions::default()),
            "product\nproduct\tcount\nFirefox\t5\nFenix\t4\ntotal\t19\n"
        );
        let opts = LayoutOptions { leftover_count: true, ..LayoutOptions::default() };
        assert_eq!(render_tab(PRODUCT, opts), "product\nproduct\tcount\nFirefox\t5\nFenix\t4\n--\t10\ntotal\t19\n");
        let t = &tables(PRODUCT.as_bytes(), false, LayoutOptions::default())[0];
        assert_eq!(csv(&t.table(LayoutOptions::default()), true), "product,count\nFirefox,5\nFenix,4\ntotal,19\n");
        let want = [
            " product | count ",
            "---------|-------",
            " Firefox | 5     ",
            " Fenix   | 4     ",
            " total   | 19    ",
            "",
        ];
        assert_eq!(rich_markdown(&t.table(LayoutOptions::default())), want.join("\n"));
        assert_eq!(
            to_json(&tables(PRODUCT.as_bytes(), false, LayoutOptions::default())).to_pretty(),
            "{\n  \"product\": [\n    {\n      \"product\": \"Firefox\",\n      \"count\": 5\n    },\n    {\n      \"product\": \"Fenix\",\n      \"count\": 4\n    },\n    {\n      \"product\": \"total\",\n      \"count\": 19\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn cardinality_and_nested_aggs() {
        let card = r#"{"total": 837148, "facets": {"cardinality_product": {"value": 6}}}"#;
        assert_eq!(
            render_tab(card, LayoutOptions::default()),
            "cardinality_product\ncardinality_product\tvalue\nvalue\t6\n"
        );
        let nested = r#"{"total": 600000, "facets": {"product": [
            {"term": "Firefox", "count": 353039, "facets": {"release_channel": [{"term": "release", "count": 153412}, {"term": "nightly", "count": 10660}]}},
            {"term": "Fenix", "count": 228578, "facets": {"release_channel": [{"term": "release", "count": 216877}]}}]}}"#;
        assert_eq!(
            render_tab(nested, LayoutOptions::default()),
            "product / release_channel\nproduct / release_channel\tcount\nFirefox / release\t153412\nFirefox / nightly\t10660\nFenix / release\t216877\ntotal\t600000\n"
        );
    }

    const HIST: &str = r#"{"total": 837148, "facets": {"histogram_date": [
        {"term": "2022-06-25T00:00:00+00:00", "count": 129534, "facets": {"product": [{"term": "Firefox", "count": 60180}, {"term": "Fenix", "count": 49559}]}},
        {"term": "2022-06-24T00:00:00+00:00", "count": 130824, "facets": {"product": [{"term": "Firefox", "count": 62097}, {"term": "MozillaVPN", "count": 1}]}}]}}"#;

    #[test]
    fn histograms_sorted_with_union_columns_leftover_and_weekends() {
        let opts = LayoutOptions { leftover_count: true, denote_weekends: true, ..LayoutOptions::default() };
        assert_eq!(
            render_tab(HIST, opts),
            "histogram_date.product\nhistogram_date\t--\tFenix\tFirefox\tMozillaVPN\ttotal\n2022-06-24\t-68726\t0\t62097\t1\t130824\n2022-06-25 **\t-19795\t49559\t60180\t0\t129534\n"
        );
        let bars = tables(HIST.as_bytes(), false, LayoutOptions::default())[0].bars(10);
        assert_eq!(bars, "2022-06-24   130824 ██████████\n2022-06-25 * 129534 ██████████\n");
    }

    #[test]
    fn non_ascii_is_kept_unless_asked() {
        let resp = r#"{"total": 3, "facets": {"platform": [{"term": "Mac OS Ⅹ", "count": 3}]}}"#;
        assert!(render_tab(resp, LayoutOptions::default()).contains("Mac OS Ⅹ\t3"));
        let ascii = LayoutOptions { ascii_only: true, ..LayoutOptions::default() };
        assert!(render_tab(resp, ascii).contains("Mac OS \t3"));
    }
}
