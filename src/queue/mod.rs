//! Crash queues: Socorro's three queues of crash IDs (`priority`, `standard`, `reprocessing`),
//! behind one trait, [`CrashQueue`], with a directory backend ([`DirQueue`]), an SQS backend
//! ([`SqsQueue`]) and a Google Pub/Sub backend ([`PubsubQueue`], today's Socorro). The trait
//! has 13 methods (11 a backend must write): a core for publishing and consuming, and methods
//! only `stats`, `requeue` or the mover use, listed on the trait.

mod dir;
mod pubsub;
mod sqs;

pub use dir::DirQueue;
pub use pubsub::{PubsubLocation, PubsubQueue};
pub use sqs::{SqsLocation, SqsQueue};

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::crash::{CrashId, CrashIdError};

/// The visibility timeout Socorro uses: a claimed message whose consumer did not ack it within
/// this time goes back to the queue.
pub const DEFAULT_VISIBILITY: Duration = Duration::from_secs(300);

/// One of Socorro's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    Priority,
    Standard,
    Reprocessing,
}

impl QueueName {
    /// Every queue, in the order the processor reads them.
    pub const ALL: [QueueName; 3] = [QueueName::Priority, QueueName::Standard, QueueName::Reprocessing];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Priority => "priority",
            QueueName::Standard => "standard",
            QueueName::Reprocessing => "reprocessing",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueName::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| format!("unknown queue {s:?}: expected priority, standard or reprocessing"))
    }
}

/// A queue message: a crash ID and an optional ruleset (`<id>` or `<id>:<ruleset>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Message {
    pub id: CrashId,
    pub ruleset: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("queue message {0:?}: {1}")]
    BadId(String, CrashIdError),
    #[error("queue message {0:?}: ruleset must be [a-z0-9_]+")]
    BadRuleset(String),
}

/// Is this a valid ruleset name (`[a-z0-9_]+`)?
pub fn valid_ruleset(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Message {
    pub fn new(id: CrashId) -> Message {
        Message { id, ruleset: None }
    }

    pub fn with_ruleset(id: CrashId, ruleset: Option<String>) -> Message {
        Message { id, ruleset }
    }

    /// Parses a message body. `Ok(None)` for the `test` health-check message, which is dropped.
    pub fn parse(body: &str) -> Result<Option<Message>, MessageError> {
        let body = body.trim();
        if body == "test" {
            return Ok(None);
        }
        let (id, ruleset) = match body.split_once(':') {
            Some((id, rs)) => {
                if !valid_ruleset(rs) {
                    return Err(MessageError::BadRuleset(body.to_string()));
                }
                (id, Some(rs.to_string()))
            }
            None => (body, None),
        };
        let id = CrashId::parse_lax(id).map_err(|e| MessageError::BadId(body.to_string(), e))?;
        Ok(Some(Message { id, ruleset }))
    }

    /// The message body as sent on the wire.
    pub fn body(&self) -> String {
        match &self.ruleset {
            Some(rs) => format!("{}:{rs}", self.id),
            None => self.id.to_string(),
        }
    }
}

/// A message a consumer holds until it acks, fails or releases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub queue: QueueName,
    pub message: Message,
    /// Backend handle for the claim (a file name, an SQS receipt handle).
    pub receipt: String,
}

/// A dead-lettered message and the error that put it there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedMessage {
    pub queue: QueueName,
    /// The body as it was (it may not even be a valid message).
    pub body: String,
    pub error: String,
    #[serde(skip)]
    pub receipt: String,
}

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
/// mover; has a default).
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

/// Opens queues from a location given by the user: a directory path, `file://PATH`,
/// `sqs://PREFIX` / `sqs://?standard=URL&priority=URL&reprocessing=URL` (with the SQS settings
/// of the environment: `AWS_ENDPOINT_URL`, `AWS_REGION`, ...) or
/// `pubsub://PROJECT[?standard=TOPIC:SUB&...]` (`PUBSUB_EMULATOR_HOST`, else Application
/// Default Credentials). `create` makes a missing directory; missing SQS queues or Pub/Sub
/// topics are an error (see [`open_with`] to create them).
pub fn open(location: &str, create: bool) -> anyhow::Result<Arc<dyn CrashQueue>> {
    open_with(location, create, &crate::remote::RemoteOptions::default())
}

/// [`open`], with explicit settings for remote queues (endpoint, region, `create` for
/// missing SQS queues); they do not matter for local ones.
pub fn open_with(
    location: &str,
    create: bool,
    remote: &crate::remote::RemoteOptions,
) -> anyhow::Result<Arc<dyn CrashQueue>> {
    crate::remote::check_scheme("queue", location, SCHEMES)?;
    if location.starts_with("sqs://") {
        return sqs::open(location, remote);
    }
    if location.starts_with("pubsub://") {
        return pubsub::open(location, remote);
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    Ok(Arc::new(DirQueue::open(path, create)?))
}

/// The location schemes [`open_with`] knows (a plain path is a local directory too); a
/// location with any other `scheme://` is an error naming these.
pub const SCHEMES: &[&str] = &["file", "sqs", "pubsub"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bodies() {
        let id = "de1bb258-cbbf-4589-a673-34f800160918";
        assert_eq!(Message::parse(id).unwrap().unwrap().body(), id);
        let m = Message::parse(&format!("{id}:regenerate_signature")).unwrap().unwrap();
        assert_eq!(m.ruleset.as_deref(), Some("regenerate_signature"));
        assert_eq!(m.body(), format!("{id}:regenerate_signature"));
        assert_eq!(Message::parse("test").unwrap(), None);
        assert!(matches!(Message::parse("nope"), Err(MessageError::BadId(..))));
        assert!(matches!(Message::parse(&format!("{id}:../x")), Err(MessageError::BadRuleset(_))));
        assert_eq!("standard".parse::<QueueName>().unwrap(), QueueName::Standard);
        assert!("normal".parse::<QueueName>().is_err());
    }
}
