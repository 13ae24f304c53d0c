//! `crashctl stats --serve ADDR`: an ops page. One sampler thread scans every few seconds and
//! keeps the last hour of samples; a small bounded HTTP/1.1 server answers `/metrics`
//! (Prometheus text, the families of `--format prometheus`), `/stats.json` (the latest scan)
//! and `/` (a self-contained HTML page that reloads itself: backlog, arrival and drain per
//! minute, oldest age, hot directories and per-queue depth as inline SVG, no external assets).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::render::{human_rate, thousands};
use super::report::Stats;
use super::time::format_time;
use super::{collect, StatsOptions};
use crate::progress::NoProgress;

/// At most this many connections are served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 16;
/// A request head larger than this is refused.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Samples kept for the charts (at the default 5 s: the last hour).
pub const MAX_SAMPLES: usize = 720;

/// How the page is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time between two scans (and the page's reload period).
    pub every: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { every: Duration::from_secs(5) }
    }
}

/// One scan, as the charts need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Crashes waiting in the spool.
    pub backlog: Option<u64>,
    /// Pending messages of all queues.
    pub pending: Option<u64>,
    pub oldest_age_seconds: Option<i64>,
    pub arrival_per_minute: Option<f64>,
    pub drain_per_minute: Option<f64>,
}

impl Sample {
    fn of(stats: &Stats) -> Sample {
        let rates = stats.rates.as_ref();
        Sample {
            at: stats.scanned_at,
            backlog: stats.spool.as_ref().map(|s| s.crashes),
            pending: stats.queue.as_ref().map(|q| q.queues.iter().map(|d| d.pending).sum()),
            oldest_age_seconds: stats.spool.as_ref().and_then(|s| s.oldest_age_seconds),
            arrival_per_minute: rates.and_then(|r| r.spool_arrival_per_second).map(|r| r * 60.0),
            drain_per_minute: rates.and_then(|r| r.spool_drain_per_second).map(|r| r * 60.0),
        }
    }
}

/// What the sampler has seen: the latest scan and the recent samples.
#[derive(Default)]
pub struct History {
    pub latest: Option<Stats>,
    pub samples: VecDeque<Sample>,
    /// Why the last scan failed (an interrupted scan), if it did.
    pub error: Option<String>,
}

impl History {
    /// Adds a scan (its rates computed from the previous one).
    pub fn push(&mut self, mut stats: Stats) {
        if let Some(prev) = &self.latest {
            stats.set_rates(prev);
        }
        self.samples.push_back(Sample::of(&stats));
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.latest = Some(stats);
        self.error = None;
    }
}

/// Serves the page on `listener` until `stop` is set, scanning `stats` every
/// [`ServeOptions::every`]. Returns when stopped (within about 100 ms).
pub fn serve(
    listener: TcpListener,
    mut stats: StatsOptions,
    options: &ServeOptions,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    stats.scan.track_ids = true;
    stats.stop = Some(Arc::clone(&stop));
    let history = Arc::new(Mutex::new(History::default()));
    let sampler = {
        let (history, stop, every) = (Arc::clone(&history), Arc::clone(&stop), options.every);
        std::thread::Builder::new().name("crashctl-stats-sampler".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match collect(&stats, &NoProgress) {
                    Ok(s) => lock(&history).push(s),
                    Err(e) => lock(&history).error = Some(e.to_string()),
                }
                crate::stop::sleep_unless_stopped(every, &stop);
            }
        })?
    };
    let active = Arc::new(AtomicUsize::new(0));
    let reload = options.every.as_secs().max(1);
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((conn, _)) => {
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    let _ = busy(conn);
                    continue;
                }
                let (history, held) = (Arc::clone(&history), Arc::clone(&active));
                let spawned = std::thread::Builder::new().name("crashctl-stats-http".into()).spawn(move || {
                    let _ = answer(conn, &history, reload);
                    held.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(50)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let _ = sampler.join();
    Ok(())
}

fn lock(history: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|e| e.into_inner())
}

fn busy(mut conn: TcpStream) -> io::Result<()> {
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    respond(&mut conn, "503 Service Unavailable", "text/plain; charset=utf-8", b"too many connections\n")
}

