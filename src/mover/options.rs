//! What a move is asked to do and works with: the options, the backends, and which crashes a
//! run takes and where they go.

use std::time::Duration;

use chrono::Utc;

use crate::crash::{CrashId, Throttle};
use crate::queue::{CrashQueue, QueueName};
use crate::spool::{Spool, SpoolEntry};
use crate::store::CrashStore;

/// The queue new crashes go to.
pub const TARGET_QUEUE: QueueName = QueueName::Standard;
/// Crashes per durable batch (one store sync, one publish, one queue sync).
pub const DEFAULT_BATCH: usize = 256;
/// `.tmp` entries younger than this may still be written by a collector: cleanup leaves them.
pub const TMP_GRACE: Duration = Duration::from_secs(3600);

/// What `crashctl move` was asked to do.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    /// Worker threads writing to the store.
    pub concurrency: usize,
    /// Take at most this many crashes from the spool (per run).
    pub limit: Option<u64>,
    /// Only crashes received longer ago than this.
    pub older_than: Option<Duration>,
    /// Store and queue, but leave the crashes in the spool.
    pub keep: bool,
    /// Read each crash back from the store and compare sha256 digests before deleting it.
    pub verify: bool,
    /// Keep watching the spool, polling at this interval, until stopped.
    pub follow: Option<Duration>,
    /// Quarantine a crash after this many failed attempts (across runs).
    pub max_failures: u32,
    /// Retries of a failed store write, publish or sync.
    pub retries: u32,
    /// First wait before a retry (doubled each time).
    pub backoff: Duration,
    /// Crashes per durable batch, at least (a batch grows while the previous one syncs).
    pub batch_size: usize,
    /// Count the crashes first, so progress has a total (and an ETA).
    pub count_first: bool,
}

impl Default for MoveOptions {
    fn default() -> Self {
        MoveOptions {
            concurrency: 4,
            limit: None,
            older_than: None,
            keep: false,
            verify: false,
            follow: None,
            max_failures: 3,
            retries: 3,
            backoff: Duration::from_millis(100),
            batch_size: DEFAULT_BATCH,
            count_first: false,
        }
    }
}
/// What the mover works with.
pub struct Backends<'a> {
    pub spool: &'a Spool,
    pub store: &'a dyn CrashStore,
    pub queue: &'a dyn CrashQueue,
}
/// Crashes received at or after this time are too young (`--older-than`).
pub(super) fn cutoff(opts: &MoveOptions) -> Option<chrono::DateTime<Utc>> {
    let d = chrono::TimeDelta::from_std(opts.older_than?).unwrap_or(chrono::TimeDelta::MAX);
    Some(Utc::now().checked_sub_signed(d).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC))
}

/// Only accepted crashes (throttle digit 0) are queued; DEFER (1) crashes are stored only.
pub fn is_queued(id: &CrashId) -> bool {
    id.throttle() == Some(Throttle::Accept)
}

pub(super) fn is_old_enough(entry: &SpoolEntry, cutoff: Option<chrono::DateTime<Utc>>) -> bool {
    match (cutoff, entry.received()) {
        (None, _) => true,
        (Some(c), Some(t)) => t + chrono::TimeDelta::minutes(1) <= c,
        (Some(_), None) => false,
    }
}
