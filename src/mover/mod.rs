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
mod messages;
mod options;
mod render;
mod report;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::Instant;

use chrono::Utc;

use crate::progress::Progress;
use crate::spool::{Spool, SpoolEntry};
use commit::CommitConfig;
use coordinator::{Channels, Coordinator};
use messages::Msg;
use options::{cutoff, is_old_enough};
pub use options::{is_queued, Backends, MoveOptions, DEFAULT_BATCH, TARGET_QUEUE, TMP_GRACE};
pub use report::{BatchReport, Event, FailKind, Failure, MoveError, MoveReport, Planned, MAX_LISTED_FAILURES};
use worker::WorkerConfig;

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
