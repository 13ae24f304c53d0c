//! The crash reporter side: encode crashes as a Breakpad client does and send them to a
//! collector (or write them into a local spool as the collector would), many at once, with
//! retries, an optional rate, and a summary with latency percentiles. Crashes come from files,
//! a store, or the generator ([`generated`]).

pub mod encode;
pub mod input;
mod render;
pub mod send;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt;

use crate::collector::{Collector, CollectorOptions};
use crate::crash::CrashId;
use crate::progress::Progress;
use crate::spool::Spool;

pub use encode::{Body, DumpPart, Encoding, Outgoing};
pub use input::{generated, CrashSpec, DumpArg, SubmitSource};
pub use send::{Reply, Sender, Target};

/// Where to send: a collector URL or a spool directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    Url(String),
    Spool(PathBuf),
}

impl TargetSpec {
    /// `http://` and `https://` are URLs; anything else is a spool directory, except what
    /// looks like a URL missing its scheme (`localhost:8000`, `ftp://...`), which is refused.
    pub fn parse(s: &str) -> anyhow::Result<TargetSpec> {
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(TargetSpec::Url(s.to_string()));
        }
        anyhow::ensure!(!s.contains("://"), "{s}: only http:// and https:// URLs (or a spool directory)");
        let host_port = s.split('/').next().unwrap_or("");
        let looks_like_host = host_port
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        anyhow::ensure!(!looks_like_host, "{s}: looks like a host; did you mean http://{s} ?");
        Ok(TargetSpec::Spool(PathBuf::from(s)))
    }
}

/// How to submit.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub target: TargetSpec,
    pub encoding: Encoding,
    pub concurrency: usize,
    /// Send every crash this many times.
    pub repeat: u32,
    /// At most this many crashes started per second.
    pub rate: Option<f64>,
    pub bearer_token: Option<String>,
    pub retries: u32,
    pub retry_delay: Duration,
    /// Per-request timeout (HTTP).
    pub timeout: Duration,
}

impl Default for SubmitOptions {
    fn default() -> SubmitOptions {
        SubmitOptions {
            target: TargetSpec::Url("http://127.0.0.1:8000/submit".into()),
            encoding: Encoding::default(),
            concurrency: 1,
            repeat: 1,
            rate: None,
            bearer_token: None,
            retries: 3,
            retry_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(300),
        }
    }
}

/// How one crash ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitStatus {
    /// Answered `CrashID=bp-...`.
    Accepted,
    /// Answered `Discarded=<reason>` (throttled or malformed).
    Discarded,
    /// No usable answer: an HTTP error without a `Discarded=` body, or no connection.
    Failed,
}

/// The result of one crash.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubmitResult {
    /// Position in the run (0-based; repeats count separately).
    pub index: usize,
    /// Where the crash came from (the store crash ID), when not built from arguments.
    pub source: Option<String>,
    pub status: SubmitStatus,
    /// The HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The answer's body (trimmed).
    pub body: String,
    pub crash_id: Option<CrashId>,
    /// The discard reason (`rule_x`, `malformed_no_annotations`) or the failure.
    pub reason: Option<String>,
    pub latency_ms: f64,
    pub attempts: u32,
}

impl SubmitResult {
    /// The line printed for it: the collector's answer, or `Failed=<reason>`.
    pub fn line(&self) -> String {
        match (&self.status, &self.crash_id) {
            (SubmitStatus::Accepted, Some(id)) => format!("CrashID=bp-{id}"),
            (SubmitStatus::Discarded, _) => format!("Discarded={}", self.reason.as_deref().unwrap_or("")),
            _ => format!("Failed={}", self.reason.as_deref().unwrap_or("unknown")),
        }
    }

    fn from_reply(reply: Result<Reply, String>, attempts: u32, latency: Duration) -> SubmitResult {
        let mut r = SubmitResult {
            index: 0,
            source: None,
            status: SubmitStatus::Failed,
            http_status: None,
            body: String::new(),
            crash_id: None,
            reason: None,
            latency_ms: (latency.as_secs_f64() * 1e6).round() / 1e3,
            attempts,
        };
        match reply {
            Err(e) => r.reason = Some(format!("connection: {e}")),
            Ok(reply) => {
                let body = reply.body.trim().to_string();
                r.http_status = Some(reply.status);
                if let Some(reason) = body.strip_prefix("Discarded=") {
                    r.status = SubmitStatus::Discarded;
                    r.reason = Some(reason.to_string());
                } else if let (200, Some(id)) = (reply.status, body.strip_prefix("CrashID=")) {
                    match CrashId::from_input(id) {
                        Ok(id) => {
                            r.status = SubmitStatus::Accepted;
                            r.crash_id = Some(id);
                        }
                        Err(_) => r.reason = Some("bad_crash_id_in_answer".into()),
                    }
                } else {
                    r.reason = Some(format!("http_{}", reply.status));
                }
                r.body = body;
            }
        }
        r
    }
}

