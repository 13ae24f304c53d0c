//! What `crashctl stats` reports: [`Stats`] and its sections, the rates between two scans, and
//! the thresholds it is checked against.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::problem::{Problem, ProblemKind};
use super::spool::SpoolStats;
use super::store::StoreStats;
use super::time::ser_time;
use crate::queue::QueueDepth;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
