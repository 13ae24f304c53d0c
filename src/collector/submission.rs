//! The collector's decision for one submission, without any HTTP server: [`Collector::handle`]
//! validates, throttles and saves a crash (into the spool, or a store and queue), and answers
//! as Antenna does; [`finish_raw_crash`] builds the raw crash it saves.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::budget::{MemoryBudget, Reservation, DEFAULT_MAX_MEMORY};
use super::metrics::Metrics;
use super::parse::{self, Limits, Malformed, Payload, Rejection, DEFAULT_MAX_DUMPS};
use super::sink::Sink;
use super::throttle::Throttler;
use crate::crash::{Crash, CrashId, DumpData, RawCrash, Throttle};
use crate::spool::Spool;

/// Annotations the collector removes before saving (private data).
pub const PRIVATE_ANNOTATIONS: [&str; 4] = ["Email", "TelemetryClientId", "TelemetryServerURL", "TelemetrySessionId"];

/// Default limit on a request body as sent: 25 MiB.
pub const DEFAULT_MAX_BODY: u64 = 25 * 1024 * 1024;
/// Default cap on what a gzip body may decompress to: 100 MiB.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 100 * 1024 * 1024;

/// How the collector decides and saves (everything but the HTTP server).
#[derive(Debug, Clone)]
pub struct CollectorOptions {
    pub throttler: Throttler,
    /// The token that lets a client choose its crash ID (`uuid` annotation).
    pub bearer_token: Option<String>,
    pub max_decompressed_size: u64,
    /// Dumps kept for one crash (400 `Discarded=malformed_too_many_dumps` past it).
    pub max_dumps: usize,
    /// Memory budget for the request bodies in flight, decompressed bytes included (503 past it).
    pub max_memory: u64,
    /// Attempts to save a crash before answering 500.
    pub save_attempts: u32,
    pub save_retry_delay: Duration,
}

impl Default for CollectorOptions {
    fn default() -> CollectorOptions {
        CollectorOptions {
            throttler: Throttler::default(),
            bearer_token: None,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED,
            max_dumps: DEFAULT_MAX_DUMPS,
            max_memory: DEFAULT_MAX_MEMORY,
            save_attempts: 3,
            save_retry_delay: Duration::from_millis(200),
        }
    }
}

/// A collector writing into one spool, or into a store and queue.
#[derive(Debug)]
pub struct Collector {
    sink: Sink,
    opts: CollectorOptions,
    budget: Arc<MemoryBudget>,
    pub metrics: Metrics,
}

/// What the collector answers one request, and the log line for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub record: CrashRecord,
}

/// One log line per submission.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashRecord {
    /// The crash ID, when one was given.
    pub id: Option<CrashId>,
    /// Body bytes as sent.
    pub size: u64,
    pub dumps: Vec<String>,
    /// The throttle rule that decided, when the crash got that far.
    pub rule: Option<String>,
    /// `accept`, `defer`, `fakeaccept`, `rejected`, `malformed_<reason>`, `save_failed`...
    pub outcome: String,
    /// What went wrong: why the save failed, or why an accepted crash was not queued.
    pub error: Option<String>,
}

impl fmt::Display for CrashRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "crash {id} {}", self.outcome)?,
            None => write!(f, "crash - {}", self.outcome)?,
        }
        write!(f, " size={}", self.size)?;
        if !self.dumps.is_empty() {
            write!(f, " dumps={}", self.dumps.join(","))?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " rule={rule}")?;
        }
        if let Some(error) = &self.error {
            write!(f, " error={error:?}")?;
        }
        Ok(())
    }
}

/// The lower-case name of a throttle result, as in metrics and logs.
pub fn result_name(t: Throttle) -> &'static str {
    match t {
        Throttle::Accept => "accept",
        Throttle::Defer => "defer",
        Throttle::Reject => "reject",
        Throttle::FakeAccept => "fakeaccept",
    }
}

impl Collector {
    /// A collector writing into a spool.
    pub fn new(spool: Spool, opts: CollectorOptions) -> Collector {
        Collector::with_sink(Sink::Spool(spool), opts)
    }

