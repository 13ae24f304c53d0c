//! The [`CrashStore`] trait every backend implements, its errors, and what its listings return.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::crash::{Crash, CrashId, DumpData, DumpName, ProcessedCrash, RawCrash};

/// Why a storage operation failed. `name()` gives a stable machine name.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("crash {id}: no {object} in {store}")]
    NotFound { id: CrashId, object: String, store: String },
    #[error("crash {id}: {object} is corrupt: {reason}")]
    Corrupt { id: CrashId, object: String, reason: String },
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
    #[error("{0}")]
    Backend(String),
}

impl StoreError {
    pub fn name(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Io { .. } => "io_error",
            StoreError::Backend(_) => "backend_error",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Crash IDs found under a listing, and the names there that are not crash IDs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listing {
    pub ids: Vec<CrashId>,
    /// Entries that are not valid crash IDs (reported, never used as IDs).
    pub invalid: Vec<String>,
}

/// What the crashes of one day (the date in their IDs) take in a store: every object of them
/// (raw crash, dump names, dumps, processed crash) and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DayUsage {
    pub objects: u64,
    pub bytes: u64,
}

/// Permanent crash storage (Socorro's crash storage: raw crashes, dumps, processed crashes).
///
/// The core, used by the pipeline (collector, mover, processor): [`describe`](Self::describe),
/// [`put_crash`](Self::put_crash), [`get_raw_crash`](Self::get_raw_crash),
/// [`get_dump_names`](Self::get_dump_names), [`get_dump`](Self::get_dump),
/// [`get_crash`](Self::get_crash), [`put_processed`](Self::put_processed),
/// [`get_processed`](Self::get_processed), [`sync`](Self::sync).
///
/// Needed by one stage or tool: listings for `stats`, `requeue`, `reprocess` and
/// `submit --from-store` ([`list_dates`](Self::list_dates), [`list_raw`](Self::list_raw),
/// [`list_processed`](Self::list_processed), [`has_raw`](Self::has_raw),
/// [`has_processed`](Self::has_processed), [`usage`](Self::usage)); the processor's fast path
/// [`put_processed_json`](Self::put_processed_json); the collector's heartbeat
/// [`check_writable`](Self::check_writable); the mover's [`cleanup`](Self::cleanup); and
/// [`delete_crash`](Self::delete_crash) for tools. Methods with a default (`get_crash`,
/// `put_processed_json`, `usage`, `cleanup`, `check_writable`) need no code in a new backend.
pub trait CrashStore: Send + Sync {
    /// Where this store is, for messages (`/data/store (v1 layout)`, `s3://bucket/prefix`).
    fn describe(&self) -> String;

    /// Saves a crash: dumps, dump names, then the raw crash last, each object atomically, so a
    /// present raw crash means a complete crash. Overwrites an existing crash of the same ID.
    fn put_crash(&self, crash: &Crash) -> Result<()>;

    fn get_raw_crash(&self, id: &CrashId) -> Result<RawCrash>;

    /// The dump names recorded for a crash (empty when none were recorded).
    fn get_dump_names(&self, id: &CrashId) -> Result<Vec<DumpName>>;

    fn get_dump(&self, id: &CrashId, name: &DumpName) -> Result<Vec<u8>>;

    /// The whole crash: raw crash and every dump named in its dump names.
    fn get_crash(&self, id: &CrashId) -> Result<Crash> {
        let raw = self.get_raw_crash(id)?;
        let mut crash = Crash::new(id.clone(), raw);
        for name in self.get_dump_names(id)? {
            let bytes = self.get_dump(id, &name)?;
            crash.add_dump(name, DumpData::Bytes(bytes.into()));
        }
        Ok(crash)
    }

    fn put_processed(&self, id: &CrashId, processed: &ProcessedCrash) -> Result<()>;

    /// [`put_processed`](Self::put_processed) for a processed crash already serialized (one
    /// compact JSON object, as `serde_json::to_vec` writes a [`ProcessedCrash`]), so a caller
    /// that has it as text needs no `Value` of it. Backends that store compact JSON write the
    /// bytes as they are (unchecked); the default parses them (`Corrupt` if not an object).
    fn put_processed_json(&self, id: &CrashId, json: &[u8]) -> Result<()> {
        let processed: ProcessedCrash = serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            object: "processed crash".into(),
            reason: e.to_string(),
        })?;
        self.put_processed(id, &processed)
    }

    /// The processed crash, or `None` when the crash was never processed.
    fn get_processed(&self, id: &CrashId) -> Result<Option<ProcessedCrash>>;

    /// Is the raw crash there (and so the whole crash)?
    fn has_raw(&self, id: &CrashId) -> Result<bool>;

    fn has_processed(&self, id: &CrashId) -> Result<bool>;

    /// Days that have raw crashes, oldest first.
    fn list_dates(&self) -> Result<Vec<NaiveDate>>;

    /// Raw crashes of one day.
    fn list_raw(&self, date: NaiveDate) -> Result<Listing>;

    /// Every processed crash.
    fn list_processed(&self) -> Result<Listing>;

    /// Deletes a crash: the raw crash first (so it stops being complete), then its dumps, dump
    /// names and processed crash. Deleting a missing crash is not an error.
    fn delete_crash(&self, id: &CrashId) -> Result<()>;

    /// Objects and bytes per crash-ID day, oldest first, where the backend can tell from one
    /// listing (S3: ListObjectsV2 sizes); `None` where it cannot (the default).
    fn usage(&self) -> Result<Option<BTreeMap<NaiveDate, DayUsage>>> {
        Ok(None)
    }

    /// Makes every write so far durable (one call for a batch; a no-op where each write already is).
    fn sync(&self) -> Result<()>;

    /// Deletes the temporary files that killed writers left, when older than `tmp_age`
    /// (younger ones may still be being written). Returns how many; nothing to do where a
    /// write leaves no temporary object (S3, the default).
    fn cleanup(&self, tmp_age: std::time::Duration) -> Result<usize> {
        let _ = tmp_age;
        Ok(0)
    }

    /// A health check (the collector's `/__heartbeat__`): Ok when the store can be written.
    /// By default it only proves the store answers (a listing); backends that can cheaply
    /// try a write do.
    fn check_writable(&self) -> Result<()> {
        self.list_dates().map(|_| ())
    }
}

/// The date a listing key refers to (`YYYYMMDD`).
pub fn parse_date_key(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y%m%d").ok()
}