/// Reads one request and answers it (then closes the connection).
fn answer(conn: TcpStream, history: &Mutex<History>, reload: u64) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(conn.try_clone()?).take(MAX_HEAD as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut conn = conn;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(&mut conn, "405 Method Not Allowed", "text/plain; charset=utf-8", b"GET only\n");
    }
    let path = target.split('?').next().unwrap_or("");
    let (status, kind, body) = {
        let h = lock(history);
        match path {
            "/" => ("200 OK", "text/html; charset=utf-8", page(&h, reload).into_bytes()),
            "/metrics" | "/stats.json" => match &h.latest {
                None => ("503 Service Unavailable", "text/plain; charset=utf-8", b"first scan in progress\n".to_vec()),
                Some(s) => {
                    let mut body = Vec::new();
                    if path == "/metrics" {
                        s.print_prometheus(&mut body)?;
                        ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
                    } else {
                        s.print_json(&mut body)?;
                        ("200 OK", "application/json", body)
                    }
                }
            },
            _ => ("404 Not Found", "text/plain; charset=utf-8", b"not found: try / or /metrics\n".to_vec()),
        }
    };
    let body = if method == "HEAD" { &[][..] } else { &body[..] };
    respond(&mut conn, status, kind, body)
}

fn respond(conn: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body)?;
    conn.flush()
}

