//! The crash mover: drains the spool, oldest first, into the crash store and the `standard`
//! queue, in batches that are made durable before the spool forgets them.
//!
//! Order of one batch (see `docs/move.md` for the guarantee it gives):
//! 1. workers write each crash to the store (dumps, dump names, raw crash last), with retries;
//! 2. `store.sync()` (one `syncfs` for the batch);
//! 3. publish the batch's IDs to `standard` (DEFER crashes are stored, not queued);
//! 4. `queue.sync()`;
//! 5. only then remove the batch from the spool (rename into `.trash`, delete), and prune the
//!    shard directories it emptied.
//!
//! Killed at any instant, a rerun redoes at most the batches that were not removed yet: the
//! store overwrites the same keys, and those IDs are queued again (at least once).

mod commit;
mod coordinator;
mod render;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::crash::{CrashId, Throttle};
use crate::progress::Progress;
use crate::queue::{CrashQueue, QueueName};
use crate::spool::{Spool, SpoolEntry};
use crate::store::CrashStore;
use commit::{CommitConfig, Committed};
use coordinator::{Channels, Coordinator};
use worker::{Outcome, WorkerConfig};

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

/// Where a failure came from: the crash itself, or the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    /// The spooled crash is bad (corrupt raw crash, unreadable dump).
    Source,
    /// The store or queue refused it, after retries.
    Destination,
}

/// A crash that was not moved, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub id: CrashId,
    pub kind: FailKind,
    /// Stable machine name (`corrupt_crash`, `unreadable_dump`, `io_error`, `verify_mismatch`...).
    pub error: String,
    pub reason: String,
    /// Failed attempts so far, this one included (across runs).
    pub attempts: u32,
    /// Set aside into the spool's quarantine area.
    pub quarantined: bool,
}

impl Failure {
    fn new(id: &CrashId, kind: FailKind, error: &str, reason: String) -> Failure {
        Failure { id: id.clone(), kind, error: error.to_string(), reason, attempts: 0, quarantined: false }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "crash {}: not moved: {}", self.id, self.reason)?;
        if self.quarantined {
            write!(f, " (quarantined after {} failed attempts)", self.attempts)
        } else {
            write!(f, " (attempt {}, stays in the spool)", self.attempts)
        }
    }
}

/// A crash a dry run would move.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Planned {
    pub id: CrashId,
    pub shard: String,
    /// The queue it would go to (`None` for DEFER crashes: stored only).
    pub queue: Option<QueueName>,
}

/// What the mover tells its caller as it goes (always from the calling thread).
#[derive(Debug)]
pub enum Event<'a> {
    Planned(&'a Planned),
    Failed(&'a Failure),
    /// Something in the spool that is not a crash, or a problem that does not stop the run.
    Warning(String),
    /// A batch was committed (stored, queued, removed from the spool).
    Batch(&'a BatchReport),
}

/// One committed batch, as `move --follow` logs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchReport {
    /// Crashes moved by this batch.
    pub crashes: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Time since the previous batch (or the start of the pass).
    pub seconds: f64,
    /// Crashes still waiting of those the pass counted when it started (`--follow` only:
    /// each pass counts the spool first); crashes that arrived since are not in it.
    pub backlog: Option<u64>,
}

impl std::fmt::Display for BatchReport {
    /// `moved 256 crashes (1.2 MiB) in 0.4s, 640/s; backlog 12,000`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moved {} crashes ({}) in {:.1}s, {}",
            crate::stats::render_thousands(self.crashes),
            crate::stats::human_bytes(self.bytes),
            self.seconds,
            crate::stats::human_rate(self.per_second())
        )?;
        if let Some(backlog) = self.backlog {
            write!(f, "; backlog {}", crate::stats::render_thousands(backlog))?;
        }
        Ok(())
    }
}

impl BatchReport {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.crashes as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MoveReport {
    pub dry_run: bool,
    /// Crashes written to the store (and removed from the spool unless `keep`).
    pub moved: u64,
    /// Of those, published to the queue.
    pub queued: u64,
    /// Of those, DEFER crashes: stored, not queued.
    pub deferred: u64,
    /// Bytes of dumps moved.
    pub bytes: u64,
    /// Crashes that stay in the spool (or went to quarantine).
    pub failed: u64,
    pub quarantined: u64,
    /// Dry run: crashes that would be moved.
    pub planned: u64,
    /// Entries in the spool that are not crashes (reported, left alone).
    pub strays: u64,
    pub elapsed_secs: f64,
    pub crashes_per_sec: f64,
    /// Stopped by SIGINT/SIGTERM (in-flight crashes were finished).
    pub interrupted: bool,
    /// The run gave up: the destination kept failing (nothing of the open batch was removed).
    pub aborted: Option<String>,
    /// The failures (at most [`MAX_LISTED_FAILURES`]).
    pub failures: Vec<Failure>,
}

/// Failures kept in the summary (a `--follow` run could otherwise grow without bound).
pub const MAX_LISTED_FAILURES: usize = 1000;

/// A fatal problem before the move could start.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("spool {0}: another `crashctl move` is running on it")]
    Locked(String),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

impl MoveError {
    pub fn name(&self) -> &'static str {
        match self {
            MoveError::Locked(_) => "locked",
            MoveError::Spool(e) => e.name(),
        }
    }
}

