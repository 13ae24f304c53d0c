//! The spool: the collector's local disk queue of whole crashes, which the crash mover drains.
//!
//! ```text
//! SPOOL/YYYYMMDD/HH/MM/<crash id>/raw_crash.json      one directory per crash, sharded by
//! SPOOL/YYYYMMDD/HH/MM/<crash id>/<dump name>.dump    the UTC minute it was received
//! SPOOL/.tmp/<crash id>.<random>/                     a crash being written (never read)
//! SPOOL/.trash/<crash id>.<random>/                   a crash being deleted (never read)
//! SPOOL/quarantine/<crash id>/                        crashes the mover set aside (+ reason.txt)
//! SPOOL/.failures/<crash id>                           failed move attempts so far ("<count>\n<reason>")
//! SPOOL/.mover.lock                                    flock(2) held by the one running mover
//! ```
//! Names starting with `.` at the top are the spool's own bookkeeping, never crashes.
//! A crash is written whole under `.tmp`, made durable, then published by one atomic rename
//! into its shard, and the rename made durable: a crash is never half visible. Durable by group
//! commit ([`SyncGroup`]): crashes saved at the same time share one `syncfs(2)` of the spool's
//! file system after their writes and one after their renames, instead of four fsyncs each. Sharding
//! by minute keeps every directory small enough to list and delete quickly (the 750,000-files
//! outage). Deleting renames the crash into `.trash` first, so a killed process never leaves a
//! half-deleted crash where a reader would find it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use crate::crash::{Crash, CrashId, DumpData, DumpName, RawCrash};
use crate::fsutil;

mod group;
pub use group::SyncGroup;

/// Name of the raw crash file inside a crash directory.
pub const RAW_CRASH_FILE: &str = "raw_crash.json";
/// Suffix of dump files inside a crash directory.
pub const DUMP_SUFFIX: &str = ".dump";
/// Reason file inside a quarantined crash directory.
pub const REASON_FILE: &str = "reason.txt";
pub const TMP_DIR: &str = ".tmp";
pub const TRASH_DIR: &str = ".trash";
pub const QUARANTINE_DIR: &str = "quarantine";
pub const FAILURES_DIR: &str = ".failures";
pub const LOCK_FILE: &str = ".mover.lock";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
    #[error("{path}: {reason}")]
    Stray { path: PathBuf, reason: String },
    #[error("crash {id} in {path}: {reason}")]
    Corrupt { id: CrashId, path: PathBuf, reason: String },
}

impl SpoolError {
    pub fn name(&self) -> &'static str {
        match self {
            SpoolError::Io { .. } => "io_error",
            SpoolError::Stray { .. } => "stray_entry",
            SpoolError::Corrupt { .. } => "corrupt_crash",
        }
    }
}

pub type Result<T, E = SpoolError> = std::result::Result<T, E>;

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SpoolError {
    let path = path.to_path_buf();
    move |source| SpoolError::Io { op, path, source }
}

/// One crash waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    pub id: CrashId,
    /// The crash directory.
    pub path: PathBuf,
    /// `YYYYMMDD/HH/MM`, the minute it was received (UTC).
    pub shard: String,
}

impl SpoolEntry {
    /// The minute the crash was received, from its shard.
    pub fn received(&self) -> Option<DateTime<Utc>> {
        shard_time(&self.shard)
    }
}

/// The time of a `YYYYMMDD/HH/MM` shard.
pub fn shard_time(shard: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(shard, "%Y%m%d/%H/%M").ok().map(|t| t.and_utc())
}

/// When the day, hour or minute of a shard prefix (`YYYYMMDD`, `YYYYMMDD/HH`,
/// `YYYYMMDD/HH/MM`) is over.
fn shard_end(prefix: &str) -> Option<DateTime<Utc>> {
    match prefix.len() {
        8 => Some(shard_time(&format!("{prefix}/00/00"))? + TimeDelta::days(1)),
        11 => Some(shard_time(&format!("{prefix}/00"))? + TimeDelta::hours(1)),
        14 => Some(shard_time(prefix)? + TimeDelta::minutes(1)),
        _ => None,
    }
}