/// The run's totals.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SubmitReport {
    pub accepted: u64,
    pub discarded: BTreeMap<String, u64>,
    pub failed: u64,
    /// Crashes not started because the run was stopped.
    pub skipped: u64,
    pub elapsed_s: f64,
    pub crashes_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl SubmitReport {
    pub fn discarded_total(&self) -> u64 {
        self.discarded.values().sum()
    }

    fn from_results(results: &[SubmitResult], elapsed: Duration, skipped: u64) -> SubmitReport {
        let mut s = SubmitReport { skipped, elapsed_s: elapsed.as_secs_f64(), ..SubmitReport::default() };
        for r in results {
            match r.status {
                SubmitStatus::Accepted => s.accepted += 1,
                SubmitStatus::Discarded => *s.discarded.entry(r.reason.clone().unwrap_or_default()).or_default() += 1,
                SubmitStatus::Failed => s.failed += 1,
            }
        }
        let mut lat: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
        lat.sort_by(f64::total_cmp);
        s.p50_ms = percentile(&lat, 0.50);
        s.p99_ms = percentile(&lat, 0.99);
        if s.elapsed_s > 0.0 {
            s.crashes_per_s = results.len() as f64 / s.elapsed_s;
        }
        s
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn build_sender(opts: &SubmitOptions) -> anyhow::Result<Sender> {
    let target = match &opts.target {
        TargetSpec::Url(u) => Target::Url(send::submit_url(u)?),
        TargetSpec::Spool(dir) => {
            let spool = Spool::open(dir, true)?;
            let copts = CollectorOptions { bearer_token: opts.bearer_token.clone(), ..CollectorOptions::default() };
            Target::Spool(Arc::new(Collector::new(spool, copts)))
        }
    };
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .pool_max_idle_per_host(opts.concurrency.max(1))
        .build()
        .context("building the HTTP client")?;
    Ok(Sender {
        client,
        target,
        bearer_token: opts.bearer_token.clone(),
        user_agent: format!("crashctl/{}", env!("CARGO_PKG_VERSION")),
        retries: opts.retries,
        retry_delay: opts.retry_delay,
    })
}

/// One crash to send: where it comes from and, for crashes built once, its encoded body.
struct Job {
    index: usize,
    source: SubmitSource,
    body: Option<Arc<Body>>,
}

/// Sends every source `opts.repeat` times, `opts.concurrency` at once, calling `on_result` as
/// each finishes (in completion order). Stops starting new crashes when `stop` is set.
pub fn submit(
    sources: Vec<SubmitSource>,
    opts: &SubmitOptions,
    progress: Arc<dyn Progress>,
    stop: Arc<AtomicBool>,
    on_result: &mut dyn FnMut(&SubmitResult),
) -> anyhow::Result<SubmitReport> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(submit_async(sources, opts, progress, stop, on_result))
}

async fn submit_async(
    sources: Vec<SubmitSource>,
    opts: &SubmitOptions,
    progress: Arc<dyn Progress>,
    stop: Arc<AtomicBool>,
    on_result: &mut dyn FnMut(&SubmitResult),
) -> anyhow::Result<SubmitReport> {
    let sender = Arc::new(build_sender(opts)?);
    let bodies: Vec<Option<Arc<Body>>> = sources
        .iter()
        .map(|s| match s {
            SubmitSource::Built(c) => Some(Arc::new(encode::encode(c, opts.encoding))),
            SubmitSource::Store { .. } | SubmitSource::Generated { .. } => None,
        })
        .collect();
    let total = sources.len() * opts.repeat as usize;
    progress.set_total(total as u64);
    let jobs = (0..total).map(|i| {
        let k = i % sources.len().max(1);
        Job { index: i, source: sources[k].clone(), body: bodies[k].clone() }
    });
    let pacer = opts.rate.filter(|r| *r > 0.0).map(|r| {
        let mut iv = tokio::time::interval(Duration::from_secs_f64(1.0 / r));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Arc::new(tokio::sync::Mutex::new(iv))
    });
    let start = Instant::now();
    let encoding = opts.encoding;
    let stop_flag = Arc::clone(&stop);
    let mut results = futures_util::stream::iter(jobs)
        .take_while(move |_| std::future::ready(!stop_flag.load(Ordering::SeqCst)))
        .map(|job| {
            let sender = Arc::clone(&sender);
            let pacer = pacer.clone();
            async move {
                if let Some(p) = pacer {
                    p.lock().await.tick().await;
                }
                run_job(job, &sender, encoding).await
            }
        })
        .buffer_unordered(opts.concurrency.max(1));
    let mut done = Vec::with_capacity(total);
    while let Some(r) = results.next().await {
        progress.inc(1);
        on_result(&r);
        done.push(r);
    }
    progress.finish();
    let skipped = (total - done.len()) as u64;
    Ok(SubmitReport::from_results(&done, start.elapsed(), skipped))
}

async fn run_job(job: Job, sender: &Sender, encoding: Encoding) -> SubmitResult {
    let start = Instant::now();
    let label = job.source.label();
    let body = match job.body {
        Some(b) => Ok(b),
        None => {
            let source = job.source.clone();
            tokio::task::spawn_blocking(move || source.load().map(|c| Arc::new(encode::encode(&c, encoding))))
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("loading failed: {e}")))
        }
    };
    let mut r = match body {
        Ok(body) => {
            let (reply, attempts) = sender.send(&body).await;
            SubmitResult::from_reply(reply, attempts, start.elapsed())
        }
        Err(e) => {
            let mut r = SubmitResult::from_reply(Err(String::new()), 0, start.elapsed());
            r.reason = Some(format!("{e:#}"));
            r
        }
    };
    r.index = job.index;
    r.source = label;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> SubmitResult {
        SubmitResult::from_reply(Ok(Reply { status, body: body.into() }), 1, Duration::from_millis(5))
    }

    #[test]
    fn targets() {
        assert_eq!(TargetSpec::parse("http://h:1").unwrap(), TargetSpec::Url("http://h:1".into()));
        assert_eq!(TargetSpec::parse("./spool").unwrap(), TargetSpec::Spool("./spool".into()));
        assert_eq!(TargetSpec::parse("/data/spool:old").unwrap(), TargetSpec::Spool("/data/spool:old".into()));
        assert!(TargetSpec::parse("localhost:8000").is_err());
        assert!(TargetSpec::parse("127.0.0.1:8000/submit").is_err());
        assert!(TargetSpec::parse("ftp://h/").is_err());
    }

    #[test]
    fn answers_are_classified() {
        let id = "de1bb258-cbbf-4589-a673-34f800160918";
        let a = reply(200, &format!("CrashID=bp-{id}\n"));
        assert_eq!((a.status.clone(), a.crash_id.as_ref().unwrap().as_str()), (SubmitStatus::Accepted, id));
        assert_eq!(a.line(), format!("CrashID=bp-{id}"));
        let d = reply(200, "Discarded=rule_no_b");
        assert_eq!((d.status.clone(), d.reason.as_deref()), (SubmitStatus::Discarded, Some("rule_no_b")));
        let m = reply(400, "Discarded=malformed_no_annotations");
        assert_eq!(m.line(), "Discarded=malformed_no_annotations");
        let big = reply(413, "");
        assert_eq!((big.status.clone(), big.line()), (SubmitStatus::Failed, "Failed=http_413".to_string()));
        let down = SubmitResult::from_reply(Err("connection refused".into()), 4, Duration::ZERO);
        assert_eq!(down.line(), "Failed=connection: connection refused");
    }

    #[test]
    fn summary_counts_and_percentiles() {
        let mut rs: Vec<SubmitResult> = (1..=100)
            .map(|i| {
                let mut r = reply(200, "CrashID=bp-de1bb258-cbbf-4589-a673-34f800160918");
                r.latency_ms = i as f64;
                r
            })
            .collect();
        rs.push(reply(200, "Discarded=rule_x"));
        rs.push(reply(500, ""));
        let s = SubmitReport::from_results(&rs, Duration::from_secs(2), 0);
        assert_eq!((s.accepted, s.failed, s.discarded_total()), (100, 1, 1));
        assert_eq!(s.discarded["rule_x"], 1);
        assert_eq!(s.crashes_per_s, 51.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
        assert!(s.p99_ms >= 99.0);
    }
}
