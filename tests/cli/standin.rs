//! A stand-in for the Crash Stats API (the real webapp cannot run here), written from
//! shared/reference/supersearch-and-fetch.md: SuperSearch (filters with operators, paging, the
//! 10,000-result cap, facets, cardinality, nested aggregations, date histograms, fields hidden
//! from tokens without view_pii), RawCrash (meta, raw dumps behind "View Raw Dumps"),
//! ProcessedCrash, bad tokens (403), unknown crashes (404), rate limiting (429 without
//! Retry-After), and faults on demand (500s, 429s). Serves on 127.0.0.1, a random port.
//! Also used by examples/crashstats_standin.rs for bench/fetch.sh.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

/// Fields only a token with view_pii sees (silently dropped for others).
pub const PROTECTED: &[&str] = &["email", "url", "user_comments"];

#[derive(Debug, Clone)]
pub struct FakeCrash {
    pub id: String,
    pub date: DateTime<Utc>,
    /// Super Search fields (uuid, date, product, signature, ...).
    pub fields: Map<String, Value>,
    pub raw: Value,
    pub dumps: Vec<(String, Vec<u8>)>,
    pub processed: Option<Value>,
}

/// A crash ID for a day (valid shape, throttle digit 0).
pub fn crash_id(n: usize, day: NaiveDate) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:05x}0{:02}{:02}{:02}",
        n as u32,
        n % 0xffff,
        n % 0xfff,
        n % 0xfff,
        n % 0xfffff,
        day.year() % 100,
        day.month(),
        day.day()
    )
}

impl FakeCrash {
    /// A crash with a main dump and a second one, a raw crash listing both in
    /// metadata.dump_checksums, and a processed crash whose stack makes `function` the signature.
    pub fn new(n: usize, date: DateTime<Utc>, product: &str, signature: &str) -> FakeCrash {
        let id = crash_id(n, date.date_naive());
        let mut fields = Map::new();
        fields.insert("uuid".into(), json!(id));
        fields.insert("date".into(), json!(date.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()));
        fields.insert("product".into(), json!(product));
        fields.insert("signature".into(), json!(signature));
        fields.insert("version".into(), json!(format!("14{}.0", n % 3)));
        fields.insert("platform".into(), json!(if n % 2 == 0 { "Windows NT" } else { "Mac OS X" }));
        fields.insert("email".into(), json!(format!("user{n}@example.com")));
        let raw = json!({
            "uuid": id,
            "ProductName": product,
            "Version": format!("14{}.0", n % 3),
            "BuildID": "20261101000000",
            "Notes": "éàü ☃",
            "metadata": {"dump_checksums": {"upload_file_minidump_content": "abc", "upload_file_minidump": "def"}},
        });
        let processed = json!({
            "uuid": id,
            "signature": signature,
            "product": product,
            "crashing_thread": 0,
            "json_dump": {"crash_info": {"crashing_thread": 0}, "threads": [{"frames": [
                {"frame": 0, "function": format!("crashy_function_{}", n % 2), "module": "xul.dll", "file": "hg:hg.mozilla.org/mozilla-central:dom/a.cpp:abc", "line": 10},
                {"frame": 1, "function": "caller", "module": "xul.dll"}
            ]}]},
        });
        FakeCrash {
            dumps: vec![
                ("upload_file_minidump".into(), format!("MDMP main dump of {id}").into_bytes()),
                ("upload_file_minidump_content".into(), format!("MDMP content dump of {id}").into_bytes()),
            ],
            id,
            date,
            fields,
            raw,
            processed: Some(processed),
        }
    }
}

/// `n` crashes spread over the `days` days before `end` (newest last), products and signatures
/// cycling through a few (one non-ASCII).
pub fn generate(n: usize, end: DateTime<Utc>, days: i64) -> Vec<FakeCrash> {
    let products = ["Firefox", "Fenix", "Thunderbird"];
    let sigs = ["OOM | small", "mozilla::dom::Foo", "js::gc::Bar", "Überfunktion"];
    let span = days * 86_400;
    (0..n)
        .map(|i| {
            let secs = span - 1 - (i as i64 * span / n.max(1) as i64);
            let date = end - chrono::Duration::seconds(secs);
            FakeCrash::new(i, date, products[i % 3], sigs[i % 4])
        })
        .collect()
}

