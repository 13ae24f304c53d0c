//! `crashctl stats`: how much waits where. Scans a spool, reads queue depths and counts a store
//! into one plain [`Stats`] value, which renders itself as a table, JSON or Prometheus text.

mod render;

pub use render::{human_bytes, human_rate, thousands as render_thousands};
pub mod serve;
pub mod spool;
mod store;

pub use spool::{HotSpot, HourCount, ScanError, ScanOptions, SpoolStats};
pub use store::{DayCount, StoreStats};

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::progress::Progress;
use crate::queue::{CrashQueue, QueueDepth, QueueError};
use crate::spool::Spool;
use crate::store::{CrashStore, StoreError};

/// A directory with more entries than this is a hot spot, unless told otherwise.
pub const DEFAULT_HOT_SPOT: u64 = 10_000;

/// At most this many problems are kept (all are counted).
pub const MAX_PROBLEMS: usize = 1000;

/// What is wrong with an entry found while scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A file where only directories belong.
    StrayFile,
    /// A directory whose name is not part of the layout (or not UTF-8).
    InvalidName,
    /// A directory (or a store/quarantine entry) whose name is not a crash ID.
    InvalidCrashId,
    /// A file named like a crash where a crash directory belongs.
    CrashNotADirectory,
    /// A directory inside a crash directory.
    UnexpectedDirectory,
    /// A `YYYYMMDD/HH/MM` shard that is not a real UTC minute.
    InvalidShard,
    /// A directory or file that could not be read: the counts are incomplete.
    Unreadable,
    /// A whole section (spool, queue or store) could not be opened or read: it is missing
    /// from the report (`stats` exits 2).
    Unavailable,
}

impl ProblemKind {
    /// The machine name (as in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::StrayFile => "stray_file",
            ProblemKind::InvalidName => "invalid_name",
            ProblemKind::InvalidCrashId => "invalid_crash_id",
            ProblemKind::CrashNotADirectory => "crash_not_a_directory",
            ProblemKind::UnexpectedDirectory => "unexpected_directory",
            ProblemKind::InvalidShard => "invalid_shard",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Unavailable => "unavailable",
        }
    }
}

/// Something found while scanning that is not as it should be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, path: &Path, message: impl Into<String>) -> Problem {
        Problem { kind, path: path.display().to_string(), message: message.into() }
    }

    /// A section (`spool`, `queue`, `store`) at `location` that could not be opened or read.
    pub fn unavailable(section: &str, location: &str, error: impl std::fmt::Display) -> Problem {
        let error = error.to_string();
        let message = if error.starts_with(section) { error } else { format!("{section} {location}: {error}") };
        Problem { kind: ProblemKind::Unavailable, path: location.to_string(), message }
    }
}

/// Queue depths.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub location: String,
    pub queues: Vec<QueueDepth>,
}

/// Change between two scans, per second (only in `--watch`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rates {
    pub interval_seconds: f64,
    /// Crashes that appeared in the spool since the last scan.
    pub spool_arrived: Option<u64>,
    /// Crashes that left the spool (moved, quarantined) since the last scan.
    pub spool_drained: Option<u64>,
    pub spool_arrival_per_second: Option<f64>,
    pub spool_drain_per_second: Option<f64>,
    /// Net change of pending + claimed messages per second, per queue.
    pub queue_net_per_second: std::collections::BTreeMap<String, f64>,
    /// Raw crashes added to the store per second.
    pub store_raw_per_second: Option<f64>,
    /// Processed crashes added to the store per second.
    pub store_processed_per_second: Option<f64>,
}

/// Everything `crashctl stats` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    #[serde(serialize_with = "ser_time")]
    pub scanned_at: DateTime<Utc>,
    pub scan_seconds: f64,
    pub spool: Option<SpoolStats>,
    pub queue: Option<QueueStats>,
    pub store: Option<StoreStats>,
    /// The first [`MAX_PROBLEMS`] problems found.
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
    /// The thresholds asked for and the ones crossed (set by [`Stats::check_thresholds`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ThresholdReport>,
}

/// `--max-backlog` / `--max-age` as the JSON shows them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdReport {
    pub max_backlog: Option<u64>,
    pub max_age_seconds: Option<u64>,
    /// One line per threshold crossed (empty when all is well).
    pub crossed: Vec<String>,
}

/// What to look at.
#[derive(Clone, Default)]
pub struct StatsOptions {
    pub spool: Option<Spool>,
    pub queue: Option<Arc<dyn CrashQueue>>,
    pub store: Option<Arc<dyn CrashStore>>,
    pub scan: ScanOptions,
    /// Stops a scan early (Ctrl-C in `--watch`).
    pub stop: Option<Arc<AtomicBool>>,
    /// Sections the caller could not open (see [`Problem::unavailable`]): reported with the
    /// sections that could be read.
    pub unopened: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error(transparent)]
    Spool(ScanError),
    #[error("queue {location}: {source}")]
    Queue { location: String, source: QueueError },
    #[error("store {location}: {source}")]
    Store { location: String, source: StoreError },
}

