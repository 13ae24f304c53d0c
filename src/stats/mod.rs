//! `crashctl stats`: how much waits where. Scans a spool, reads queue depths and counts a store
//! into one plain [`Stats`] value, which renders itself as a table, JSON or Prometheus text.

mod problem;
mod render;
mod report;
pub mod serve;
pub mod spool;
mod store;
mod time;

pub use problem::{Problem, ProblemKind, MAX_PROBLEMS};
pub use render::{human_bytes, human_rate, thousands as render_thousands};
pub use report::{QueueStats, Rates, Stats, ThresholdReport, Thresholds};
pub use spool::{HotSpot, HourCount, ScanError, ScanOptions, SpoolStats, DEFAULT_HOT_SPOT};
pub use store::{DayCount, StoreStats};
pub use time::format_time;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::progress::Progress;
use crate::queue::{CrashQueue, QueueError};
use crate::spool::Spool;
use crate::store::{CrashStore, StoreError};

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
