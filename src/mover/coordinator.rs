//! The coordinating thread of a run: walks the spool lazily, keeps the workers fed, gathers
//! stored crashes into batches for the committer, and keeps the books (failures, quarantine,
//! counts, progress, events). Everything that reports to the caller happens on this thread.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
use std::time::Duration;

use super::messages::{Committed, Msg};
use super::options::{cutoff, is_old_enough, is_queued, Backends, MoveOptions};
use super::report::{BatchReport, Event, FailKind, Failure, MoveError, MoveReport, MAX_LISTED_FAILURES};
use super::worker::{Outcome, Stored};
use crate::crash::CrashId;
use crate::progress::Progress;
use crate::spool::{SpoolEntry, SpoolIter};

/// How many batches' worth of stored crashes may wait for a slow commit before the
/// coordinator stops feeding the workers.
const MAX_BATCHES_WAITING: usize = 8;

pub(super) struct Channels {
    pub work: SyncSender<SpoolEntry>,
    pub commit: Sender<Vec<Stored>>,
    pub msgs: Receiver<Msg>,
}

/// The lazy walk of one pass over the spool.
struct Feed {
    iter: SpoolIter,
    cutoff: Option<chrono::DateTime<chrono::Utc>>,
    /// Taken from the iterator, not yet accepted by a worker (the work queue was full).
    pending: Option<SpoolEntry>,
    done: bool,
}

pub(super) struct Coordinator<'a, 'e> {
    b: &'a Backends<'a>,
    opts: &'a MoveOptions,
    progress: &'a dyn Progress,
    stop: &'a AtomicBool,
    on_event: &'e mut dyn FnMut(Event<'_>),
    summary: MoveReport,
    /// Crashes with failed attempts on record (their record is cleared when they move).
    failing: HashSet<CrashId>,
    /// Stored, waiting for the committer.
    batch: Vec<Stored>,
    committing: bool,
    /// Destination failures not counted yet: if they keep coming with no success between, the
    /// destination is down and they are not held against the crashes.
    dest_streak: Vec<(SpoolEntry, Failure)>,
    in_flight: usize,
    taken: u64,
    /// `--follow`: crashes the current pass found when it started, less those done since.
    backlog: Option<u64>,
    /// When the last batch was committed (or the pass started).
    last_batch: std::time::Instant,
}

