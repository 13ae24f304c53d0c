//! Batches: a list of crash IDs, or the queues, processed by a bounded pool of worker threads
//! sharing one [`Processor`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{stages, Outcome, ProcessReport, Processed, Processor, RunOptions};
use crate::crash::CrashId;
use crate::queue::{Claimed, CrashQueue, QueueName};
use crate::store::CrashStore;

/// Where each outcome goes as soon as a crash is done (called from worker threads).
pub type Sink<'a> = &'a (dyn Fn(&Outcome, Option<&Processed>) + Sync);

/// Acks are sent in groups, each after one `store.sync()` makes the saves before it durable.
const ACK_BATCH: usize = 64;
/// How often `--follow` looks at empty queues again.
const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// The keeper never renews a claim more often than this.
const MIN_RENEW_EVERY: Duration = Duration::from_secs(1);

/// While a claimed crash is being processed its claim is renewed this often (to a full
/// `visibility` from then): a third of it, so two renewals may be lost before it expires.
fn renew_every(visibility: Duration) -> Duration {
    (visibility / 3).max(MIN_RENEW_EVERY)
}

/// What the workers share.
struct Shared<'a> {
    processor: &'a Processor,
    store: &'a dyn CrashStore,
    run: &'a RunOptions,
    sink: Sink<'a>,
    summary: Mutex<ProcessReport>,
}

impl Shared<'_> {
    fn stopped(&self) -> bool {
        self.run.stop.load(Ordering::Relaxed)
    }

    fn one(&self, id: &CrashId, ruleset: Option<&str>) -> Outcome {
        let (outcome, processed) = self.processor.process_stored(self.store, id, ruleset, self.run.save);
        (self.sink)(&outcome, processed.as_ref());
        {
            let _f = stages::timer(stages::Stage::Free);
            drop(processed);
        }
        stages::crash_done();
        self.summary.lock().unwrap_or_else(|e| e.into_inner()).add(&outcome);
        self.run.progress.inc(1);
        outcome
    }

    fn finish(self, started: Instant) -> ProcessReport {
        if let Some(report) = stages::report() {
            eprintln!("{report}");
        }
        let mut summary = self.summary.into_inner().unwrap_or_else(|e| e.into_inner());
        summary.interrupted = self.run.stop.load(Ordering::Relaxed);
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        self.run.progress.finish();
        summary
    }
}

impl Processor {
    /// Processes the crashes `jobs` names (ID, ruleset name or `None` for `default`) from
    /// `store`; see the module docs.
    pub fn process_ids(
        &self,
        store: &dyn CrashStore,
        jobs: &[(CrashId, Option<String>)],
        run: &RunOptions,
        sink: Sink<'_>,
    ) -> ProcessReport {
        let started = Instant::now();
        run.progress.set_total(jobs.len() as u64);
        let shared = Shared { processor: self, store, run, sink, summary: Mutex::default() };
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.concurrency.min(jobs.len().max(1)) {
                s.spawn(|| {
                    while !shared.stopped() {
                        let Some((id, ruleset)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                        shared.one(id, ruleset.as_deref());
                    }
                });
            }
        });
        if run.save {
            if let Err(e) = store.sync() {
                shared.summary.lock().unwrap_or_else(|e| e.into_inner()).fatal =
                    Some(format!("syncing the store: {e}"));
            }
        }
        shared.finish(started)
    }

    /// Consumes the queues (priority, then standard, then reprocessing) until they are empty,
    /// or, with `follow`, until the stop flag is set. Each message is acked once its processed
    /// crash is saved and synced; a crash that cannot be processed at all is dead-lettered with
    /// the reason. Saving is required (`run.save`).
    pub fn consume_queue(
        &self,
        store: &dyn CrashStore,
        queue: &dyn CrashQueue,
        follow: bool,
        run: &RunOptions,
        sink: Sink<'_>,
    ) -> anyhow::Result<ProcessReport> {
        anyhow::ensure!(run.save, "consuming a queue saves every processed crash (it cannot be used without saving)");
        let started = Instant::now();
        let pending: u64 = queue.depths().map(|d| d.iter().map(|q| q.pending).sum()).unwrap_or(0);
        run.progress.set_total(pending);
        let shared = Shared { processor: self, store, run, sink, summary: Mutex::default() };
        let acker = Acker { store, queue, pending: Mutex::default() };
        let fatal: Mutex<Option<anyhow::Error>> = Mutex::default();
        std::thread::scope(|s| {
            for _ in 0..self.concurrency {
                s.spawn(|| {
                    if let Err(e) = consume(&shared, &acker, queue, follow) {
                        fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                        shared.run.stop.store(true, Ordering::Relaxed);
                    }
                });
            }
        });
        let flushed = acker.flush();
        let mut summary = shared.finish(started);
        if let Some(e) = fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
            summary.interrupted = false;
            summary.fatal = Some(format!("{e:#}"));
        } else if let Err(e) = flushed {
            summary.fatal = Some(format!("{e:#}"));
        }
        Ok(summary)
    }
}

/// One worker's loop over the queues.
fn consume(shared: &Shared<'_>, acker: &Acker<'_>, queue: &dyn CrashQueue, follow: bool) -> anyhow::Result<()> {
    let visibility = queue.processing_visibility();
    while !shared.stopped() {
        let claimed = queue.claim(&QueueName::ALL, visibility).context("claiming from the queues")?;
        let Some(claimed) = claimed else {
            acker.flush()?;
            if !follow {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_POLL);
            continue;
        };
        let outcome = keeping_claim(queue, &claimed, visibility, || {
            shared.one(&claimed.message.id, claimed.message.ruleset.as_deref())
        });
        match outcome.error {
            Some(error) => queue.fail(&claimed, &error).context("dead-lettering a message")?,
            None => acker.push(claimed)?,
        }
    }
    Ok(())
}

/// Runs `work` while a helper thread renews the claim (made for `visibility`) every
/// [`renew_every`]`(visibility)` (a no-op on backends whose claims need no renewing); the
/// helper ends with the work.
fn keeping_claim<T>(queue: &dyn CrashQueue, claimed: &Claimed, visibility: Duration, work: impl FnOnce() -> T) -> T {
    let every = renew_every(visibility);
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            while wait.recv_timeout(every) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                // a failed extension shows later, as a lost claim at the ack
                if queue.extend(claimed, visibility).is_err() {
                    return;
                }
            }
        });
        let out = work();
        drop(done);
        out
    })
}

/// Claimed messages whose processed crash is saved, waiting for one `sync()` before their ack.
struct Acker<'a> {
    store: &'a dyn CrashStore,
    queue: &'a dyn CrashQueue,
    pending: Mutex<Vec<Claimed>>,
}

impl Acker<'_> {
    fn push(&self, claimed: Claimed) -> anyhow::Result<()> {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push(claimed);
            pending.len() >= ACK_BATCH
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        self.store.sync().context("syncing the store before acking")?;
        for claimed in &batch {
            self.queue.ack(claimed).with_context(|| format!("acking {}", claimed.message.body()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_renewed_every_third_of_their_visibility_at_most_once_a_second() {
        assert_eq!(renew_every(Duration::from_secs(300)), Duration::from_secs(100));
        assert_eq!(renew_every(Duration::from_secs(10)), Duration::from_nanos(3_333_333_333));
        assert_eq!(renew_every(Duration::from_secs(2)), Duration::from_secs(1));
    }
}