/// The ops page (self-contained: inline CSS and SVG, no script, no external asset).
pub fn page(h: &History, reload: u64) -> String {
    let mut html = String::with_capacity(16 * 1024);
    html.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{reload}\"><title>crashctl stats</title>\
         <style>{STYLE}</style></head><body>\n<h1>crashctl stats</h1>\n"
    ));
    let Some(latest) = &h.latest else {
        html.push_str("<p class=\"note\">First scan in progress&hellip;</p></body></html>\n");
        return html;
    };
    html.push_str(&format!(
        "<p class=\"note\">Scanned at {} in {:.1} s; this page redraws every {reload} s. \
         <a href=\"/metrics\">/metrics</a> &middot; <a href=\"/stats.json\">/stats.json</a></p>\n",
        format_time(&latest.scanned_at),
        latest.scan_seconds
    ));
    if let Some(e) = &h.error {
        html.push_str(&format!("<p class=\"alarm\">Last scan failed: {}</p>\n", escape(e)));
    }
    for p in latest.unavailable() {
        html.push_str(&format!("<p class=\"alarm\">UNAVAILABLE {}</p>\n", escape(&p.message)));
    }
    html.push_str(&tiles(latest, h.samples.back()));
    html.push_str("<div class=\"grid\">\n");
    let samples: Vec<&Sample> = h.samples.iter().collect();
    let series = |f: fn(&Sample) -> Option<f64>| samples.iter().map(|s| f(s)).collect::<Vec<_>>();
    html.push_str(&chart(
        "Backlog",
        &[
            ("spool crashes", "#2563eb", series(|s| s.backlog.map(|n| n as f64))),
            ("queue pending", "#9333ea", series(|s| s.pending.map(|n| n as f64))),
        ],
    ));
    html.push_str(&chart(
        "Arrival and drain (per minute)",
        &[
            ("arrived/min", "#16a34a", series(|s| s.arrival_per_minute)),
            ("drained/min", "#dc2626", series(|s| s.drain_per_minute)),
        ],
    ));
    html.push_str(&chart(
        "Oldest waiting crash (minutes)",
        &[("oldest age", "#ea580c", series(|s| s.oldest_age_seconds.map(|a| a.max(0) as f64 / 60.0)))],
    ));
    html.push_str(&queue_bars(latest));
    html.push_str("</div>\n");
    html.push_str(&hot_spots(latest));
    html.push_str("</body></html>\n");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#111;background:#fafafa}\
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1em;margin:.2em 0}.note{color:#555;font-size:.9em}\
.alarm{color:#b91c1c;font-weight:bold}.tiles{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}\
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}\
.tile b{display:block;font-size:1.5em}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1em}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em}\
table{border-collapse:collapse;background:#fff}td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.legend span{margin-right:1em;font-size:.85em}";

fn tiles(latest: &Stats, last: Option<&Sample>) -> String {
    let mut t = String::from("<div class=\"tiles\">");
    let mut tile = |label: &str, value: String| t.push_str(&format!("<div class=\"tile\">{label}<b>{value}</b></div>"));
    if let Some(s) = &latest.spool {
        tile("spool backlog", thousands(s.crashes));
        tile("oldest", s.oldest_age_seconds.map_or("-".into(), |a| format!("{} min", thousands(a.max(0) as u64 / 60))));
        tile("hot directories", thousands(s.hot_spots.len() as u64));
    }
    if let Some(q) = &latest.queue {
        tile("queue pending", thousands(q.queues.iter().map(|d| d.pending).sum()));
    }
    if let Some(s) = last {
        let per_min = |r: Option<f64>| r.map_or("-".to_string(), |r| human_rate(r).replace("/s", "/min"));
        tile("arriving", per_min(s.arrival_per_minute));
        tile("draining", per_min(s.drain_per_minute));
    }
    if let Some(s) = &latest.store {
        tile("store raw / processed", format!("{} / {}", thousands(s.raw), thousands(s.processed)));
    }
    t.push_str("</div>\n");
    t
}

/// A line chart of a few series over the samples (inline SVG).
fn chart(title: &str, series: &[(&str, &str, Vec<Option<f64>>)]) -> String {
    const W: f64 = 400.0;
    const H: f64 = 140.0;
    const PAD: f64 = 36.0;
    let max = series.iter().flat_map(|s| s.2.iter().flatten()).fold(0.0_f64, |a, &b| a.max(b));
    let top = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let n = series.iter().map(|s| s.2.len()).max().unwrap_or(0);
    let x = |i: usize| PAD + if n <= 1 { 0.0 } else { i as f64 * (W - PAD - 4.0) / (n - 1) as f64 };
    let y = |v: f64| 4.0 + (H - 24.0) * (1.0 - v / top);
    let mut svg = format!(
        "<div class=\"card\"><h2>{}</h2><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {W} {H}\" width=\"100%\" \
         xmlns=\"http://www.w3.org/2000/svg\"><line x1=\"{PAD}\" y1=\"{}\" x2=\"{W}\" y2=\"{}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"12\" font-size=\"10\">{}</text><text x=\"2\" y=\"{}\" font-size=\"10\">0</text>",
        escape(title),
        escape(title),
        y(0.0),
        y(0.0),
        short_number(top),
        y(0.0)
    );
    for (_, color, values) in series {
        let points: Vec<String> =
            values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
        if points.len() == 1 {
            let (px, py) = points[0].split_once(',').unwrap_or(("0", "0"));
            svg.push_str(&format!("<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{color}\"/>"));
        } else if !points.is_empty() {
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            ));
        }
    }
    svg.push_str(&format!("<text x=\"{PAD}\" y=\"{}\" font-size=\"10\">{} samples</text></svg>", H - 4.0, n));
    svg.push_str("<div class=\"legend\">");
    for (name, color, values) in series {
        let last = values.iter().rev().flatten().next().map_or("-".to_string(), |v| short_number(*v));
        svg.push_str(&format!("<span style=\"color:{color}\">&#9632; {} {last}</span>", escape(name)));
    }
    svg.push_str("</div></div>\n");
    svg
}

/// Per-queue depth as horizontal bars (pending, claimed, failed).
fn queue_bars(latest: &Stats) -> String {
    let Some(q) = &latest.queue else { return String::new() };
    let max = q.queues.iter().map(|d| d.pending + d.claimed + d.failed).max().unwrap_or(0).max(1) as f64;
    let row_h = 26.0;
    let h = row_h * q.queues.len() as f64 + 8.0;
    let mut svg = format!(
        "<div class=\"card\"><h2>Queue depth ({})</h2><svg role=\"img\" aria-label=\"queue depth\" viewBox=\"0 0 420 {h}\" \
         width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(&q.location)
    );
    for (i, d) in q.queues.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        svg.push_str(&format!("<text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>", y + 14.0, escape(&d.queue)));
        let mut x = 90.0;
        for (n, color) in [(d.pending, "#9333ea"), (d.claimed, "#0891b2"), (d.failed, "#dc2626")] {
            let w = n as f64 / max * 110.0;
            if n > 0 {
                svg.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"{color}\"/>",
                    w.max(1.0)
                ));
            }
            x += w;
        }
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} pending, {} claimed, {} failed</text>",
            x + 4.0,
            y + 14.0,
            thousands(d.pending),
            thousands(d.claimed),
            thousands(d.failed)
        ));
    }
    svg.push_str("</svg><div class=\"legend\"><span style=\"color:#9333ea\">&#9632; pending</span>\
                  <span style=\"color:#0891b2\">&#9632; claimed</span><span style=\"color:#dc2626\">&#9632; failed</span></div></div>\n");
    svg
}

