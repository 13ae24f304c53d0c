//! What the worker and committer threads tell the coordinating thread.

use super::report::Failure;
use super::worker::{Outcome, Stored};

/// Messages to the coordinating thread.
#[derive(Debug)]
pub(super) enum Msg {
    /// A worker finished a crash.
    Done(Outcome),
    /// The committer finished a batch.
    Committed(Committed),
}

/// What became of a batch.
#[derive(Debug, Default)]
pub(super) struct Committed {
    /// Durable in the store, queued, removed from the spool (unless keep).
    pub moved: Vec<Stored>,
    /// Durable and queued, but could not be removed from the spool.
    pub failed: Vec<Failure>,
    /// The batch could not be made durable: nothing of it was removed.
    pub abort: Option<String>,
}
