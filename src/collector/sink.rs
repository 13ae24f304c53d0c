//! Where the collector puts an accepted crash: the local spool (a mover ships it later), or
//! directly into the crash store with the crash ID published to the `standard` queue, as
//! Mozilla's modern collector (Antenna) does. [`Collector::handle`](super::Collector::handle)
//! has one code path; only these few methods differ.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::crash::{Crash, CrashId};
use crate::queue::{CrashQueue, Message, QueueName};
use crate::spool::{Spool, SyncGroup};
use crate::store::CrashStore;

/// The destination of accepted crashes.
#[derive(Clone)]
pub enum Sink {
    /// The collector's disk queue (every crash durable before the answer; concurrent saves
    /// share their flushes, see [`Spool::save`]).
    Spool(Spool),
    /// Straight into the store; ACCEPT crash IDs go to the `standard` queue when there is one.
    /// Make it with [`Sink::store`].
    Store { store: Arc<dyn CrashStore>, queue: Option<Arc<dyn CrashQueue>>, syncs: Arc<SyncGroup> },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Sink {
    /// Crashes go straight into `store`; ACCEPT crash IDs to `queue`'s `standard` queue.
    pub fn store(store: Arc<dyn CrashStore>, queue: Option<Arc<dyn CrashQueue>>) -> Sink {
        Sink::Store { store, queue, syncs: Arc::default() }
    }

    /// Where crashes go, for messages (`spool /data/spool`, `store s3://b, queue sqs://p`).
    pub fn describe(&self) -> String {
        match self {
            Sink::Spool(s) => format!("spool {}", s.root().display()),
            Sink::Store { store, queue: Some(q), .. } => format!("store {}, queue {}", store.describe(), q.describe()),
            Sink::Store { store, queue: None, .. } => format!("store {} (no queue)", store.describe()),
        }
    }

    /// Saves a crash durably: when this returns Ok the client may delete its copy. A failed
    /// save leaves nothing that counts as a crash (the spool publishes by rename; a store
    /// writes the raw crash last, and an incomplete crash has none).
    pub fn save(&self, crash: &Crash, received: DateTime<Utc>) -> anyhow::Result<()> {
        match self {
            Sink::Spool(spool) => spool.save(crash, received).map(|_| ()).map_err(Into::into),
            Sink::Store { store, syncs, .. } => {
                store.put_crash(crash)?;
                // A local store's writes are not fsynced one by one: a (shared) syncfs makes
                // them durable: one sync makes every write that finished before it began
                // durable, so concurrent requests share one. A no-op for S3, where a finished
                // PUT is durable.
                syncs.sync(|| store.sync())?;
                Ok(())
            }
        }
    }

    /// Is a crash with this ID already saved? (Direct mode asks the store; the spool leaves
    /// that to the mover, and a new spool entry never replaces another.)
    pub fn exists(&self, id: &CrashId) -> anyhow::Result<bool> {
        match self {
            Sink::Spool(_) => Ok(false),
            Sink::Store { store, .. } => Ok(store.has_raw(id)?),
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
            Sink::Store { store, queue, .. } => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{ProcessedCrash, RawCrash};
    use crate::store::{Listing, Result, StoreError};
    use chrono::NaiveDate;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts syncs; the first `fail` of them fail.
    #[derive(Default)]
    struct Syncs {
        calls: AtomicU64,
        fail: u64,
    }

    impl CrashStore for Syncs {
        fn describe(&self) -> String {
            "syncs".into()
        }
        fn put_crash(&self, _: &Crash) -> Result<()> {
            Ok(())
        }
        fn get_raw_crash(&self, _: &CrashId) -> Result<RawCrash> {
            unimplemented!()
        }
        fn get_dump_names(&self, _: &CrashId) -> Result<Vec<crate::crash::DumpName>> {
            unimplemented!()
        }
        fn get_dump(&self, _: &CrashId, _: &crate::crash::DumpName) -> Result<Vec<u8>> {
            unimplemented!()
        }
        fn put_processed(&self, _: &CrashId, _: &ProcessedCrash) -> Result<()> {
            unimplemented!()
        }
        fn get_processed(&self, _: &CrashId) -> Result<Option<ProcessedCrash>> {
            unimplemented!()
        }
        fn has_raw(&self, _: &CrashId) -> Result<bool> {
            unimplemented!()
        }
        fn has_processed(&self, _: &CrashId) -> Result<bool> {
            unimplemented!()
        }
        fn list_dates(&self) -> Result<Vec<NaiveDate>> {
            Ok(Vec::new())
        }
        fn list_raw(&self, _: NaiveDate) -> Result<Listing> {
            unimplemented!()
        }
        fn list_processed(&self) -> Result<Listing> {
            unimplemented!()
        }
        fn delete_crash(&self, _: &CrashId) -> Result<()> {
            unimplemented!()
        }
        fn sync(&self) -> Result<()> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.fail {
                return Err(StoreError::Backend("disk on fire".into()));
            }
            Ok(())
        }
    }

    #[test]
    fn a_failed_store_sync_fails_the_save_and_the_next_save_syncs_again() {
        let store = Arc::new(Syncs { fail: 1, ..Syncs::default() });
        let sink = Sink::store(store.clone(), None);
        let crash = Crash::new(CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160918").unwrap(), RawCrash::new());
        let now = chrono::Utc::now();
        assert!(sink.save(&crash, now).is_err(), "a failed sync is the save's error");
        sink.save(&crash, now).unwrap();
        assert_eq!(store.calls.load(Ordering::SeqCst), 2, "the next save syncs again");
    }
}
