//! The committer thread: makes a batch durable (store sync, publish, queue sync) and only
//! then removes it from the spool. It runs beside the workers, so a slow `syncfs` does not
//! stop the writing: while one batch syncs, the next one grows (group commit).

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use chrono::Utc;

use super::messages::{Committed, Msg};
use super::options::{is_queued, Backends, TARGET_QUEUE};
use super::report::{FailKind, Failure};
use super::worker::{with_retries, Stored};
use crate::queue::Message;

/// What the committer was told.
#[derive(Debug, Clone, Copy)]
pub(super) struct CommitConfig {
    pub retries: u32,
    pub backoff: Duration,
    /// Leave the crashes in the spool.
    pub keep: bool,
    /// Threads removing crashes from the spool.
    pub jobs: usize,
}

pub(super) fn commit_loop(b: &Backends<'_>, cfg: CommitConfig, rx: Receiver<Vec<Stored>>, tx: Sender<Msg>) {
    for batch in rx {
        if tx.send(Msg::Committed(commit(b, cfg, batch))).is_err() {
            return;
        }
    }
}

fn commit(b: &Backends<'_>, cfg: CommitConfig, batch: Vec<Stored>) -> Committed {
    if let Err(reason) = make_durable(b, cfg, &batch) {
        return Committed { abort: Some(reason), ..Committed::default() };
    }
    if cfg.keep {
        return Committed { moved: batch, ..Committed::default() };
    }
    let shards: BTreeSet<String> = batch.iter().map(|s| s.entry.shard.clone()).collect();
    let done = remove_all(b, batch, cfg.jobs);
    let now = Utc::now();
    for shard in shards {
        b.spool.prune_shard(&shard, now);
    }
    done
}

/// Removes a durable batch from the spool, `jobs` threads at once (a delete waits on the
/// file system's journal far longer than it uses the CPU).
fn remove_all(b: &Backends<'_>, batch: Vec<Stored>, jobs: usize) -> Committed {
    let chunk = batch.len().div_ceil(jobs.max(1)).max(1);
    let parts: Vec<Committed> = std::thread::scope(|s| {
        let handles: Vec<_> = batch.chunks(chunk).map(|part| s.spawn(move || remove_part(b, part))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut done = Committed::default();
    for part in parts {
        done.moved.extend(part.moved);
        done.failed.extend(part.failed);
    }
    done
}

fn remove_part(b: &Backends<'_>, part: &[Stored]) -> Committed {
    let mut done = Committed::default();
    for stored in part {
        match b.spool.remove_keep_shard(&stored.entry) {
            Ok(()) => done.moved.push(stored.clone()),
            Err(e) => {
                let reason = format!("stored and queued, but not removed from the spool: {e}");
                done.failed.push(Failure::new(&stored.entry.id, FailKind::Source, e.name(), reason));
            }
        }
    }
    done
}

/// Store sync, publish of the accepted crashes, queue sync: each retried with backoff.
fn make_durable(b: &Backends<'_>, cfg: CommitConfig, batch: &[Stored]) -> Result<(), String> {
    let retry = |f: &dyn Fn() -> Result<(), String>| with_retries(cfg.retries, cfg.backoff, None, f);
    retry(&|| b.store.sync().map_err(|e| format!("store sync: {e}")))?;
    let messages: Vec<Message> =
        batch.iter().filter(|s| is_queued(&s.entry.id)).map(|s| Message::new(s.entry.id.clone())).collect();
    if messages.is_empty() {
        return Ok(());
    }
    retry(&|| b.queue.publish(TARGET_QUEUE, &messages).map_err(|e| format!("publish to {TARGET_QUEUE}: {e}")))?;
    retry(&|| b.queue.sync().map_err(|e| format!("queue sync: {e}")))
}
