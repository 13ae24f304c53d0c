//! Super Search results, page by page (1,000 a page with `_results_offset`, as
//! crashstats-tools pages), and past the server's 10,000-result cap by splitting the date
//! range into windows that each hold at most 10,000.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::params::{date_range, format_when, Params};
use super::{Session, SUPERSEARCH_PATH};
use crate::api::GetError;

/// Results per page (the server's maximum).
pub const PAGE: usize = 1000;
/// The most results one query can page through (`_results_offset + _results_number`).
pub const CAP: usize = 10_000;

/// What to search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Filters, `_columns`, `_sort` and the like, as sent.
    pub params: Params,
    /// How many hits; `None`: all of them.
    pub num: Option<usize>,
    /// "Now", for a date range with no end.
    pub now: DateTime<Utc>,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    pub hits: Vec<Map<String, Value>>,
    /// The server's `total` for the whole query.
    pub total: u64,
    /// Date windows searched (0: one query was enough).
    pub windows: usize,
    /// A window of one second still held more than 10,000 results: only 10,000 of it came.
    pub truncated: bool,
}

/// Something worth telling the user while searching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchEvent {
    /// More than 10,000 results: switching to date windows.
    Windowing {
        total: u64,
    },
    Page {
        fetched: usize,
        total: u64,
    },
}

/// Runs the search.
pub async fn search(
    session: &Session,
    opts: &SearchOptions,
    on_event: &(dyn Fn(SearchEvent) + Sync),
) -> Result<SearchResult, GetError> {
    let want = opts.num.unwrap_or(usize::MAX);
    let mut out = SearchResult::default();
    let total = if want > CAP { Some(count(session, &opts.params).await?) } else { None };
    if total.is_none_or(|t| t as usize <= CAP) {
        return page_through(session, &opts.params, want, on_event).await;
    }
    let first = SearchResult { total: total.unwrap_or(0), ..SearchResult::default() };
    out.total = first.total;
    on_event(SearchEvent::Windowing { total: first.total });
    let dates: Vec<&str> = opts.params.get_all("date");
    let Some((start, end)) = date_range(&dates, opts.now) else {
        return Err(GetError::Client {
            url: session.client.url(SUPERSEARCH_PATH),
            message: format!(
                "{} results match, more than Super Search's 10,000, and the date filters {dates:?} cannot be split into windows (use >=, >, <, <= dates)",
                first.total
            ),
        });
    };
    let descending =
        opts.params.get_all("_sort").first().is_some_and(|s| *s == "-date") || !opts.params.contains("_sort");
    let mut stack = vec![(start, end)];
    while let Some((s, e)) = stack.pop() {
        if out.hits.len() >= want {
            break;
        }
        let mut params = opts.params.clone();
        params.set("date", &[format!(">={}", format_when(s)), format!("<{}", format_when(e))]);
        let count = count(session, &params).await?;
        if count as usize > CAP && (e - s) > chrono::Duration::seconds(1) {
            let mid = s + (e - s) / 2;
            // the stack pops the last pushed first
            if descending {
                stack.extend([(s, mid), (mid, e)]);
            } else {
                stack.extend([(mid, e), (s, mid)]);
            }
            continue;
        }
        out.windows += 1;
        out.truncated |= count as usize > CAP;
        let left = want - out.hits.len();
        let page = page_through(session, &params, left.min(CAP), on_event).await?;
        out.hits.extend(page.hits);
    }
    Ok(out)
}

/// How many hits a query has (`_results_number=0`).
async fn count(session: &Session, params: &Params) -> Result<u64, GetError> {
    let mut p = params.clone();
    p.set("_results_number", &["0".to_string()]);
    p.set("_results_offset", &["0".to_string()]);
    let v = session.get_json(SUPERSEARCH_PATH, p.pairs()).await?;
    Ok(v.get("total").and_then(Value::as_u64).unwrap_or(0))
}

/// crashstats-tools' paging: offset 0 and min(1000, want) first; then offset += 1000 and
/// number = min(1000, total - fetched, want - fetched), until a page is empty or enough came.
async fn page_through(
    session: &Session,
    params: &Params,
    want: usize,
    on_event: &(dyn Fn(SearchEvent) + Sync),
) -> Result<SearchResult, GetError> {
    let mut out = SearchResult::default();
    let mut offset = 0usize;
    let mut number = PAGE.min(want);
    loop {
        let mut p = params.clone();
        p.set("_results_offset", &[offset.to_string()]);
        p.set("_results_number", &[number.to_string()]);
        let v = session.get_json(SUPERSEARCH_PATH, p.pairs()).await?;
        let total = v.get("total").and_then(Value::as_u64).unwrap_or(0);
        out.total = total;
        let hits = v.get("hits").and_then(Value::as_array).cloned().unwrap_or_default();
        let empty = hits.is_empty();
        for h in hits {
            if out.hits.len() >= want {
                break;
            }
            if let Value::Object(m) = h {
                out.hits.push(m);
            }
        }
        on_event(SearchEvent::Page { fetched: out.hits.len(), total });
        let fetched = out.hits.len();
        if empty || fetched as u64 >= total || fetched >= want || offset + PAGE >= CAP {
            return Ok(out);
        }
        offset += PAGE;
        number = PAGE.min(total as usize - fetched).min(want - fetched);
    }
}

/// The requested columns the server left out of the first hit (fields the token may not see
/// are dropped without a word).
pub fn missing_columns(columns: &[String], hits: &[Map<String, Value>]) -> Vec<String> {
    match hits.first() {
        Some(first) => columns.iter().filter(|c| !first.contains_key(c.as_str())).cloned().collect(),
        None => Vec::new(),
    }
}