/// The hot directories (entries over the threshold), largest first.
fn hot_spots(latest: &Stats) -> String {
    let Some(s) = &latest.spool else { return String::new() };
    let mut html = format!("<h2>Hot directories (over {} entries)</h2>\n", thousands(s.hot_spot_threshold));
    if s.hot_spots.is_empty() {
        html.push_str("<p class=\"note\">None.</p>\n");
        return html;
    }
    html.push_str("<table><tr><th>directory</th><th>entries</th></tr>\n");
    for spot in s.hot_spots.iter().take(20) {
        html.push_str(&format!(
            "<tr><td class=\"alarm\">{}</td><td class=\"n\">{}</td></tr>\n",
            escape(&spot.path),
            thousands(spot.entries)
        ));
    }
    html.push_str("</table>\n");
    html
}

/// `1.2k`, `3.4M`, `12`, `0.5`.
fn short_number(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e4 => format!("{:.0}k", v / 1e3),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v if v >= 10.0 || v == v.trunc() => format!("{v:.0}"),
        v => format!("{v:.1}"),
    }
}

/// Text for HTML (element content and attribute values).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueDepth;
    use crate::stats::{HotSpot, QueueStats, SpoolStats};

    fn stats(crashes: u64, ids: Vec<u64>, at: DateTime<Utc>) -> Stats {
        let spool = SpoolStats {
            path: "/spool".into(),
            crashes,
            id_hashes: ids,
            oldest: Some(at - chrono::Duration::minutes(7)),
            oldest_age_seconds: Some(420),
            hot_spot_threshold: 10,
            hot_spots: vec![HotSpot { path: "/spool/<20261129>/17".into(), entries: 12 }],
            ..SpoolStats::default()
        };
        let depth = |queue: &str, pending| QueueDepth { queue: queue.into(), pending, ..QueueDepth::default() };
        Stats {
            scanned_at: at,
            scan_seconds: 0.1,
            spool: Some(spool),
            queue: Some(QueueStats { location: "/q".into(), queues: vec![depth("priority", 0), depth("standard", 7)] }),
            store: None,
            problems: Vec::new(),
            problems_total: 0,
            rates: None,
            thresholds: None,
        }
    }

    #[test]
    fn the_page_draws_every_chart_inline_and_escapes_names() {
        let mut h = History::default();
        assert!(page(&h, 5).contains("First scan in progress"));
        let t = Utc::now();
        h.push(stats(3, vec![1, 2, 3], t));
        h.push(stats(4, vec![2, 3, 4, 5], t + chrono::Duration::seconds(30)));
        let last = h.samples.back().unwrap();
        assert_eq!((last.arrival_per_minute, last.drain_per_minute), (Some(4.0), Some(2.0)), "2 in, 1 out in 30 s");
        let html = page(&h, 5);
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"), "{html}");
        for title in ["Backlog", "Arrival and drain (per minute)", "Oldest waiting crash (minutes)", "Queue depth (/q)"]
        {
            assert!(html.contains(&format!("<h2>{title}</h2><svg")), "{title}: {html}");
        }
        assert!(html.contains("7 pending, 0 claimed, 0 failed"), "{html}");
        assert!(html.contains("/spool/&lt;20261129&gt;/17"), "hot directory, escaped: {html}");
        assert!(!html.contains("<script") && !html.contains("src="), "self-contained: {html}");
        let external = html.matches("://").count();
        assert_eq!(external, html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(), "no external link: {html}");
    }

    #[test]
    fn samples_are_bounded() {
        let mut h = History::default();
        let t = Utc::now();
        for i in 0..MAX_SAMPLES + 5 {
            h.push(stats(1, vec![], t + chrono::Duration::seconds(i as i64)));
        }
        assert_eq!(h.samples.len(), MAX_SAMPLES);
    }
}