impl StatsError {
    pub fn name(&self) -> &'static str {
        match self {
            StatsError::Spool(ScanError::Stopped) => "interrupted",
            StatsError::Spool(ScanError::Root { .. }) => "spool_unreadable",
            StatsError::Queue { .. } => "queue_error",
            StatsError::Store { .. } => "store_error",
        }
    }

    pub fn is_interrupted(&self) -> bool {
        matches!(self, StatsError::Spool(ScanError::Stopped))
    }
}

/// Looks at everything in `opts` once. A section that cannot be read is a
/// [`ProblemKind::Unavailable`] problem and the others are still read; only an interrupted
/// scan is an error.
pub fn collect(opts: &StatsOptions, progress: &dyn Progress) -> Result<Stats, StatsError> {
    let started = Instant::now();
    let scanned_at = Utc::now();
    let mut unavailable = opts.unopened.clone();
    let mut problems = Vec::new();
    let no_stop = AtomicBool::new(false);
    let stop = opts.stop.as_deref().unwrap_or(&no_stop);
    let spool = match opts.spool.as_ref().map(|s| spool::scan(s.root(), &opts.scan, progress, stop, &mut problems)) {
        Some(Ok(mut st)) => {
            st.set_ages(scanned_at);
            Some(st)
        }
        Some(Err(ScanError::Stopped)) => return Err(StatsError::Spool(ScanError::Stopped)),
        Some(Err(e)) => {
            let root = opts.spool.as_ref().map(|s| s.root().display().to_string()).unwrap_or_default();
            unavailable.push(Problem::unavailable("spool", &root, e));
            None
        }
        None => None,
    };
    let queue = opts.queue.as_ref().and_then(|q| match q.depths() {
        Ok(queues) => Some(QueueStats { location: q.describe(), queues }),
        Err(e) => {
            unavailable.push(Problem::unavailable("queue", &q.describe(), e));
            None
        }
    });
    let store = opts.store.as_ref().and_then(|s| match store::count(s.as_ref(), &mut problems) {
        Ok(st) => Some(st),
        Err(e) => {
            unavailable.push(Problem::unavailable("store", &s.describe(), e));
            None
        }
    });
    let problems_total = (unavailable.len() + problems.len()) as u64;
    unavailable.extend(problems);
    let mut problems = unavailable;
    problems.truncate(MAX_PROBLEMS);
    let scan_seconds = started.elapsed().as_secs_f64();
    Ok(Stats { scanned_at, scan_seconds, spool, queue, store, problems, problems_total, rates: None, thresholds: None })
}

/// Limits that make `stats` exit 1.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    /// More crashes than this in the spool, or more pending messages than this in any queue.
    pub max_backlog: Option<u64>,
    /// The oldest crash in the spool is older than this.
    pub max_age: Option<Duration>,
}

impl Stats {
    /// The sections that could not be read (first in [`Stats::problems`]).
    pub fn unavailable(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.kind == ProblemKind::Unavailable)
    }

    /// Checks `t`, keeps what was asked and crossed for the JSON ([`Stats::thresholds`], when
    /// any threshold is given) and returns the lines crossed (see [`Stats::crossed`]).
    pub fn check_thresholds(&mut self, t: &Thresholds) -> Vec<String> {
        let crossed = self.crossed(t);
        if t.max_backlog.is_some() || t.max_age.is_some() {
            self.thresholds = Some(ThresholdReport {
                max_backlog: t.max_backlog,
                max_age_seconds: t.max_age.map(|d| d.as_secs()),
                crossed: crossed.clone(),
            });
        }
        crossed
    }

    /// One line per threshold crossed (empty when all is well). Unreadable directories count
    /// too: the numbers are incomplete.
    pub fn crossed(&self, t: &Thresholds) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(max), Some(s)) = (t.max_backlog, &self.spool) {
            if s.crashes > max {
                out.push(format!("spool {} holds {} crashes (--max-backlog {max})", s.path, s.crashes));
            }
        }
        if let (Some(max), Some(q)) = (t.max_backlog, &self.queue) {
            for d in q.queues.iter().filter(|d| !d.unknown && d.pending > max) {
                out.push(format!("queue {} has {} pending messages (--max-backlog {max})", d.queue, d.pending));
            }
        }
        if let (Some(max), Some(s)) = (t.max_age, &self.spool) {
            if let (Some(age), Some(oldest)) = (s.oldest_age_seconds, s.oldest) {
                if age > 0 && age as u64 > max.as_secs() {
                    let shown = humantime::format_duration(Duration::from_secs(age as u64));
                    let oldest = oldest.to_rfc3339_opts(SecondsFormat::Secs, true);
                    let limit = humantime::format_duration(max);
                    out.push(format!("oldest crash in spool {} is {shown} old ({oldest}; --max-age {limit})", s.path));
                }
            }
        }
        let unreadable = self.problems.iter().filter(|p| p.kind == ProblemKind::Unreadable).count();
        if unreadable > 0 {
            out.push(format!("{unreadable} directories or files could not be read: the counts are incomplete"));
        }
        out
    }

    /// Sets [`Stats::rates`] from the previous scan.
    pub fn set_rates(&mut self, prev: &Stats) {
        let secs = (self.scanned_at - prev.scanned_at).num_milliseconds() as f64 / 1000.0;
        if secs <= 0.0 {
            return;
        }
        let per_sec = |n: f64| n / secs;
        let (arrived, drained) = match (&self.spool, &prev.spool) {
            (Some(now), Some(then)) => {
                let (a, d) = sorted_difference(&now.id_hashes, &then.id_hashes);
                (Some(a), Some(d))
            }
            _ => (None, None),
        };
        let queue_net_per_second = match (&self.queue, &prev.queue) {
            (Some(now), Some(then)) => now
                .queues
                .iter()
                .zip(&then.queues)
                .filter(|(n, t)| !n.unknown && !t.unknown)
                .map(|(n, t)| {
                    let held = |d: &QueueDepth| (d.pending + d.claimed) as f64;
                    (n.queue.clone(), per_sec(held(n) - held(t)))
                })
                .collect(),
            _ => Default::default(),
        };
        let store_rate = |f: fn(&StoreStats) -> u64| match (&self.store, &prev.store) {
            (Some(now), Some(then)) => Some(per_sec(f(now) as f64 - f(then) as f64)),
            _ => None,
        };
        self.rates = Some(Rates {
            interval_seconds: secs,
            spool_arrived: arrived,
            spool_drained: drained,
            spool_arrival_per_second: arrived.map(|n| per_sec(n as f64)),
            spool_drain_per_second: drained.map(|n| per_sec(n as f64)),
            queue_net_per_second,
            store_raw_per_second: store_rate(|s| s.raw),
            store_processed_per_second: store_rate(|s| s.processed),
        });
    }
}

