//! What the queues carry: the queue names, a message (crash ID and ruleset), a claimed message
//! and a dead-lettered one.

use std::fmt;
use std::str::FromStr;

use crate::crash::{CrashId, CrashIdError};

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