    pub fn with_sink(sink: Sink, opts: CollectorOptions) -> Collector {
        let budget = MemoryBudget::new(opts.max_memory);
        Collector { sink, opts, budget, metrics: Metrics::default() }
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// The spool, when crashes go to one.
    pub fn spool(&self) -> Option<&Spool> {
        match &self.sink {
            Sink::Spool(s) => Some(s),
            Sink::Store { .. } => None,
        }
    }

    pub fn max_decompressed_size(&self) -> u64 {
        self.opts.max_decompressed_size
    }

    /// The memory budget request bodies are charged to.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Handles one submission received at `received`: parse, authorize a client crash ID,
    /// throttle, finish the raw crash, save it durably. Blocking (it writes and fsyncs).
    pub fn handle(&self, headers: &HeaderMap, body: Bytes, received: DateTime<Utc>) -> Answer {
        let mut reservation = self.budget.reserve();
        self.handle_reserved(headers, body, received, &mut reservation)
    }

    /// [`Collector::handle`] for a body already charged to `reservation`, which the inflated
    /// body is charged to as well (503 when the budget cannot hold it).
    pub fn handle_reserved(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        received: DateTime<Utc>,
        reservation: &mut Reservation,
    ) -> Answer {
        let size = body.len() as u64;
        self.metrics.received_bytes(size);
        let info = match parse::check_headers(headers) {
            Ok(info) => info,
            Err(m) => return self.reject(m.into(), size),
        };
        let limits = Limits { max_decompressed: self.opts.max_decompressed_size, max_dumps: self.opts.max_dumps };
        let payload = match parse::parse_body_within(&info, body, limits, &mut |n| reservation.grow(n)) {
            Ok(p) => p,
            Err(r) => return self.reject(r, size),
        };
        let client_id = match self.client_crash_id(&payload.annotations, info.bearer.as_deref()) {
            Ok(id) => id,
            Err(r) => return self.reject(r, size),
        };
        let decision = self.opts.throttler.throttle(&payload.annotations, received.date_naive());
        self.metrics.throttled(&decision.rule, result_name(decision.result));
        let mut record = CrashRecord {
            id: None,
            size,
            dumps: payload.dumps.iter().map(|(n, _)| n.to_string()).collect(),
            rule: Some(decision.rule.clone()),
            outcome: result_name(decision.result).into(),
            error: None,
        };
        if decision.result == Throttle::Reject {
            let body = format!("Discarded=rule_{}", decision.rule);
            self.metrics.rejected(&format!("rule_{}", decision.rule));
            return Answer { status: 200, body, record };
        }
        let id = client_id.unwrap_or_else(|| CrashId::generate(decision.result, received.date_naive()));
        record.id = Some(id.clone());
        let ok = Answer { status: 200, body: format!("CrashID=bp-{id}\n"), record: record.clone() };
        if decision.result == Throttle::FakeAccept {
            return ok;
        }
        let raw = finish_raw_crash(&payload, &id, &decision.rule, received, &info.user_agent);
        let mut crash = Crash::new(id, raw);
        for (name, data) in payload.dumps {
            crash.add_dump(name, DumpData::Bytes(data));
        }
        match self.save(&crash, received) {
            Ok(()) => {
                self.metrics.accepted();
                let mut ok = ok;
                if decision.result == Throttle::Accept {
                    ok.record.error = self.publish(&crash.id);
                }
                ok
            }
            Err(e) => {
                record.outcome = "save_failed".into();
                record.error = Some(format!("{e:#}"));
                Answer { status: 500, body: String::new(), record }
            }
        }
    }

    /// The answer to a refused request (counted in the metrics).
    pub fn reject(&self, r: Rejection, size: u64) -> Answer {
        self.metrics.rejected(&r.name());
        let record = CrashRecord { id: None, size, dumps: Vec::new(), rule: None, outcome: r.name(), error: None };
        Answer { status: r.status(), body: r.body(), record }
    }

    /// A client-chosen crash ID: only with the configured bearer token, and only a valid ID.
    fn client_crash_id(&self, annotations: &RawCrash, bearer: Option<&str>) -> Result<Option<CrashId>, Rejection> {
        let Some(uuid) = annotations.get("uuid") else {
            return Ok(None);
        };
        let authorized = match (&self.opts.bearer_token, bearer) {
            (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
            _ => false,
        };
        if !authorized {
            return Err(Rejection::UnauthorizedUuid);
        }
        // a client may store or defer its crash, not pick another digit (2-9)
        let id = uuid.as_str().and_then(|s| CrashId::parse_lax(s).ok());
        let id = id
            .filter(|id| matches!(id.throttle(), Some(Throttle::Accept | Throttle::Defer)))
            .ok_or(Rejection::Malformed(Malformed::InvalidUuid))?;
        // never over a stored crash
        match self.sink.exists(&id) {
            Ok(false) => Ok(Some(id)),
            Ok(true) => Err(Rejection::UuidExists),
            // cannot tell: refuse rather than risk overwriting (the client retries on 5xx)
            Err(_) => Err(Rejection::Busy),
        }
    }

    /// Saves with a few attempts (a failed attempt leaves nothing that counts as a crash).
    /// The error is the last attempt's.
    fn save(&self, crash: &Crash, received: DateTime<Utc>) -> anyhow::Result<()> {
        let mut attempt = 1;
        loop {
            let start = Instant::now();
            let result = self.sink.save(crash, received);
            match result {
                Ok(()) => self.metrics.saved(start.elapsed()),
                Err(_) => self.metrics.save_error(),
            }
            if result.is_ok() || attempt >= self.opts.save_attempts {
                return result;
            }
            attempt += 1;
            std::thread::sleep(self.opts.save_retry_delay);
        }
    }

    /// Publishes a saved ACCEPT crash when the sink does (the spool leaves it to the mover).
    /// A failure is counted and returned for the log, but the crash stays accepted: it is
    /// stored, and `crashctl requeue --unprocessed` finds it later (as with Antenna).
    fn publish(&self, id: &CrashId) -> Option<String> {
        if !self.sink.publishes() {
            return None;
        }
        match self.sink.publish(id) {
            Ok(()) => {
                self.metrics.published();
                None
            }
            Err(e) => {
                self.metrics.publish_failure();
                Some(format!("not queued: {e:#}"))
            }
        }
    }

    /// Problems with storage, for `/__heartbeat__` (empty when the spool, or the store and
    /// queue, work).
    pub fn storage_errors(&self) -> Vec<String> {
        self.sink.storage_errors()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The raw crash the collector saves: the client's annotations, minus private ones, plus
/// `submitted_timestamp`, `uuid`, `version` and `metadata` (which replaces the client's).
pub fn finish_raw_crash(
    payload: &Payload,
    id: &CrashId,
    rule: &str,
    received: DateTime<Utc>,
    user_agent: &str,
) -> RawCrash {
    let mut raw = payload.annotations.clone();
    let mut notes: Vec<Value> = payload.notes.iter().map(|n| Value::String(n.clone())).collect();
    for key in PRIVATE_ANNOTATIONS {
        if raw.remove(key).is_some() {
            notes.push(format!("Removed {key} from raw crash.").into());
        }
    }
    let checksums: serde_json::Map<String, Value> =
        payload.dumps.iter().map(|(n, d)| (n.to_string(), hex::encode(Sha256::digest(d)).into())).collect();
    raw.insert("submitted_timestamp".into(), received.to_rfc3339_opts(SecondsFormat::Micros, false).into());
    raw.insert("uuid".into(), id.as_str().into());
    raw.insert("version".into(), 2.into());
    let metadata = json!({
        "payload": payload.payload,
        "payload_compressed": if payload.compressed { "1" } else { "0" },
        "payload_size": payload.payload_size,
        "collector_notes": notes,
        "dump_checksums": checksums,
        "user_agent": user_agent,
        "throttle_rule": rule,
    });
    raw.insert("metadata".into(), metadata);
    raw
}
