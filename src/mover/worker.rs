//! Moving one crash: load it from the spool, write it to the store (with retries and
//! exponential backoff), and with `--verify` read it back and compare sha256 digests. Runs on
//! the worker threads; the spool is never changed here.

use std::io;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::options::Backends;
use super::report::{FailKind, Failure};
use crate::crash::{Crash, DumpData, DumpName, RawCrash};
use crate::spool::{Spool, SpoolEntry};
use crate::stop::sleep_unless_stopped;
use crate::store::CrashStore;

/// The stop flag of a caller that has none.
static NEVER: AtomicBool = AtomicBool::new(false);

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A crash written to the store, waiting for its batch to be made durable.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub entry: SpoolEntry,
    /// Bytes of dumps.
    pub bytes: u64,
}

/// What a worker reports for one crash.
#[derive(Debug)]
pub(super) enum Outcome {
    Stored(Stored),
    Failed(SpoolEntry, Failure),
}

/// How the workers write.
#[derive(Debug, Clone, Copy)]
pub(super) struct WorkerConfig {
    pub verify: bool,
    pub retries: u32,
    pub backoff: Duration,
}

/// Calls `f` until it succeeds, at most `retries` more times, waiting `backoff`, then twice
/// as long each time (capped). When `stop` is set, no further attempt is made.
pub(super) fn with_retries<T, E>(
    retries: u32,
    backoff: Duration,
    stop: Option<&AtomicBool>,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut delay = backoff;
    let mut attempt = 0;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= retries || !sleep_unless_stopped(delay, stop.unwrap_or(&NEVER)) => return Err(e),
            Err(_) => {
                delay = (delay * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
        }
    }
}

/// Moves one crash into the store (the spool is left alone).
pub(super) fn store_one(b: &Backends<'_>, entry: SpoolEntry, cfg: WorkerConfig, stop: &AtomicBool) -> Outcome {
    match try_store(b.spool, b.store, &entry, cfg, stop) {
        Ok(bytes) => Outcome::Stored(Stored { entry, bytes }),
        Err(failure) => Outcome::Failed(entry, failure),
    }
}

fn try_store(
    spool: &Spool,
    store: &dyn CrashStore,
    entry: &SpoolEntry,
    cfg: WorkerConfig,
    stop: &AtomicBool,
) -> Result<u64, Failure> {
    let crash = spool.load(entry).map_err(|e| Failure::new(&entry.id, FailKind::Source, e.name(), e.to_string()))?;
    let bytes = dump_bytes(&crash)?;
    let digests = if cfg.verify { Some(Digests::of_source(&crash)?) } else { None };
    with_retries(cfg.retries, cfg.backoff, Some(stop), || {
        store.put_crash(&crash).map_err(|e| Failure::new(&crash.id, FailKind::Destination, e.name(), e.to_string()))?;
        match &digests {
            Some(d) => d.verify(store, &crash),
            None => Ok(()),
        }
    })?;
    Ok(bytes)
}

/// The total size of the dumps; a dump that is not a readable regular file fails the crash
/// before anything is written.
fn dump_bytes(crash: &Crash) -> Result<u64, Failure> {
    let mut total = 0;
    for dump in &crash.dumps {
        let unreadable = |reason: String| {
            Failure::new(&crash.id, FailKind::Source, "unreadable_dump", format!("dump {}: {reason}", dump.name))
        };
        total += match &dump.data {
            DumpData::Bytes(b) => b.len() as u64,
            DumpData::File(p) => {
                // opened, not just stat'ed: a dump we may not read is the crash's fault, and
                // must not be retried as a destination error
                let meta = std::fs::File::open(p)
                    .and_then(|f| f.metadata())
                    .map_err(|e| unreadable(format!("{}: {e}", p.display())))?;
                if !meta.is_file() {
                    return Err(unreadable(format!("{} is not a regular file", p.display())));
                }
                meta.len()
            }
        };
    }
    Ok(total)
}

/// sha256 of the raw crash (canonical JSON: compact, sorted keys) and of every dump.
#[derive(Debug)]
struct Digests {
    raw: Vec<u8>,
    dumps: Vec<(DumpName, Vec<u8>)>,
}

fn raw_digest(raw: &RawCrash) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(raw).expect("JSON values always serialize")).to_vec()
}

impl Digests {
    fn of_source(crash: &Crash) -> Result<Digests, Failure> {
        let mut dumps = Vec::new();
        for dump in &crash.dumps {
            let digest = match &dump.data {
                DumpData::Bytes(b) => Sha256::digest(b).to_vec(),
                DumpData::File(p) => file_digest(p).map_err(|e| {
                    let reason = format!("dump {}: {}: {e}", dump.name, p.display());
                    Failure::new(&crash.id, FailKind::Source, "unreadable_dump", reason)
                })?,
            };
            dumps.push((dump.name.clone(), digest));
        }
        dumps.sort();
        Ok(Digests { raw: raw_digest(&crash.raw), dumps })
    }

    /// Reads the crash back from the store and compares.
    fn verify(&self, store: &dyn CrashStore, crash: &Crash) -> Result<(), Failure> {
        let id = &crash.id;
        let fail = |reason: String| Failure::new(id, FailKind::Destination, "verify_mismatch", reason);
        let read_err = |e: crate::store::StoreError| Failure::new(id, FailKind::Destination, e.name(), e.to_string());
        let raw = store.get_raw_crash(id).map_err(read_err)?;
        if raw_digest(&raw) != self.raw {
            return Err(fail("raw crash read back from the store differs (sha256)".into()));
        }
        let mut names = store.get_dump_names(id).map_err(read_err)?;
        names.sort();
        let expected: Vec<&DumpName> = self.dumps.iter().map(|(n, _)| n).collect();
        if names.iter().collect::<Vec<_>>() != expected {
            return Err(fail(format!("dump names read back {names:?}, expected {expected:?}")));
        }
        for (name, digest) in &self.dumps {
            let bytes = store.get_dump(id, name).map_err(read_err)?;
            if Sha256::digest(&bytes).as_slice() != digest.as_slice() {
                return Err(fail(format!("dump {name} read back from the store differs (sha256)")));
            }
        }
        Ok(())
    }
}

fn file_digest(path: &std::path::Path) -> io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h)?;
    Ok(h.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn retries_then_gives_up() {
        let calls = Cell::new(0);
        let r: Result<(), &str> = with_retries(2, Duration::ZERO, None, || {
            calls.set(calls.get() + 1);
            Err("down")
        });
        assert_eq!((r, calls.get()), (Err("down"), 3));
        calls.set(0);
        let r: Result<u8, &str> = with_retries(5, Duration::ZERO, None, || {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                Err("flaky")
            } else {
                Ok(7)
            }
        });
        assert_eq!((r, calls.get()), (Ok(7), 3));
    }
}
