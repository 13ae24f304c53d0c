//! Crash queues: Socorro's three queues of crash IDs (`priority`, `standard`, `reprocessing`),
//! behind one trait, [`CrashQueue`], with a directory backend ([`DirQueue`]), an SQS backend
//! ([`SqsQueue`]) and a Google Pub/Sub backend ([`PubsubQueue`], today's Socorro). The trait
//! has 14 methods (11 a backend must write): a core for publishing and consuming, and methods
//! only `stats`, `requeue` or the mover use, listed on the trait.

mod crash_queue;
mod dir;
mod message;
mod pubsub;
mod sqs;

pub use crash_queue::{CrashQueue, QueueDepth, QueueError, Result, DEFAULT_VISIBILITY, UNKNOWN};
pub use dir::DirQueue;
pub use message::{valid_ruleset, Claimed, FailedMessage, Message, MessageError, QueueName};
pub use pubsub::{PubsubLocation, PubsubQueue};
pub use sqs::{SqsLocation, SqsQueue};

use std::sync::Arc;

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