impl<'a, 'e> Coordinator<'a, 'e> {
    pub fn new(
        b: &'a Backends<'a>,
        opts: &'a MoveOptions,
        progress: &'a dyn Progress,
        stop: &'a AtomicBool,
        on_event: &'e mut dyn FnMut(Event<'_>),
    ) -> Result<Self, MoveError> {
        Ok(Coordinator {
            b,
            opts,
            progress,
            stop,
            on_event,
            summary: MoveReport::default(),
            failing: b.spool.failing_ids()?,
            batch: Vec::new(),
            committing: false,
            dest_streak: Vec::new(),
            in_flight: 0,
            taken: 0,
            backlog: None,
            last_batch: std::time::Instant::now(),
        })
    }

    /// Consecutive destination failures taken to mean "the destination is down".
    fn breaker(&self) -> usize {
        (self.opts.concurrency * 2).max(10)
    }

    /// Stopped by a signal, or given up.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.summary.aborted.is_some()
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.summary.aborted.is_some()
            || self.opts.limit.is_some_and(|l| self.taken >= l)
    }

    /// Counts the crashes a run would take, so progress has a total and an ETA.
    pub fn set_total(&mut self) {
        let cutoff = cutoff(self.opts);
        let n = self.b.spool.iter().filter_map(Result::ok).take_while(|e| is_old_enough(e, cutoff)).count() as u64;
        self.progress.set_total(self.opts.limit.map_or(n, |l| n.min(l)));
    }

    /// One pass over the spool (`--once`), or passes until stopped (`--follow`).
    pub fn passes(&mut self, ch: &Channels) {
        loop {
            self.pass(ch);
            let Some(interval) = self.opts.follow else { return };
            if self.should_stop() || !self.wait(interval) {
                return;
            }
        }
    }

    /// Waits `interval` unless stopped first; returns false when stopped.
    fn wait(&self, interval: Duration) -> bool {
        self.progress.message("waiting for crashes");
        if !crate::stop::sleep_unless_stopped(interval, self.stop) {
            return false;
        }
        self.progress.message("");
        true
    }

    /// Moves what the spool holds now: returns when every crash taken is committed or failed.
    fn pass(&mut self, ch: &Channels) {
        if self.opts.follow.is_some() {
            let cutoff = cutoff(self.opts);
            let n = self.b.spool.iter().filter_map(Result::ok).take_while(|e| is_old_enough(e, cutoff)).count() as u64;
            self.backlog = Some(self.opts.limit.map_or(n, |l| n.min(l.saturating_sub(self.taken))));
        }
        self.last_batch = std::time::Instant::now();
        let mut feed = Feed { iter: self.b.spool.iter(), cutoff: cutoff(self.opts), pending: None, done: false };
        loop {
            self.feed(&mut feed, &ch.work);
            let drained = (feed.done || self.should_stop()) && self.in_flight == 0;
            if drained {
                self.flush_dest_streak();
            }
            if self.should_commit(drained) {
                self.committing = ch.commit.send(std::mem::take(&mut self.batch)).is_ok();
            }
            if drained && !self.committing && (self.batch.is_empty() || self.summary.aborted.is_some()) {
                return;
            }
            match ch.msgs.recv() {
                Ok(Msg::Done(outcome)) => self.handle(outcome),
                Ok(Msg::Committed(done)) => self.committed(done),
                Err(_) => return,
            }
        }
    }

    /// Hands the committer a batch when it is idle and the batch is big enough, or is the last.
    fn should_commit(&self, drained: bool) -> bool {
        !self.committing
            && !self.batch.is_empty()
            && self.summary.aborted.is_none()
            && (self.batch.len() >= self.opts.batch_size || drained)
    }

    /// Gives the workers as many crashes as the work queue takes, without blocking.
    fn feed(&mut self, feed: &mut Feed, work: &SyncSender<SpoolEntry>) {
        while !feed.done && !self.should_stop() && self.batch.len() < self.opts.batch_size * MAX_BATCHES_WAITING {
            let Some(entry) = feed.pending.take().or_else(|| self.next_entry(feed)) else {
                feed.done = true;
                return;
            };
            match work.try_send(entry) {
                Ok(()) => {
                    self.in_flight += 1;
                    self.taken += 1;
                }
                Err(TrySendError::Full(entry)) => {
                    feed.pending = Some(entry);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    feed.done = true;
                    return;
                }
            }
        }
    }

    /// The next crash old enough to move; strays are reported and skipped.
    fn next_entry(&mut self, feed: &mut Feed) -> Option<SpoolEntry> {
        for item in feed.iter.by_ref() {
            match item {
                Ok(entry) if is_old_enough(&entry, feed.cutoff) => return Some(entry),
                Ok(_) => return None, // oldest first: everything after is younger
                Err(e) => {
                    self.summary.strays += 1;
                    (self.on_event)(Event::Warning(format!("skipped: {e}")));
                }
            }
        }
        None
    }

    fn handle(&mut self, outcome: Outcome) {
        self.in_flight -= 1;
        match outcome {
            Outcome::Stored(stored) => {
                self.flush_dest_streak();
                self.batch.push(stored);
            }
            Outcome::Failed(_, failure) if failure.kind == FailKind::Destination && self.stopping() => {
                // in flight when the run gave up or was stopped (retries cut short): not held against it
                self.report_failure(failure);
            }
            Outcome::Failed(entry, failure) if failure.kind == FailKind::Destination => {
                self.dest_streak.push((entry, failure));
                if self.dest_streak.len() >= self.breaker() {
                    let last = self.dest_streak[self.dest_streak.len() - 1].1.reason.clone();
                    self.abort(format!("the destination failed {} crashes in a row; last: {last}", self.breaker()));
                    for (_, f) in std::mem::take(&mut self.dest_streak) {
                        self.report_failure(f);
                    }
                }
            }
            Outcome::Failed(entry, failure) => self.fail(&entry, failure),
        }
    }

    fn committed(&mut self, done: Committed) {
        self.committing = false;
        if let Some(reason) = done.abort {
            self.abort(reason);
        }
        for failure in done.failed {
            self.report_failure(failure);
        }
        let report = BatchReport {
            crashes: done.moved.len() as u64,
            bytes: done.moved.iter().map(|s| s.bytes).sum(),
            seconds: self.last_batch.elapsed().as_secs_f64(),
            backlog: self.backlog.map(|b| b.saturating_sub(done.moved.len() as u64)),
        };
        self.backlog = report.backlog;
        self.last_batch = std::time::Instant::now();
        if report.crashes > 0 {
            (self.on_event)(Event::Batch(&report));
        }
        for stored in done.moved {
            self.forget_failures(&stored.entry.id);
            self.summary.moved += 1;
            self.summary.bytes += stored.bytes;
            if is_queued(&stored.entry.id) {
                self.summary.queued += 1;
            } else {
                self.summary.deferred += 1;
            }
            self.progress.inc(1);
        }
    }

    fn abort(&mut self, reason: String) {
        if self.summary.aborted.is_none() {
            (self.on_event)(Event::Warning(format!("giving up: {reason}")));
            self.summary.aborted = Some(reason);
        }
    }

    /// Destination failures followed by a success (or by the end) were about those crashes.
    fn flush_dest_streak(&mut self) {
        let stopping = self.stopping();
        for (entry, failure) in std::mem::take(&mut self.dest_streak) {
            if stopping {
                self.report_failure(failure);
            } else {
                self.fail(&entry, failure);
            }
        }
    }

    /// Records a failed attempt; quarantines the crash after `max_failures`.
    fn fail(&mut self, entry: &SpoolEntry, mut failure: Failure) {
        let spool = self.b.spool;
        failure.attempts = match spool.record_failure(&entry.id, &failure.reason) {
            Ok(n) => n,
            Err(e) => {
                (self.on_event)(Event::Warning(format!("crash {}: cannot record the failure: {e}", entry.id)));
                0
            }
        };
        self.failing.insert(entry.id.clone());
        if failure.attempts >= self.opts.max_failures.max(1) {
            match spool.quarantine(entry, &failure.reason) {
                Ok(_) => {
                    failure.quarantined = true;
                    self.summary.quarantined += 1;
                    self.forget_failures(&entry.id);
                }
                Err(e) => (self.on_event)(Event::Warning(format!("crash {}: cannot quarantine: {e}", entry.id))),
            }
        }
        self.report_failure(failure);
    }

    fn report_failure(&mut self, failure: Failure) {
        self.summary.failed += 1;
        self.backlog = self.backlog.map(|b| b.saturating_sub(1));
        self.progress.inc(1);
        (self.on_event)(Event::Failed(&failure));
        if self.summary.failures.len() < MAX_LISTED_FAILURES {
            self.summary.failures.push(failure);
        }
    }

    fn forget_failures(&mut self, id: &CrashId) {
        if self.failing.remove(id) {
            if let Err(e) = self.b.spool.clear_failures(id) {
                (self.on_event)(Event::Warning(format!("crash {id}: {e}")));
            }
        }
    }

    pub fn finish(mut self, elapsed: Duration) -> MoveReport {
        self.summary.interrupted = self.stop.load(Ordering::Relaxed);
        self.summary.elapsed_secs = elapsed.as_secs_f64();
        self.summary.crashes_per_sec = rate(self.summary.moved, elapsed);
        self.summary
    }
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    if elapsed.as_secs_f64() > 0.0 {
        n as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    }
}
