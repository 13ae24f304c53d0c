//! What a move reports: failures, the plan of a dry run, events as it goes, each committed
//! batch, the report of the run, and the fatal errors.

use crate::crash::CrashId;
use crate::queue::QueueName;

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
    pub(super) fn new(id: &CrashId, kind: FailKind, error: &str, reason: String) -> Failure {
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