/// The shard a crash received at `t` goes to.
pub fn shard_of(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d/%H/%M").to_string()
}

/// A crash set aside by the mover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: CrashId,
    pub path: PathBuf,
    pub reason: String,
}

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
    fsync: bool,
    /// Shared by the clones of this spool (the collector's request handlers).
    commits: Arc<Commits>,
}

/// The two group commits of [`Spool::save`]: the crashes' files, then their renames.
#[derive(Debug, Default)]
struct Commits {
    written: SyncGroup,
    published: SyncGroup,
}

impl Spool {
    /// Opens a spool; `create` makes a missing directory (the collector), otherwise a missing
    /// directory is an error (the mover, stats).
    pub fn open(root: impl Into<PathBuf>, create: bool) -> anyhow::Result<Spool> {
        let root = root.into();
        if create {
            fs::create_dir_all(&root)
                .map_err(|e| anyhow::anyhow!("spool {}: cannot create directory: {e}", root.display()))?;
        } else if !root.is_dir() {
            anyhow::bail!("spool {}: no such directory", root.display());
        }
        Ok(Spool { root, fsync: true, commits: Arc::default() })
    }

    /// Turns fsync off (tests and benchmarks that build large spools; never the collector).
    pub fn without_fsync(mut self) -> Spool {
        self.fsync = false;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Saves a whole crash, received at `received`, and publishes it atomically. When this
    /// returns Ok, the crash is durable and visible; on error nothing is visible. Concurrent
    /// saves share their flushes (group commit): each writes its files under `.tmp`, waits for
    /// one `syncfs` that began after its writes, renames the crash into its shard, and waits
    /// for one `syncfs` that began after the rename.
    pub fn save(&self, crash: &Crash, received: DateTime<Utc>) -> Result<SpoolEntry> {
        let tmp_root = self.root.join(TMP_DIR);
        let tmp = tmp_root.join(format!("{}.{:016x}", crash.id, rand::random::<u64>()));
        let result = self.write(crash, &tmp_root, &tmp).and_then(|()| self.publish(&crash.id, received, &tmp));
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        let entry = result?;
        if self.fsync {
            if let Err(e) = self.commits.published.sync(|| self.sync_all()) {
                // not known to be durable: take it back, so that the client sends it again
                let _ = self.remove(&entry);
                return Err(e);
            }
        }
        Ok(entry)
    }

    /// How many `syncfs` calls saving has made so far (by this spool and its clones).
    pub fn flushes(&self) -> u64 {
        self.commits.written.flushes() + self.commits.published.flushes()
    }

    fn sync_all(&self) -> Result<()> {
        fsutil::sync_filesystem(&self.root).map_err(io_err("sync", &self.root))
    }

    /// Writes the crash's files into `tmp` (a new directory in `.tmp`) and makes them durable.
    fn write(&self, crash: &Crash, tmp_root: &Path, tmp: &Path) -> Result<()> {
        match fs::create_dir(tmp) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(tmp_root).map_err(io_err("create", tmp_root))?;
                fs::create_dir(tmp).map_err(io_err("create", tmp))?;
            }
            other => other.map_err(io_err("create", tmp))?,
        }
        for dump in &crash.dumps {
            let path = tmp.join(format!("{}{DUMP_SUFFIX}", dump.name));
            match &dump.data {
                DumpData::Bytes(b) => write_file(&path, b)?,
                DumpData::File(src) => {
                    fs::copy(src, &path).map_err(io_err("copy", src))?;
                }
            }
        }
        let raw = serde_json::to_vec(&crash.raw).expect("JSON values always serialize");
        write_file(&tmp.join(RAW_CRASH_FILE), &raw)?;
        if self.fsync {
            self.commits.written.sync(|| self.sync_all())?;
        }
        Ok(())
    }

    /// Renames the written crash into its shard (not yet durable: see [`Spool::save`]).
    fn publish(&self, id: &CrashId, received: DateTime<Utc>, tmp: &Path) -> Result<SpoolEntry> {
        let shard = shard_of(received);
        let shard_dir = self.root.join(&shard);
        self.create_dirs(&shard_dir, false)?;
        let dest = shard_dir.join(id.as_str());
        fs::rename(tmp, &dest).map_err(io_err("publish", &dest))?;
        Ok(SpoolEntry { id: id.clone(), path: dest, shard })
    }

    /// Creates `dir` and missing parents; with `fsync`, each new directory's parent is fsynced
    /// so the new entry survives a power loss (without, a later sync of the spool does it).
    fn create_dirs(&self, dir: &Path, fsync: bool) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent, fsync)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(io_err("create", dir)(e)),
            }
            if fsync && self.fsync {
                fsutil::fsync_dir(parent).map_err(io_err("fsync", parent))?;
            }
        }
        Ok(())
    }

    /// Every crash in the main area, oldest shard first. Lazy: holds one directory listing
    /// per level, never the whole tree. Stray files and invalid names come as errors; the
    /// iteration goes on after them.
    pub fn iter(&self) -> SpoolIter {
        SpoolIter::new(&self.root)
    }

    /// Reads a spooled crash; dumps stay in their files ([`DumpData::File`]).
    pub fn load(&self, entry: &SpoolEntry) -> Result<Crash> {
        load_crash_dir(&entry.id, &entry.path)
    }

    /// Removes a crash from the spool (rename into `.trash`, then delete).
    pub fn remove(&self, entry: &SpoolEntry) -> Result<()> {
        self.remove_keep_shard(entry)?;
        remove_empty_shard_dirs(&self.root, entry.path.parent());
        Ok(())
    }

    /// Removes a crash like [`Spool::remove`] but leaves its shard directories: a mover
    /// removing thousands of crashes prunes each shard once ([`Spool::prune_shard`]) instead
    /// of trying three `rmdir`s per crash.
    pub fn remove_keep_shard(&self, entry: &SpoolEntry) -> Result<()> {
        let trash = self.root.join(TRASH_DIR);
        let dest = trash.join(format!("{}.{:016x}", entry.id, rand::random::<u64>()));
        // `.trash` exists after the first removal: create it only when the rename says so
        // (one syscall less per crash on the mover's hot path)
        if let Err(e) = fs::rename(&entry.path, &dest) {
            if e.kind() != io::ErrorKind::NotFound || !entry.path.exists() {
                return Err(io_err("remove", &entry.path)(e));
            }
            fs::create_dir_all(&trash).map_err(io_err("create", &trash))?;
            fs::rename(&entry.path, &dest).map_err(io_err("remove", &entry.path))?;
        }
        fs::remove_dir_all(&dest).map_err(io_err("delete", &dest))
    }

    /// Removes the directory of `shard` (`YYYYMMDD/HH/MM`, or an hour or day prefix of it) and
    /// then its parents, while each is empty and its time is over at `now` (a collector may
    /// still publish into the current minute, hour and day, and a rename into a directory
    /// removed under it would fail). Returns whether the `shard` directory itself went.
    pub fn prune_shard(&self, shard: &str, now: DateTime<Utc>) -> bool {
        let mut dir = self.root.join(shard);
        let mut prefix = shard;
        let mut removed = false;
        while let Some(end) = shard_end(prefix) {
            if end > now || fs::remove_dir(&dir).is_err() {
                break;
            }
            removed = true;
            dir.pop();
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => break,
            }
        }
        removed
    }

    /// Prunes every empty shard whose time is over (see [`Spool::prune_shard`]): one `rmdir`
    /// attempt per minute, hour and day directory; crash directories are never listed.
    /// Returns how many of the directories tried went (with the parents they emptied).
    pub fn prune_empty_shards(&self, now: DateTime<Utc>) -> usize {
        let names = |rel: &str, depth: usize| {
            let all = fsutil::sorted_names(&self.root.join(rel)).unwrap_or_default();
            all.into_iter().filter(move |n| SpoolIter::is_level_name(depth, n))
        };
        let mut pruned = 0;
        for day in names("", 0) {
            for hour in names(&day, 1) {
                let hour = format!("{day}/{hour}");
                for minute in names(&hour, 2) {
                    pruned += usize::from(self.prune_shard(&format!("{hour}/{minute}"), now));
                }
                pruned += usize::from(self.prune_shard(&hour, now));
            }
            pruned += usize::from(self.prune_shard(&day, now));
        }
        pruned
    }

    /// Records a failed move attempt of `id` with its reason; returns the number of failed
    /// attempts so far (across runs).
    pub fn record_failure(&self, id: &CrashId, reason: &str) -> Result<u32> {
        let path = self.root.join(FAILURES_DIR).join(id.as_str());
        let count = self.failure_count(id) + 1;
        let text = format!("{count}\n{}\n", reason.replace('\n', " "));
        fsutil::write_atomic(&path, text.as_bytes(), false).map_err(io_err("write", &path))?;
        Ok(count)
    }

    /// Failed move attempts recorded for `id` (0 when none).
    pub fn failure_count(&self, id: &CrashId) -> u32 {
        let path = self.root.join(FAILURES_DIR).join(id.as_str());
        let text = fs::read_to_string(path).unwrap_or_default();
        text.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0)
    }

    /// Forgets the failed attempts of `id` (after it moved, or was quarantined).
    pub fn clear_failures(&self, id: &CrashId) -> Result<()> {
        let path = self.root.join(FAILURES_DIR).join(id.as_str());
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", &path)(e)),
            _ => Ok(()),
        }
    }

    /// The crashes with failed attempts recorded (a short list: only failing crashes).
    pub fn failing_ids(&self) -> Result<std::collections::HashSet<CrashId>> {
        let dir = self.root.join(FAILURES_DIR);
        let names = fsutil::sorted_names(&dir).map_err(io_err("list", &dir))?;
        Ok(names.iter().filter_map(|n| CrashId::parse_lax(n).ok()).collect())
    }

    /// Takes the spool's mover lock (`flock` on `.mover.lock`), held until the returned file
    /// is dropped or the process dies. `Ok(None)` when another process holds it.
    pub fn try_lock_mover(&self) -> Result<Option<fs::File>> {
        let path = self.root.join(LOCK_FILE);
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor `f` owns for the duration of the call.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Ok(None);
                }
                return Err(io_err("lock", &path)(e));
            }
        }
        Ok(Some(f))
    }

    /// Sets a crash aside with a reason; `stats` shows it, `requeue --quarantined` brings it back.
    pub fn quarantine(&self, entry: &SpoolEntry, reason: &str) -> Result<PathBuf> {
        let qdir = self.root.join(QUARANTINE_DIR);
        fs::create_dir_all(&qdir).map_err(io_err("create", &qdir))?;
        let dest = qdir.join(entry.id.as_str());
        fsutil::write_atomic(&entry.path.join(REASON_FILE), reason.as_bytes(), false)
            .map_err(io_err("write", &entry.path))?;
        fs::rename(&entry.path, &dest).map_err(io_err("quarantine", &entry.path))?;
        remove_empty_shard_dirs(&self.root, entry.path.parent());
        Ok(dest)
    }

    /// The quarantined crashes (invalid names are skipped and returned separately).
    pub fn quarantined(&self) -> Result<(Vec<QuarantineEntry>, Vec<PathBuf>)> {
        let qdir = self.root.join(QUARANTINE_DIR);
        let mut entries = Vec::new();
        let mut invalid = Vec::new();
        for name in fsutil::sorted_names(&qdir).map_err(io_err("list", &qdir))? {
            let path = qdir.join(&name);
            match CrashId::parse_lax(&name) {
                Ok(id) => {
                    let reason = fs::read_to_string(path.join(REASON_FILE)).unwrap_or_default();
                    entries.push(QuarantineEntry { id, path, reason: reason.trim().to_string() });
                }
                Err(_) => invalid.push(path),
            }
        }
        Ok((entries, invalid))
    }

    /// Puts a quarantined crash back into the main area (in the shard of `now`).
    pub fn restore(&self, q: &QuarantineEntry, now: DateTime<Utc>) -> Result<SpoolEntry> {
        let shard = shard_of(now);
        let shard_dir = self.root.join(&shard);
        self.create_dirs(&shard_dir, true)?;
        let _ = fs::remove_file(q.path.join(REASON_FILE));
        let dest = shard_dir.join(q.id.as_str());
        fs::rename(&q.path, &dest).map_err(io_err("restore", &q.path))?;
        Ok(SpoolEntry { id: q.id.clone(), path: dest, shard })
    }

    /// Deletes what killed processes left behind: everything in `.trash`, and crashes in
    /// `.tmp` older than `tmp_age` (a collector may still be writing younger ones).
    pub fn cleanup(&self, tmp_age: std::time::Duration) -> Result<usize> {
        let mut n = 0;
        let trash = self.root.join(TRASH_DIR);
        for name in fsutil::sorted_names(&trash).map_err(io_err("list", &trash))? {
            let p = trash.join(name);
            fs::remove_dir_all(&p).map_err(io_err("delete", &p))?;
            n += 1;
        }
        let tmp = self.root.join(TMP_DIR);
        for name in fsutil::sorted_names(&tmp).map_err(io_err("list", &tmp))? {
            let p = tmp.join(name);
            let old = fs::metadata(&p)
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > tmp_age)
                .unwrap_or(false);
            if old {
                fs::remove_dir_all(&p).map_err(io_err("delete", &p))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(io_err("create", path))?;
    f.write_all(bytes).map_err(io_err("write", path))
}

/// Reads a crash directory (spool or quarantine): `raw_crash.json` and `<name>.dump` files.
pub fn load_crash_dir(id: &CrashId, dir: &Path) -> Result<Crash> {
    let corrupt = |reason: String| SpoolError::Corrupt { id: id.clone(), path: dir.to_path_buf(), reason };
    let raw_path = dir.join(RAW_CRASH_FILE);
    // no symbolic link followed, only regular files read (a linked dump would be copied
    // into the store by the mover)
    let raw_bytes = fsutil::read_regular(&raw_path, u64::MAX)
        .and_then(|b| b.ok_or_else(|| io::ErrorKind::NotFound.into()))
        .map_err(|e| corrupt(format!("cannot read {RAW_CRASH_FILE}: {e}")))?;
    let raw: RawCrash = serde_json::from_slice(&raw_bytes)
        .map_err(|e| corrupt(format!("{RAW_CRASH_FILE} is not a JSON object: {e}")))?;
    let mut crash = Crash::new(id.clone(), raw);
    let names = fsutil::sorted_names(dir).map_err(io_err("list", dir))?;
    for name in names {
        if let Some(stem) = name.strip_suffix(DUMP_SUFFIX) {
            let dump = DumpName::parse(stem).map_err(|e| corrupt(e.to_string()))?;
            let path = dir.join(&name);
            // (anything else that is not a file fails when it is read: `unreadable_dump`)
            if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(corrupt(format!("{name} is a symbolic link (not followed)")));
            }
            crash.add_dump(dump, DumpData::File(path));
        }
    }
    Ok(crash)
}

