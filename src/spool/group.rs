//! Group commit: one flush makes every write that finished before it began durable, so
//! concurrent writers share one `syncfs` instead of each starting their own (or each fsyncing
//! its own files). Used by the spool (the collector's default sink) and by the collector's
//! direct mode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct SyncGroup {
    /// Writes finished so far (a write takes its number once it has finished).
    written: AtomicU64,
    /// Every write numbered up to this one is durable.
    synced: Mutex<u64>,
    /// Flushes run (for tests and benchmarks).
    flushes: AtomicU64,
}

impl SyncGroup {
    /// Called after a finished write: returns once that write is durable, by a `flush` this
    /// call runs or by one another caller began after the write finished. A failed flush is
    /// this caller's error; the next caller flushes again.
    pub fn sync<E>(&self, flush: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mine = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= mine {
            return Ok(());
        }
        // Every write numbered up to `upto` finished before this flush begins.
        let upto = self.written.load(Ordering::SeqCst);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        flush()?;
        *synced = upto;
        Ok(())
    }

    /// How many flushes have run.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_flush_covers_earlier_writes_and_a_failed_one_is_retried() {
        let group = SyncGroup::default();
        assert_eq!(group.sync(|| Err("disk on fire")), Err("disk on fire"), "a failed flush is the caller's error");
        let mut calls = 0;
        group
            .sync(|| -> Result<(), ()> {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, 1, "the next write flushes again");
        // another thread's finished write (number 3) is covered by this flush too
        group.written.fetch_add(1, Ordering::SeqCst);
        group
            .sync(|| -> Result<(), ()> {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((calls, *group.synced.lock().unwrap()), (2, 4));
        // as if other flushes had begun after this write finished
        *group.synced.lock().unwrap() = 10;
        group
            .sync(|| -> Result<(), ()> {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, 2, "covered by a flush that began after it");
        assert_eq!(group.flushes(), 3);
    }

    #[test]
    fn concurrent_writers_share_flushes() {
        // 8 writers x 50 writes, each flush slow: far fewer flushes than writes, and every
        // write returns only after a flush that began after it finished
        let group = Arc::new(SyncGroup::default());
        let flushed_upto = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (group, flushed_upto, finished) = (group.clone(), flushed_upto.clone(), finished.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let me = finished.fetch_add(1, Ordering::SeqCst) + 1;
                        group
                            .sync(|| -> Result<(), ()> {
                                let upto = finished.load(Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(1));
                                flushed_upto.fetch_max(upto, Ordering::SeqCst);
                                Ok(())
                            })
                            .unwrap();
                        assert!(
                            flushed_upto.load(Ordering::SeqCst) >= me,
                            "write {me} returned before a flush covered it"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(group.flushes() < 400, "{} flushes for 400 writes", group.flushes());
    }
}