/// What the stand-in knows and does.
pub struct Config {
    pub crashes: Vec<FakeCrash>,
    /// The valid token (`None`: every token is refused with 403 "API Token not matched").
    pub token: Option<String>,
    pub view_rawdump: bool,
    pub view_pii: bool,
    /// Added to every answer.
    pub latency: Duration,
    /// Answer 429 once more than this many requests came in the last second.
    pub per_second_limit: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            crashes: Vec::new(),
            token: None,
            view_rawdump: true,
            view_pii: true,
            latency: Duration::ZERO,
            per_second_limit: None,
        }
    }
}

/// A request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub token: Option<String>,
    pub status: u16,
}

impl Seen {
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.query.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

struct Inner {
    config: Config,
    by_id: HashMap<String, usize>,
    seen: Mutex<Vec<Seen>>,
    /// Statuses to answer instead, by a key (`path` or `path?crash_id`), in order.
    faults: Mutex<HashMap<String, VecDeque<u16>>>,
    recent: Mutex<VecDeque<Instant>>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StandIn {
    pub fn start(config: Config) -> StandIn {
        let by_id = config.crashes.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        let inner = Arc::new(Inner {
            config,
            by_id,
            seen: Mutex::new(Vec::new()),
            faults: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = inner.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let app = Router::new()
                    .route("/api/SuperSearch/", get(supersearch))
                    .route("/api/RawCrash/", get(raw_crash))
                    .route("/api/ProcessedCrash/", get(processed_crash))
                    .with_state(state);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        StandIn { addr, inner, shutdown: Some(tx), thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Answers the next requests to `key` (`/api/RawCrash/` or `/api/RawCrash/?ID`) with these statuses.
    pub fn fail_next(&self, key: &str, statuses: &[u16]) {
        self.inner.faults.lock().unwrap().entry(key.to_string()).or_default().extend(statuses);
    }

    /// Runs until killed (for the example).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn error(status: u16, message: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(json!({"error": message}))).into_response()
}

/// The common part of every request: latency, logging, token, rate limit, faults.
async fn gate(s: &Inner, path: &str, query: &[(String, String)], headers: &HeaderMap) -> Result<(), Response> {
    if !s.config.latency.is_zero() {
        tokio::time::sleep(s.config.latency).await;
    }
    let token = headers.get("Auth-Token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let crash = query.iter().find(|(k, _)| k == "crash_id").map(|(_, v)| v.clone()).unwrap_or_default();
    let mut status = 200;
    let mut answer = Ok(());
    if let Some(t) = &token {
        if s.config.token.as_deref() != Some(t.as_str()) {
            status = 403;
            answer = Err(error(403, "API Token not matched"));
        }
    }
    if answer.is_ok() {
        if let Some(limit) = s.config.per_second_limit {
            let now = Instant::now();
            let mut recent = s.recent.lock().unwrap();
            while recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1)) {
                recent.pop_front();
            }
            if recent.len() >= limit {
                status = 429;
                answer = Err((StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response());
            } else {
                recent.push_back(now);
            }
        }
    }
    if answer.is_ok() {
        let mut faults = s.faults.lock().unwrap();
        for key in [format!("{path}?{crash}"), path.to_string()] {
            if let Some(st) = faults.get_mut(&key).and_then(|q| q.pop_front()) {
                status = st;
                answer = Err(if st == 429 {
                    (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
                } else {
                    error(st, "Internal Server Error")
                });
                break;
            }
        }
    }
    s.seen.lock().unwrap().push(Seen { path: path.to_string(), query: query.to_vec(), token, status });
    answer
}

fn has_pii(s: &Inner, headers: &HeaderMap) -> bool {
    s.config.view_pii && headers.get("Auth-Token").is_some()
}

fn one<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

async fn raw_crash(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, "/api/RawCrash/", &q, &headers).await {
        return r;
    }
    let id = one(&q, "crash_id").unwrap_or_default();
    let Some(&i) = s.by_id.get(id) else { return error(404, &format!("Not found: CrashIDNotFound {id}")) };
    let c = &s.config.crashes[i];
    match one(&q, "format").unwrap_or("meta") {
        "raw" => {
            if !(s.config.view_rawdump && headers.get("Auth-Token").is_some()) {
                return error(403, "Binary response requires permissions: View Raw Dumps");
            }
            let name = match one(&q, "name").unwrap_or("dump") {
                "dump" => "upload_file_minidump",
                other => other,
            };
            match c.dumps.iter().find(|(n, _)| n == name) {
                Some((_, b)) => ([("content-type", "application/octet-stream")], b.clone()).into_response(),
                None => error(404, &format!("Not found: CrashIDNotFound {id}")),
            }
        }
        _ => {
            let mut raw = c.raw.clone();
            if !has_pii(&s, &headers) {
                if let Some(m) = raw.as_object_mut() {
                    m.remove("Notes");
                }
            }
            axum::Json(raw).into_response()
        }
    }
}

async fn processed_crash(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, "/api/ProcessedCrash/", &q, &headers).await {
        return r;
    }
    let id = one(&q, "crash_id").unwrap_or_default();
    match s.by_id.get(id).and_then(|&i| s.config.crashes[i].processed.clone()) {
        Some(p) => axum::Json(p).into_response(),
        None => error(404, &format!("Not found: CrashIDNotFound {id}")),
    }
}

/// Parses a Super Search date value (`2026-11-01`, `2026-11-01 10:00:00`, ISO with offset).
pub fn parse_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, f) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap()))
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Does the crash match one filter value (Super Search's OPERATORS_MAP)?
fn matches(c: &FakeCrash, field: &str, value: &str) -> bool {
    let (neg, v) = match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let hit = if field == "date" {
        let (op, d) =
            [">=", "<=", ">", "<"].iter().find_map(|op| v.strip_prefix(op).map(|d| (*op, d))).unwrap_or(("=", v));
        let Some(d) = parse_date(d) else { return false };
        match op {
            ">=" => c.date >= d,
            "<=" => c.date <= d,
            ">" => c.date > d,
            "<" => c.date < d,
            _ => c.date == d,
        }
    } else {
        let have = text_of(c.fields.get(field));
        if let Some(x) = v.strip_prefix('~') {
            have.contains(x)
        } else if let Some(x) = v.strip_prefix('^') {
            have.starts_with(x)
        } else if let Some(x) = v.strip_prefix('$') {
            have.ends_with(x)
        } else if let Some(x) = v.strip_prefix('=') {
            have == x
        } else if v == "__null__" {
            c.fields.get(field).is_none()
        } else {
            have == v
        }
    };
    hit != neg
}

fn terms_of<'a>(crashes: &[&'a FakeCrash], field: &str, size: usize) -> Vec<(String, Vec<&'a FakeCrash>)> {
    let mut groups: BTreeMap<String, Vec<&FakeCrash>> = BTreeMap::new();
    for c in crashes {
        groups.entry(text_of(c.fields.get(field))).or_default().push(c);
    }
    let mut v: Vec<_> = groups.into_iter().collect();
    v.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    v.truncate(size);
    v
}

fn agg(crashes: &[&FakeCrash], spec: &str, size: usize) -> (String, Value) {
    if let Some(f) = spec.strip_prefix("_cardinality.") {
        let n = crashes.iter().map(|c| text_of(c.fields.get(f))).collect::<std::collections::HashSet<_>>().len();
        return (format!("cardinality_{f}"), json!({"value": n}));
    }
    let buckets: Vec<Value> =
        terms_of(crashes, spec, size).into_iter().map(|(t, cs)| json!({"term": t, "count": cs.len()})).collect();
    (spec.to_string(), Value::Array(buckets))
}

async fn supersearch(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, "/api/SuperSearch/", &q, &headers).await {
        return r;
    }
    let pii = has_pii(&s, &headers);
    let all = |k: &str| q.iter().filter(|(key, _)| key == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let number: usize = one(&q, "_results_number").and_then(|v| v.parse().ok()).unwrap_or(100);
    let offset: usize = one(&q, "_results_offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    if number > 1000 {
        return error(400, "Bad request: BadArgumentError: _results_number must be at most 1000");
    }
    if offset + number > 10_000 {
        return error(400, "Bad request: BadArgumentError: _results_offset + _results_number must be at most 10000");
    }
    // filters (a field given several times: bare values OR'ed, operators AND'ed)
    let mut filters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in &q {
        if !k.starts_with('_') && (pii || !PROTECTED.contains(&k.as_str())) {
            filters.entry(k.as_str()).or_default().push(v.as_str());
        }
    }
    let mut hits: Vec<&FakeCrash> = s
        .config
        .crashes
        .iter()
        .filter(|c| {
            filters.iter().all(|(f, vals)| {
                let bare: Vec<&&str> =
                    vals.iter().filter(|v| *f != "date" && !v.starts_with(['~', '^', '$', '=', '!', '@'])).collect();
                let ops_ok = vals
                    .iter()
                    .filter(|v| *f == "date" || v.starts_with(['~', '^', '$', '=', '!', '@']))
                    .all(|v| matches(c, f, v));
                ops_ok && (bare.is_empty() || bare.iter().any(|v| matches(c, f, v)))
            })
        })
        .collect();
    let sort = all("_sort");
    match sort.first().map(String::as_str) {
        Some("date") => hits.sort_by_key(|c| c.date),
        Some(f) if f.starts_with('-') && f != "-date" => {
            let f = &f[1..];
            hits.sort_by_key(|c| std::cmp::Reverse(text_of(c.fields.get(f))))
        }
        Some(f) if f != "-date" => hits.sort_by_key(|c| text_of(c.fields.get(f))),
        _ => hits.sort_by_key(|c| std::cmp::Reverse(c.date)),
    }
    let mut columns = all("_columns");
    if columns.is_empty() {
        columns = ["uuid", "date", "signature", "product", "version"].iter().map(|s| s.to_string()).collect();
    }
    columns.retain(|c| pii || !PROTECTED.contains(&c.as_str()));
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(number)
        .map(|c| {
            let m: Map<String, Value> =
                columns.iter().filter_map(|col| c.fields.get(col).map(|v| (col.clone(), v.clone()))).collect();
            Value::Object(m)
        })
        .collect();
    let size: usize = one(&q, "_facets_size").and_then(|v| v.parse().ok()).unwrap_or(50);
    let mut facets = Map::new();
    if size > 0 {
        let mut wanted = all("_facets");
        if wanted.is_empty() {
            wanted.push("signature".into());
        }
        for f in wanted {
            let (k, v) = agg(&hits, &f, size);
            facets.insert(k, v);
        }
        for (k, v) in &q {
            if let Some(path) = k.strip_prefix("_aggs.") {
                let fields: Vec<&str> = path.split('.').collect();
                facets.insert(fields[0].to_string(), nested(&hits, &fields, v, size));
            }
            if let Some(field) = k.strip_prefix("_histogram.") {
                let subs: Vec<&str> = v.split(',').collect();
                let mut days: BTreeMap<NaiveDate, Vec<&FakeCrash>> = BTreeMap::new();
                if field == "date" {
                    for c in &hits {
                        days.entry(c.date.date_naive()).or_default().push(c);
                    }
                }
                let buckets: Vec<Value> = days
                    .into_iter()
                    .map(|(d, cs)| {
                        let sub: Map<String, Value> = subs.iter().map(|sf| agg(&cs, sf, size)).collect();
                        json!({"term": format!("{d}T00:00:00+00:00"), "count": cs.len(), "facets": sub})
                    })
                    .collect();
                facets.insert(format!("histogram_{field}"), Value::Array(buckets));
            }
        }
    }
    axum::Json(json!({"hits": page, "total": hits.len(), "facets": facets, "errors": []})).into_response()
}

/// `_aggs.a.b=c`: terms of a, each with terms of b, each with c (terms or a cardinality).
fn nested(crashes: &[&FakeCrash], fields: &[&str], last: &str, size: usize) -> Value {
    let Some((first, rest)) = fields.split_first() else { return agg(crashes, last, size).1 };
    let buckets: Vec<Value> = terms_of(crashes, first, size)
        .into_iter()
        .map(|(t, cs)| {
            let sub = match rest.first() {
                Some(next) => json!({ *next: nested(&cs, rest, last, size) }),
                None => {
                    let (k, v) = agg(&cs, last, size);
                    json!({ k: v })
                }
            };
            json!({"term": t, "count": cs.len(), "facets": sub})
        })
        .collect();
    Value::Array(buckets)
}