/// Removes the minute, hour and day directories above a removed crash when they are empty.
/// (Never the spool root; a directory that is not empty, or was just reused, stays.)
fn remove_empty_shard_dirs(root: &Path, mut dir: Option<&Path>) {
    for _ in 0..3 {
        match dir {
            Some(d) if d != root && d.starts_with(root) => {
                if fs::remove_dir(d).is_err() {
                    return;
                }
                dir = d.parent();
            }
            _ => return,
        }
    }
}

/// Oldest-first iteration over `YYYYMMDD/HH/MM/<id>` without reading the tree into memory.
pub struct SpoolIter {
    root: PathBuf,
    /// One frame per level: the directory, its sorted entries, and the next index.
    stack: Vec<(PathBuf, Vec<String>, usize)>,
    started: bool,
}

impl SpoolIter {
    fn new(root: &Path) -> SpoolIter {
        SpoolIter { root: root.to_path_buf(), stack: Vec::new(), started: false }
    }

    fn is_level_name(depth: usize, name: &str) -> bool {
        let digits = |n: usize| name.len() == n && name.bytes().all(|b| b.is_ascii_digit());
        match depth {
            0 => digits(8),
            1 | 2 => digits(2),
            _ => false,
        }
    }
}

impl Iterator for SpoolIter {
    type Item = Result<SpoolEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.started = true;
            match fsutil::sorted_names(&self.root) {
                Ok(names) => self.stack.push((self.root.clone(), names, 0)),
                Err(e) => return Some(Err(io_err("list", &self.root)(e))),
            }
        }
        loop {
            let depth = self.stack.len() - 1;
            let (dir, names, idx) = self.stack.last_mut()?;
            if *idx >= names.len() {
                self.stack.pop();
                if self.stack.is_empty() {
                    return None;
                }
                continue;
            }
            let name = names[*idx].clone();
            *idx += 1;
            let path = dir.join(&name);
            if depth == 0 && (name.starts_with('.') || name == QUARANTINE_DIR) {
                continue;
            }
            if depth < 3 {
                if !Self::is_level_name(depth, &name) {
                    return Some(Err(SpoolError::Stray { path, reason: "not part of the spool layout".into() }));
                }
                match fsutil::sorted_names(&path) {
                    Ok(children) if path.is_dir() => self.stack.push((path, children, 0)),
                    Ok(_) => {
                        return Some(Err(SpoolError::Stray { path, reason: "a file where a directory belongs".into() }))
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                        return Some(Err(SpoolError::Stray { path, reason: "a file where a directory belongs".into() }))
                    }
                    Err(e) => return Some(Err(io_err("list", &path)(e))),
                }
                continue;
            }
            let shard = path
                .strip_prefix(&self.root)
                .ok()
                .and_then(|p| p.parent())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Some(match CrashId::parse_lax(&name) {
                Ok(id) => Ok(SpoolEntry { id, path, shard }),
                Err(_) => Err(SpoolError::Stray { path, reason: "not a crash ID".into() }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn crash(id: &CrashId) -> Crash {
        let mut raw = RawCrash::new();
        raw.insert("ProductName".into(), "Firefox".into());
        let mut c = Crash::new(id.clone(), raw);
        c.add_dump(DumpName::main(), DumpData::Bytes(bytes::Bytes::from_static(b"MDMP")));
        c
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, 7).unwrap()
    }

    fn new_id() -> CrashId {
        CrashId::generate(crate::crash::Throttle::Accept, at(0, 0).date_naive())
    }

    /// Issue 12: a spooled dump (or raw crash) that is a symbolic link was followed, and the
    /// mover would copy the linked file into the store.
    #[test]
    fn a_linked_dump_or_raw_crash_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path().join("spool"), true).unwrap();
        let secret = dir.path().join("secret");
        fs::write(&secret, "root:x:0:0").unwrap();
        let e = spool.save(&crash(&new_id()), at(13, 5)).unwrap();
        std::os::unix::fs::symlink(&secret, e.path.join("memory_report.dump")).unwrap();
        let err = spool.load(&e).unwrap_err().to_string();
        assert!(err.contains("memory_report.dump is a symbolic link"), "{err}");
        fs::remove_file(e.path.join("memory_report.dump")).unwrap();
        fs::remove_file(e.path.join(RAW_CRASH_FILE)).unwrap();
        std::os::unix::fs::symlink(&secret, e.path.join(RAW_CRASH_FILE)).unwrap();
        let err = spool.load(&e).unwrap_err().to_string();
        assert!(err.contains("symbolic link") && !err.contains("root:x"), "{err}");
    }

    #[test]
    fn save_publishes_whole_crash_in_its_shard() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap();
        let id = new_id();
        let e = spool.save(&crash(&id), at(13, 5)).unwrap();
        assert_eq!(e.path, dir.path().join("20261126/13/05").join(id.as_str()));
        assert!(e.path.join("raw_crash.json").is_file());
        assert_eq!(fs::read(e.path.join("upload_file_minidump.dump")).unwrap(), b"MDMP");
        assert!(fsutil::sorted_names(&dir.path().join(TMP_DIR)).unwrap().is_empty());
        let back = spool.load(&e).unwrap();
        assert_eq!(back.raw["ProductName"], "Firefox");
        assert_eq!(back.dump_names(), vec![DumpName::main()]);
        assert_eq!(e.received(), Some(Utc.with_ymd_and_hms(2026, 11, 26, 13, 5, 0).unwrap()));
    }

    #[test]
    fn a_save_is_flushed_twice_and_concurrent_saves_all_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap();
        spool.save(&crash(&new_id()), at(13, 5)).unwrap();
        assert_eq!(spool.flushes(), 2, "one sync after the writes, one after the rename");
        let ids: Vec<CrashId> = (0..40).map(|_| new_id()).collect();
        std::thread::scope(|s| {
            for chunk in ids.chunks(5) {
                let spool = spool.clone();
                s.spawn(move || {
                    for id in chunk {
                        spool.save(&crash(id), at(13, 6)).unwrap();
                    }
                });
            }
        });
        assert!(spool.flushes() <= 2 + 80, "{} flushes", spool.flushes());
        let found: Vec<SpoolEntry> = spool.iter().map(|e| e.unwrap()).collect();
        assert_eq!(found.len(), 41);
        for e in &found {
            assert_eq!(spool.load(e).unwrap().dump_names(), vec![DumpName::main()]);
        }
        assert!(fsutil::sorted_names(&dir.path().join(TMP_DIR)).unwrap().is_empty());
    }

    #[test]
    fn iterates_oldest_first_and_reports_strays() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let late = new_id();
        let early = new_id();
        let middle = new_id();
        spool.save(&crash(&late), at(23, 59)).unwrap();
        spool.save(&crash(&early), at(0, 1)).unwrap();
        spool.save(&crash(&middle), at(9, 30)).unwrap();
        fs::write(dir.path().join("stray.txt"), "x").unwrap();
        fs::create_dir_all(dir.path().join("20261126/09/30/not-a-crash")).unwrap();
        let mut ids = Vec::new();
        let mut strays = Vec::new();
        for item in spool.iter() {
            match item {
                Ok(e) => ids.push(e.id),
                Err(SpoolError::Stray { path, .. }) => strays.push(path),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ids, vec![early, middle, late]);
        assert_eq!(strays.len(), 2, "{strays:?}");
    }

    #[test]
    fn remove_quarantine_restore() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let a = new_id();
        let b = new_id();
        let ea = spool.save(&crash(&a), at(1, 1)).unwrap();
        let eb = spool.save(&crash(&b), at(1, 2)).unwrap();
        spool.remove(&ea).unwrap();
        assert!(!ea.path.exists());
        assert!(!dir.path().join("20261126/01/01").exists(), "empty shard dirs are removed");
        spool.quarantine(&eb, "raw crash is not JSON").unwrap();
        assert_eq!(spool.iter().count(), 0);
        let (q, invalid) = spool.quarantined().unwrap();
        assert!(invalid.is_empty());
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].id, b);
        assert_eq!(q[0].reason, "raw crash is not JSON");
        let back = spool.restore(&q[0], at(5, 0)).unwrap();
        assert_eq!(spool.iter().map(|e| e.unwrap()).collect::<Vec<_>>(), vec![back]);
        assert!(spool.quarantined().unwrap().0.is_empty());
    }

    #[test]
    fn cleanup_removes_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap();
        fs::create_dir_all(dir.path().join(".trash/x.1")).unwrap();
        fs::create_dir_all(dir.path().join(".tmp/y.2")).unwrap();
        assert_eq!(spool.cleanup(std::time::Duration::from_secs(3600)).unwrap(), 1);
        assert!(dir.path().join(".tmp/y.2").exists(), "young temp dirs may still be written");
        assert_eq!(spool.cleanup(std::time::Duration::ZERO).unwrap(), 1);
    }

    #[test]
    fn prune_shard_leaves_current_minute_hour_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let e = spool.save(&crash(&new_id()), at(13, 5)).unwrap();
        spool.remove_keep_shard(&e).unwrap();
        assert!(dir.path().join("20261126/13/05").is_dir(), "remove_keep_shard keeps the shard");
        // 13:05:30: the minute is not over, a collector may still publish into it
        assert!(!spool.prune_shard("20261126/13/05", at(13, 5) + TimeDelta::seconds(23)));
        assert!(dir.path().join("20261126/13/05").is_dir());
        // 13:20: the minute is gone, the hour (and day) stay
        assert!(spool.prune_shard("20261126/13/05", at(13, 20)));
        assert!(!dir.path().join("20261126/13/05").exists() && dir.path().join("20261126/13").is_dir());
        let e = spool.save(&crash(&new_id()), at(14, 1)).unwrap();
        spool.remove_keep_shard(&e).unwrap();
        let next_day = at(0, 0) + TimeDelta::days(1) + TimeDelta::minutes(1);
        assert!(spool.prune_empty_shards(next_day) > 0);
        assert!(fsutil::sorted_names(dir.path()).unwrap().iter().all(|n| n.starts_with('.')), "day pruned");
    }

    #[test]
    fn failure_records_count_across_calls_and_are_not_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let id = new_id();
        spool.save(&crash(&id), at(1, 1)).unwrap();
        assert_eq!(spool.record_failure(&id, "bad\nraw").unwrap(), 1);
        assert_eq!(spool.record_failure(&id, "bad raw").unwrap(), 2);
        assert_eq!(spool.failing_ids().unwrap(), [id.clone()].into_iter().collect());
        let _lock = spool.try_lock_mover().unwrap().unwrap();
        assert!(spool.try_lock_mover().unwrap().is_none(), "one mover at a time");
        let items: Vec<_> = spool.iter().collect();
        assert_eq!(items.len(), 1);
        assert!(items[0].is_ok(), "bookkeeping entries are not strays: {items:?}");
        spool.clear_failures(&id).unwrap();
        spool.clear_failures(&id).unwrap();
        assert_eq!(spool.failure_count(&id), 0);
    }

    #[test]
    fn corrupt_raw_crash_names_the_crash() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let id = new_id();
        let e = spool.save(&crash(&id), at(1, 1)).unwrap();
        fs::write(e.path.join(RAW_CRASH_FILE), "[1,2]").unwrap();
        let err = spool.load(&e).unwrap_err();
        assert_eq!(err.name(), "corrupt_crash");
        assert!(err.to_string().contains(id.as_str()));
    }
}