/// What the mover works with.
pub struct Backends<'a> {
    pub spool: &'a Spool,
    pub store: &'a dyn CrashStore,
    pub queue: &'a dyn CrashQueue,
}

/// Messages to the coordinating thread.
#[derive(Debug)]
enum Msg {
    /// A worker finished a crash.
    Done(Outcome),
    /// The committer finished a batch.
    Committed(Committed),
}

/// Runs the mover. Fatal problems (the spool is locked or unusable) are errors; everything
/// about single crashes is in the summary.
pub fn run(
    b: &Backends<'_>,
    opts: &MoveOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<MoveReport, MoveError> {
    let _lock = spool_lock(b.spool)?;
    b.spool.cleanup(TMP_GRACE)?;
    // what killed movers left in the store's and the queue's temporary directories: worth a
    // warning, not a reason to stop moving
    let cleaned = [
        ("store", b.store.cleanup(TMP_GRACE).map_err(|e| e.to_string())),
        ("queue", b.queue.cleanup(TMP_GRACE).map_err(|e| e.to_string())),
    ];
    for (what, result) in cleaned {
        if let Err(e) = result {
            on_event(Event::Warning(format!("cannot delete the {what}'s old temporary files: {e}")));
        }
    }
    b.spool.prune_empty_shards(Utc::now());
    let started = Instant::now();
    let mut coord = Coordinator::new(b, opts, progress, stop, on_event)?;
    if opts.count_first {
        coord.set_total();
    }
    let jobs = opts.concurrency.max(1);
    let (work_tx, work_rx) = mpsc::sync_channel::<SpoolEntry>(jobs * 4);
    let (commit_tx, commit_rx) = mpsc::channel();
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
    let work_rx = Mutex::new(work_rx);
    let wcfg = WorkerConfig { verify: opts.verify, retries: opts.retries, backoff: opts.backoff };
    let ccfg = CommitConfig { retries: opts.retries, backoff: opts.backoff, keep: opts.keep, jobs };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let (rx, tx) = (&work_rx, msg_tx.clone());
            s.spawn(move || worker_loop(b, wcfg, stop, rx, tx));
        }
        let tx = msg_tx.clone();
        s.spawn(move || commit::commit_loop(b, ccfg, commit_rx, tx));
        drop(msg_tx);
        coord.passes(&Channels { work: work_tx, commit: commit_tx, msgs: msg_rx });
    });
    progress.finish();
    Ok(coord.finish(started.elapsed()))
}

fn spool_lock(spool: &Spool) -> Result<std::fs::File, MoveError> {
    spool.try_lock_mover()?.ok_or_else(|| MoveError::Locked(spool.root().display().to_string()))
}

fn worker_loop(
    b: &Backends<'_>,
    cfg: WorkerConfig,
    stop: &AtomicBool,
    rx: &Mutex<Receiver<SpoolEntry>>,
    tx: Sender<Msg>,
) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(entry) = next else { return };
        if tx.send(Msg::Done(worker::store_one(b, entry, cfg, stop))).is_err() {
            return;
        }
    }
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    if elapsed.as_secs_f64() > 0.0 {
        n as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    }
}

/// A dry run: reports (oldest first) the crashes a run with `opts` would take, and where they
/// would go. Reads the spool only; needs neither store nor queue.
pub fn plan(spool: &Spool, opts: &MoveOptions, stop: &AtomicBool, on_event: &mut dyn FnMut(Event<'_>)) -> MoveReport {
    let started = Instant::now();
    let mut summary = MoveReport { dry_run: true, ..MoveReport::default() };
    let cutoff = cutoff(opts);
    for item in spool.iter() {
        if stop.load(Ordering::Relaxed) || opts.limit.is_some_and(|l| summary.planned >= l) {
            summary.interrupted = stop.load(Ordering::Relaxed);
            break;
        }
        let entry = match item {
            Ok(entry) if is_old_enough(&entry, cutoff) => entry,
            Ok(_) => break,
            Err(e) => {
                summary.strays += 1;
                on_event(Event::Warning(format!("skipped: {e}")));
                continue;
            }
        };
        let queue = is_queued(&entry.id).then_some(TARGET_QUEUE);
        on_event(Event::Planned(&Planned { id: entry.id, shard: entry.shard, queue }));
        summary.planned += 1;
    }
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    summary
}

/// Crashes received at or after this time are too young (`--older-than`).
fn cutoff(opts: &MoveOptions) -> Option<chrono::DateTime<Utc>> {
    let d = chrono::TimeDelta::from_std(opts.older_than?).unwrap_or(chrono::TimeDelta::MAX);
    Some(Utc::now().checked_sub_signed(d).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC))
}

/// Only accepted crashes (throttle digit 0) are queued; DEFER (1) crashes are stored only.
pub fn is_queued(id: &CrashId) -> bool {
    id.throttle() == Some(Throttle::Accept)
}

fn is_old_enough(entry: &SpoolEntry, cutoff: Option<chrono::DateTime<Utc>>) -> bool {
    match (cutoff, entry.received()) {
        (None, _) => true,
        (Some(c), Some(t)) => t + chrono::TimeDelta::minutes(1) <= c,
        (Some(_), None) => false,
    }
}
