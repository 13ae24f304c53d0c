//! Where the collector puts an accepted crash: the local spool (a mover ships it later), or
//! directly into the crash store with the crash ID published to the `standard` queue, as
//! Mozilla's modern collector (Antenna) does. [`Collector::handle`](super::Collector::handle)
//! has one code path; only these few methods differ.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::crash::{Crash, CrashId};
use crate::queue::{CrashQueue, Message, QueueName};
use crate::spool::Spool;
use crate::store::CrashStore;

/// The destination of accepted crashes.
#[derive(Clone)]
pub enum Sink {
    /// The collector's disk queue (every file fsynced before the answer).
    Spool(Spool),
    /// Straight into the store; ACCEPT crash IDs go to the `standard` queue when there is one.
    Store { store: Arc<dyn CrashStore>, queue: Option<Arc<dyn CrashQueue>> },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Sink {
    /// Where crashes go, for messages (`spool /data/spool`, `store s3://b, queue sqs://p`).
    pub fn describe(&self) -> String {
        match self {
            Sink::Spool(s) => format!("spool {}", s.root().display()),
            Sink::Store { store, queue: Some(q) } => format!("store {}, queue {}", store.describe(), q.describe()),
            Sink::Store { store, queue: None } => format!("store {} (no queue)", store.describe()),
        }
    }

    /// Saves a crash durably: when this returns Ok the client may delete its copy. A failed
    /// save leaves nothing that counts as a crash (the spool publishes by rename; a store
    /// writes the raw crash last, and an incomplete crash has none).
    pub fn save(&self, crash: &Crash, received: DateTime<Utc>) -> anyhow::Result<()> {
        match self {
            Sink::Spool(spool) => spool.save(crash, received).map(|_| ()).map_err(Into::into),
            Sink::Store { store, .. } => {
                store.put_crash(crash)?;
                // One syncfs for a local store (its writes are not fsynced one by one); a no-op for S3.
                store.sync()?;
                Ok(())
            }
        }
    }

    /// Does this sink publish crash IDs itself (rather than leaving that to a mover)?
    pub fn publishes(&self) -> bool {
        matches!(self, Sink::Store { queue: Some(_), .. })
    }

    /// Publishes a saved ACCEPT crash to the `standard` queue (nothing to do for the spool).
    pub fn publish(&self, id: &CrashId) -> anyhow::Result<()> {
        if let Sink::Store { queue: Some(queue), .. } = self {
            queue.publish(QueueName::Standard, &[Message::new(id.clone())])?;
        }
        Ok(())
    }

    /// Problems with storage, for `/__heartbeat__` (empty when all is well).
    pub fn storage_errors(&self) -> Vec<String> {
        match self {
            Sink::Spool(spool) => spool_errors(spool),
            Sink::Store { store, queue } => {
                let mut errors = Vec::new();
                if let Err(e) = store.check_writable() {
                    errors.push(format!("store {} is not writable: {e}", store.describe()));
                }
                if let Some(q) = queue {
                    if let Err(e) = q.depths() {
                        errors.push(format!("queue {} is not reachable: {e}", q.describe()));
                    }
                }
                errors
            }
        }
    }
}

fn spool_errors(spool: &Spool) -> Vec<String> {
    // A directory, like a crash being written, so `Spool::cleanup` removes a leftover one.
    let tmp = spool.root().join(crate::spool::TMP_DIR);
    let probe = tmp.join(format!("heartbeat.{:016x}", rand::random::<u64>()));
    let written = std::fs::create_dir_all(&probe).and_then(|_| std::fs::write(probe.join("probe"), b"ok"));
    // removed even when the write failed (a full disk), so failing probes do not pile up
    let removed = std::fs::remove_dir_all(&probe);
    match written.and(removed) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("spool {} is not writable: {e}", spool.root().display())],
    }
}
