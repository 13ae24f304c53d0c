//! The [`CrashQueue`] trait every backend implements, its errors, and the depth of a queue.

use std::time::Duration;

use super::message::{Claimed, FailedMessage, Message, QueueName};

/// The visibility timeout Socorro uses: a claimed message whose consumer did not ack it within
/// this time goes back to the queue.
pub const DEFAULT_VISIBILITY: Duration = Duration::from_secs(300);

/// Depth of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub queue: String,
    pub pending: u64,
    pub claimed: u64,
    /// Claimed messages whose visibility timeout has passed (their consumer died).
    pub claimed_expired: u64,
    pub failed: u64,
    /// The backend cannot count this queue's messages (Pub/Sub without Cloud Monitoring, as
    /// on the emulator): the numbers above mean nothing and are shown as `unknown`, never 0.
    pub unknown: bool,
    /// Only `pending` is known (Pub/Sub through Cloud Monitoring: unacked messages, claimed
    /// ones included); the other counts are shown as `unknown`.
    pub only_pending: bool,
    /// Age in seconds of the oldest unacknowledged message, where the backend gives it
    /// (Pub/Sub through Cloud Monitoring).
    pub oldest_unacked_secs: Option<u64>,
}

impl QueueDepth {
    /// The counts by name (`None`: the backend cannot give it).
    pub fn counts(&self) -> [(&'static str, Option<u64>); 4] {
        let known = |n: u64, other: bool| (!(self.unknown || other && self.only_pending)).then_some(n);
        [
            ("pending", known(self.pending, false)),
            ("claimed", known(self.claimed, true)),
            ("claimed_expired", known(self.claimed_expired, true)),
            ("failed", known(self.failed, true)),
        ]
    }
}

/// As JSON: `{"queue", "pending", "claimed", "claimed_expired", "failed",
/// "oldest_unacked_secs"}`, each count the string `"unknown"` when the backend cannot count,
/// the age left out where the backend gives none.
impl serde::Serialize for QueueDepth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("QueueDepth", 6)?;
        st.serialize_field("queue", &self.queue)?;
        for (name, n) in self.counts() {
            match n {
                Some(n) => st.serialize_field(name, &n)?,
                None => st.serialize_field(name, UNKNOWN)?,
            }
        }
        match self.oldest_unacked_secs {
            Some(age) => st.serialize_field("oldest_unacked_secs", &age)?,
            None => st.skip_field("oldest_unacked_secs")?,
        }
        st.end()
    }
}

/// The word shown for a count a backend cannot give.
pub const UNKNOWN: &str = "unknown";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
    #[error("queue {queue}: the claim on {body:?} was lost (its visibility timeout passed and it was requeued)")]
    ClaimLost { queue: QueueName, body: String },
    #[error("{0}")]
    Backend(String),
}

impl QueueError {
    pub fn name(&self) -> &'static str {
        match self {
            QueueError::Io { .. } => "io_error",
            QueueError::ClaimLost { .. } => "claim_lost",
            QueueError::Backend(_) => "backend_error",
        }
    }
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// Socorro's processing queues.
///
/// The core, used by the pipeline (collector, mover, processor): [`describe`](Self::describe),
/// [`publish`](Self::publish), [`claim`](Self::claim), [`ack`](Self::ack),
/// [`fail`](Self::fail), [`sync`](Self::sync); and [`release`](Self::release), which gives
/// a claim back and no stage calls yet (only tests).
///
/// Needed by one stage: [`depths`](Self::depths) (`stats`, and the processor and collector
/// for their reports), [`requeue_stale`](Self::requeue_stale), [`failed`](Self::failed) and
/// [`requeue_failed`](Self::requeue_failed) (`requeue`), [`cleanup`](Self::cleanup) (the
/// mover; has a default), [`extend`](Self::extend) and
/// [`processing_visibility`](Self::processing_visibility) (the processor's claim keeper; have
/// defaults).
pub trait CrashQueue: Send + Sync {
    /// Where the queues are, for messages.
    fn describe(&self) -> String;

    /// Publishes messages at the back of a queue. When it returns Ok every message is visible.
    fn publish(&self, queue: QueueName, messages: &[Message]) -> Result<()>;

    /// Claims the next message from the first of `queues` that has one (priority order is
    /// the caller's order). Exactly one consumer gets each message, across processes. The
    /// claim expires after `visibility`; `test` messages are dropped, malformed ones
    /// dead-lettered, and neither is returned.
    fn claim(&self, queues: &[QueueName], visibility: Duration) -> Result<Option<Claimed>>;

    /// Done: the message is deleted.
    fn ack(&self, claimed: &Claimed) -> Result<()>;

    /// Could not be processed at all: dead-letter it with the error text.
    fn fail(&self, claimed: &Claimed, error: &str) -> Result<()>;

    /// Gives a claimed message back, unprocessed (e.g. on Ctrl-C).
    fn release(&self, claimed: &Claimed) -> Result<()>;

    /// Still working on it: the claim now expires `by` from now (Pub/Sub: a new ack deadline),
    /// so a slow crash is not handed to a second consumer. A no-op where the claim's
    /// visibility set at `claim` is all there is (directory, SQS: the default).
    fn extend(&self, claimed: &Claimed, by: Duration) -> Result<()> {
        let _ = (claimed, by);
        Ok(())
    }

    /// How long the processor's claims last before its keeper renews them: the backend's own
    /// setting where it has one (Pub/Sub: the shortest ack deadline of the subscriptions, as
    /// Socorro's processor relies on it), else [`DEFAULT_VISIBILITY`].
    fn processing_visibility(&self) -> Duration {
        DEFAULT_VISIBILITY
    }

    /// Pending, claimed (and expired), failed, for each queue.
    fn depths(&self) -> Result<Vec<QueueDepth>>;

    /// Claimed messages whose visibility timeout passed go back to pending. Returns their bodies.
    fn requeue_stale(&self) -> Result<Vec<String>>;

    /// The dead-lettered messages.
    fn failed(&self) -> Result<Vec<FailedMessage>>;

    /// Puts dead-lettered messages back to pending.
    fn requeue_failed(&self, messages: &[FailedMessage]) -> Result<()>;

    /// Makes every publish so far durable.
    fn sync(&self) -> Result<()>;

    /// Deletes the temporary files that killed publishers left, when older than `tmp_age`
    /// (younger ones may still be being written). Returns how many; nothing to do where a
    /// publish leaves no temporary file (SQS, the default).
    fn cleanup(&self, tmp_age: Duration) -> Result<usize> {
        let _ = tmp_age;
        Ok(0)
    }
}