/// (in `now` but not `then`, in `then` but not `now`), both sorted.
fn sorted_difference(now: &[u64], then: &[u64]) -> (u64, u64) {
    let (mut i, mut j, mut only_now, mut only_then) = (0, 0, 0, 0);
    while i < now.len() && j < then.len() {
        match now[i].cmp(&then[j]) {
            std::cmp::Ordering::Less => {
                only_now += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_then += 1;
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    (only_now + (now.len() - i) as u64, only_then + (then.len() - j) as u64)
}

/// RFC 3339 in UTC with seconds (`2026-11-26T13:05:00Z`).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(t))
}

pub(crate) fn ser_opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_with_spool(crashes: u64, oldest_age: i64, ids: Vec<u64>) -> Stats {
        let now = Utc::now();
        let mut spool = SpoolStats { path: "/s".into(), crashes, id_hashes: ids, ..SpoolStats::default() };
        spool.oldest = Some(now - chrono::Duration::seconds(oldest_age));
        spool.set_ages(now);
        let depth = |queue: &str, pending| QueueDepth { queue: queue.into(), pending, ..QueueDepth::default() };
        Stats {
            scanned_at: now,
            scan_seconds: 0.0,
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
    fn thresholds_are_crossed_strictly_above() {
        let s = stats_with_spool(5, 3600, vec![]);
        assert!(s.crossed(&Thresholds::default()).is_empty());
        let at_limit = Thresholds { max_backlog: Some(7), max_age: Some(Duration::from_secs(3600)) };
        assert!(s.crossed(&at_limit).is_empty(), "{:?}", s.crossed(&at_limit));
        let backlog = s.crossed(&Thresholds { max_backlog: Some(6), max_age: None });
        assert_eq!(backlog.len(), 1, "the standard queue's 7 pending");
        assert!(backlog[0].contains("standard"), "{backlog:?}");
        let both = s.crossed(&Thresholds { max_backlog: Some(4), max_age: Some(Duration::from_secs(60)) });
        assert_eq!(both.len(), 3, "{both:?}");
        assert!(both[2].contains("1h old"), "{both:?}");
    }

    #[test]
    fn unreadable_directories_make_counts_incomplete() {
        let mut s = stats_with_spool(0, 0, vec![]);
        s.problems.push(Problem::new(ProblemKind::Unreadable, Path::new("/s/x"), "cannot list"));
        assert_eq!(s.crossed(&Thresholds::default()).len(), 1);
    }

    #[test]
    fn rates_count_arrivals_and_drains_exactly() {
        let before = stats_with_spool(3, 0, vec![1, 2, 3]);
        let mut after = stats_with_spool(3, 0, vec![3, 4, 5]);
        after.scanned_at = before.scanned_at + chrono::Duration::seconds(2);
        after.set_rates(&before);
        let r = after.rates.unwrap();
        assert_eq!((r.spool_arrived, r.spool_drained), (Some(2), Some(2)));
        assert_eq!(r.spool_arrival_per_second, Some(1.0));
        assert_eq!(r.queue_net_per_second.get("standard"), Some(&0.0));
        assert_eq!(sorted_difference(&[1, 2], &[]), (2, 0));
        assert_eq!(sorted_difference(&[], &[1]), (0, 1));
    }
}
