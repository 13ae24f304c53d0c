//! The resumable state of a remote reprocessing job: which groups the server accepted, written
//! atomically after each one, so a rerun of the same command sends only the rest.
//!
//! Durability: each write is atomic (temp file + rename); it is also fsynced when the last
//! fsync is [`SYNC_EVERY`] old (so always with the default 1 s between groups), and when the
//! run ends ([`StateFile::flush`]). A power cut can thus forget at most the last second of
//! accepted groups, which a rerun sends again: reprocessing a crash twice is harmless.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::error::ReprocessError;
use crate::crash::CrashId;
use crate::fsutil;

const VERSION: u32 = 1;

/// The longest time an accepted group may stay recorded but not fsynced.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the state file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub version: u32,
    /// Hash of the job (host, ruleset, batch size, the IDs in order): a state file only
    /// resumes the job it was written for.
    pub fingerprint: String,
    pub host: String,
    pub ruleset: Option<String>,
    pub batch_size: usize,
    pub ids: usize,
    pub groups: usize,
    /// Indexes (0-based) of the groups the server accepted.
    pub accepted: BTreeSet<usize>,
    pub updated: String,
}

/// The job's identity, which its state file must match.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub host: &'a str,
    pub ruleset: Option<&'a str>,
    pub batch_size: usize,
    pub ids: &'a [CrashId],
}

impl Job<'_> {
    pub fn groups(&self) -> usize {
        self.ids.len().div_ceil(self.batch_size.max(1))
    }

    /// SHA-256 (hex) of everything that defines the groups sent.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("host={}\nruleset={}\nbatch={}\n", self.host, self.ruleset.unwrap_or(""), self.batch_size));
        for id in self.ids {
            h.update(id.as_str());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    /// The default state file: `<state dir>/reprocess-<fingerprint prefix>.json`.
    pub fn default_state_path(&self) -> Result<PathBuf, ReprocessError> {
        let dir = default_state_dir().ok_or(ReprocessError::NoStateDir)?;
        Ok(dir.join(format!("reprocess-{}.json", &self.fingerprint()[..16])))
    }
}

/// `$CRASHCTL_STATE_DIR`, else `$XDG_STATE_HOME/crashctl`, else `~/.local/state/crashctl`.
pub fn default_state_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("CRASHCTL_STATE_DIR")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("crashctl")))
        .or_else(|| env("HOME").map(|h| h.join(".local/state/crashctl")))
}

/// A state file on disk and its content.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    state: State,
    /// When the file was last fsynced (`None`: never).
    synced: Option<Instant>,
    /// Written since the last fsync.
    unsynced: bool,
}

impl StateFile {
    /// Reads the state file of `job`, or starts a new one (not written until a group is
    /// accepted). A file written for another job is an error, never silently reused.
    pub fn open(path: &Path, job: &Job<'_>) -> Result<StateFile, ReprocessError> {
        let fingerprint = job.fingerprint();
        let io = |e: std::io::Error| ReprocessError::State { path: path.to_path_buf(), reason: e.to_string() };
        // An empty file (a power cut between creating and writing it) records nothing.
        let bytes = fsutil::read_optional(path).map_err(io)?.filter(|b| !b.is_empty());
        let Some(bytes) = bytes else {
            let state = State {
                version: VERSION,
                fingerprint,
                host: job.host.to_string(),
                ruleset: job.ruleset.map(str::to_string),
                batch_size: job.batch_size,
                ids: job.ids.len(),
                groups: job.groups(),
                accepted: BTreeSet::new(),
                updated: now(),
            };
            return Ok(StateFile { path: path.to_path_buf(), state, synced: None, unsynced: false });
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| ReprocessError::State {
            path: path.to_path_buf(),
            reason: format!("not a state file: {e}"),
        })?;
        if state.version != VERSION || state.fingerprint != fingerprint {
            return Err(ReprocessError::StateMismatch { path: path.to_path_buf(), ids: state.ids, host: state.host });
        }
        Ok(StateFile { path: path.to_path_buf(), state, synced: None, unsynced: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn is_accepted(&self, group: usize) -> bool {
        self.state.accepted.contains(&group)
    }

    /// Records an accepted group and writes the file (atomically; fsynced as the module says).
    pub fn accept(&mut self, group: usize) -> Result<(), ReprocessError> {
        self.state.accepted.insert(group);
        self.state.updated = now();
        let due = self.synced.is_none_or(|t| t.elapsed() >= SYNC_EVERY);
        self.write(due)
    }

    /// Makes the last write durable (at the end of a run).
    pub fn flush(&mut self) -> Result<(), ReprocessError> {
        if self.unsynced {
            self.write(true)?;
        }
        Ok(())
    }

    fn write(&mut self, fsync: bool) -> Result<(), ReprocessError> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("state serializes");
        fsutil::write_atomic(&self.path, &bytes, fsync)
            .map_err(|e| ReprocessError::State { path: self.path.clone(), reason: format!("cannot write: {e}") })?;
        if fsync {
            if let Some(dir) = self.path.parent() {
                let _ = fsutil::fsync_dir(dir);
            }
            self.synced = Some(Instant::now());
        }
        self.unsynced = !fsync;
        Ok(())
    }

    /// The job is done: the file goes (so the same command later reprocesses again).
    pub fn remove(&self) -> Result<(), ReprocessError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ReprocessError::State { path: self.path.clone(), reason: format!("cannot remove: {e}") })
            }
            _ => Ok(()),
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<CrashId> {
        (0..n).map(|_| CrashId::generate(crate::crash::Throttle::Accept, chrono::Utc::now().date_naive())).collect()
    }

    #[test]
    fn resumes_only_the_same_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s/state.json");
        let list = ids(5);
        let job = Job { host: "http://h", ruleset: None, batch_size: 2, ids: &list };
        assert_eq!(job.groups(), 3);
        let mut s = StateFile::open(&path, &job).unwrap();
        assert!(!path.exists(), "nothing written before a group is accepted");
        s.accept(1).unwrap();
        let s = StateFile::open(&path, &job).unwrap();
        assert!(s.is_accepted(1) && !s.is_accepted(0));

        let other = Job { batch_size: 3, ..job.clone() };
        assert!(matches!(StateFile::open(&path, &other), Err(ReprocessError::StateMismatch { .. })));
        let other = Job { ruleset: Some("default"), ..job.clone() };
        assert!(matches!(StateFile::open(&path, &other), Err(ReprocessError::StateMismatch { .. })));
        s.remove().unwrap();
        assert!(!path.exists());
        s.remove().unwrap();
    }

    #[test]
    fn an_empty_file_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"").unwrap();
        let list = ids(2);
        let job = Job { host: "http://h", ruleset: None, batch_size: 1, ids: &list };
        let mut s = StateFile::open(&path, &job).unwrap();
        assert!(!s.is_accepted(0));
        s.accept(0).unwrap();
        s.accept(1).unwrap();
        s.flush().unwrap();
        let s = StateFile::open(&path, &job).unwrap();
        assert!(s.is_accepted(0) && s.is_accepted(1));
    }
}
