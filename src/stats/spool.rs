//! The fast spool scanner behind `crashctl stats`: counts what waits in a spool
//! (`YYYYMMDD/HH/MM/<crash id>/<files>`) with as few system calls as a directory walk allows.
//!
//! Entry types come from `readdir`'s `d_type` (no `stat` to learn them); only files are
//! stat'ed, for their sizes, with `fstatat` relative to the open crash directory, which is
//! itself opened relative to the open minute directory (no path walk per crash; `rustix` for
//! the raw `openat`/`getdents64`/`fstatat`). The root, day and hour levels are listed by one
//! thread; the minute directories are shared among a few threads, and a very large minute
//! directory (the hot-spot case) is split into chunks other threads pick up. It counts exactly
//! the crashes [`crate::spool::SpoolIter`] yields: a valid crash ID at the fourth level.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rustix::fs::{openat, statat, AtFlags, Dir, FileType as RawFileType, Mode, OFlags, CWD};

use super::problem::{Problem, ProblemKind};
use crate::crash::CrashId;
use crate::progress::Progress;
use crate::spool::{shard_time, FAILURES_DIR, LOCK_FILE, QUARANTINE_DIR, TMP_DIR, TRASH_DIR};

/// Crash entries per chunk when a minute directory is shared among threads (small in unit
/// tests, so they exercise the sharing with a small tree).
const CHUNK: usize = if cfg!(test) { 64 } else { 2048 };

/// A directory with more entries than this is a hot spot, unless told otherwise.
pub const DEFAULT_HOT_SPOT: u64 = 10_000;

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// A directory with more entries than this is a hot spot.
    pub hot_spot: u64,
    /// Threads for the minute directories (at least 1).
    pub threads: usize,
    /// Keep a hash of every crash ID (to compute arrivals and drains between two scans).
    pub track_ids: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { hot_spot: DEFAULT_HOT_SPOT, threads: 2, track_ids: false }
    }
}

/// Crashes received in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HourCount {
    #[serde(serialize_with = "super::time::ser_time")]
    pub hour: DateTime<Utc>,
    pub crashes: u64,
}

/// A directory with more entries than the hot-spot threshold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HotSpot {
    pub path: String,
    pub entries: u64,
}

/// What waits in a spool.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SpoolStats {
    pub path: String,
    /// Crashes waiting (what the mover will see).
    pub crashes: u64,
    /// Bytes of the files in the waiting crashes.
    pub bytes: u64,
    /// Files in the waiting crashes.
    pub files: u64,
    /// The minute the oldest waiting crash was received (from its shard).
    #[serde(serialize_with = "super::time::ser_opt_time")]
    pub oldest: Option<DateTime<Utc>>,
    pub oldest_age_seconds: Option<i64>,
    #[serde(serialize_with = "super::time::ser_opt_time")]
    pub newest: Option<DateTime<Utc>>,
    pub newest_age_seconds: Option<i64>,
    /// Waiting crashes per UTC hour received, oldest first (hours without crashes left out).
    pub per_hour: Vec<HourCount>,
    /// Waiting crashes per UTC minute received in the hour up to the newest crash's minute,
    /// oldest first (minutes without crashes left out; `hour` is the minute).
    pub last_hour_per_minute: Vec<HourCount>,
    pub hot_spot_threshold: u64,
    pub hot_spots: Vec<HotSpot>,
    /// Crashes set aside in `quarantine/`.
    pub quarantined: u64,
    /// Entries in `.tmp` (crashes being written, or left by a killed collector).
    pub tmp_leftovers: u64,
    /// Entries in `.trash` (crashes being deleted, or left by a killed mover).
    pub trash_leftovers: u64,
    /// Directories listed.
    pub directories: u64,
    /// Sorted hashes of the waiting crash IDs (only with `track_ids`).
    #[serde(skip)]
    pub id_hashes: Vec<u64>,
}

impl SpoolStats {
    /// Fills in the ages relative to `now`.
    pub fn set_ages(&mut self, now: DateTime<Utc>) {
        self.oldest_age_seconds = self.oldest.map(|t| (now - t).num_seconds());
        self.newest_age_seconds = self.newest.map(|t| (now - t).num_seconds());
    }
}

/// Why a scan said nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The spool root could not be listed.
    #[error("spool {path}: cannot list: {source}")]
    Root { path: PathBuf, source: std::io::Error },
    /// The stop flag was set.
    #[error("interrupted")]
    Stopped,
}

/// Hash of a crash ID for [`SpoolStats::id_hashes`].
pub fn id_hash(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Scans a spool. Problems (stray files, invalid names, unreadable directories below the root)
/// go to `problems`; only an unlistable root is an error.
pub fn scan(
    root: &Path,
    opts: &ScanOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
    problems: &mut Vec<Problem>,
) -> Result<SpoolStats, ScanError> {
    let scanner = Scanner { opts, stop, progress };
    let mut acc = Acc::default();
    let minutes = scanner.top_levels(root, &mut acc)?;
    progress.set_total(minutes.len() as u64);
    let acc = scanner.minutes(&minutes, acc);
    progress.finish();
    let mut acc = acc.ok_or(ScanError::Stopped)?;
    acc.problems.sort_by(|a, b| a.path.cmp(&b.path)); // the threads found them in any order
    problems.append(&mut acc.problems);
    Ok(acc.into_stats(root, opts.hot_spot))
}

/// What a directory entry is, from `d_type` (symlinks followed, as `Path::is_dir` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Dir,
    File,
}

/// A minute directory to scan, with the time of its shard.
struct Minute {
    path: PathBuf,
    time: Option<DateTime<Utc>>,
}

/// Part of a large minute directory, for another thread.
struct Chunk {
    minute: usize,
    /// The minute directory, open.
    fd: Arc<OwnedFd>,
    entries: Vec<(String, Kind)>,
}

/// Counts from part of the tree; merged at the end.
#[derive(Default)]
struct Acc {
    crashes: u64,
    bytes: u64,
    files: u64,
    directories: u64,
    /// Crashes per minute index.
    per_minute: BTreeMap<usize, u64>,
    hot_spots: Vec<HotSpot>,
    quarantined: u64,
    tmp: u64,
    trash: u64,
    problems: Vec<Problem>,
    ids: Vec<u64>,
    minute_times: Vec<Option<DateTime<Utc>>>,
}

impl Acc {
    fn problem(&mut self, kind: ProblemKind, path: &Path, message: impl Into<String>) {
        self.problems.push(Problem::new(kind, path, message));
    }

    fn merge(&mut self, other: Acc) {
        self.crashes += other.crashes;
        self.bytes += other.bytes;
        self.files += other.files;
        self.directories += other.directories;
        for (m, n) in other.per_minute {
            *self.per_minute.entry(m).or_default() += n;
        }
        self.hot_spots.extend(other.hot_spots);
        self.problems.extend(other.problems);
        self.ids.extend(other.ids);
    }

    fn into_stats(mut self, root: &Path, hot_spot: u64) -> SpoolStats {
        let mut per_hour: BTreeMap<DateTime<Utc>, u64> = BTreeMap::new();
        let (mut oldest, mut newest) = (None, None);
        for (&m, &n) in &self.per_minute {
            let Some(t) = self.minute_times[m] else { continue };
            if n == 0 {
                continue;
            }
            oldest = Some(oldest.map_or(t, |o: DateTime<Utc>| o.min(t)));
            newest = Some(newest.map_or(t, |o: DateTime<Utc>| o.max(t)));
            let hour = t - Duration::minutes(chrono::Timelike::minute(&t) as i64);
            *per_hour.entry(hour).or_default() += n;
        }
        let mut last_hour: BTreeMap<DateTime<Utc>, u64> = BTreeMap::new();
        if let Some(newest) = newest {
            for (&m, &n) in &self.per_minute {
                match self.minute_times[m] {
                    Some(t) if n > 0 && newest - t < Duration::hours(1) => *last_hour.entry(t).or_default() += n,
                    _ => {}
                }
            }
        }
        self.hot_spots.sort_by(|a, b| b.entries.cmp(&a.entries).then_with(|| a.path.cmp(&b.path)));
        self.ids.sort_unstable();
        SpoolStats {
            path: root.display().to_string(),
            crashes: self.crashes,
            bytes: self.bytes,
            files: self.files,
            oldest,
            oldest_age_seconds: None,
            newest,
            newest_age_seconds: None,
            per_hour: per_hour.into_iter().map(|(hour, crashes)| HourCount { hour, crashes }).collect(),
            last_hour_per_minute: last_hour.into_iter().map(|(hour, crashes)| HourCount { hour, crashes }).collect(),
            hot_spot_threshold: hot_spot,
            hot_spots: self.hot_spots,
            quarantined: self.quarantined,
            tmp_leftovers: self.tmp,
            trash_leftovers: self.trash,
            directories: self.directories,
            id_hashes: self.ids,
        }
    }
}

struct Scanner<'a> {
    opts: &'a ScanOptions,
    stop: &'a AtomicBool,
    progress: &'a dyn Progress,
}

impl Scanner<'_> {
    /// Opens and lists a directory: the open directory (to open entries relative to it) and
    /// its entries with their kinds. `None` (and a problem) when it cannot be listed.
    fn list(&self, dir: &Path, acc: &mut Acc) -> Option<(OwnedFd, Vec<(String, Kind)>)> {
        match self.try_list(dir, acc) {
            Ok(listed) => Some(listed),
            Err(e) => {
                acc.problem(ProblemKind::Unreadable, dir, format!("cannot list: {e}"));
                None
            }
        }
    }

    fn try_list(&self, dir: &Path, acc: &mut Acc) -> std::io::Result<(OwnedFd, Vec<(String, Kind)>)> {
        let fd = open_dir(CWD, dir)?;
        let (entries, total) = read_entries(&fd, dir, acc)?;
        acc.directories += 1;
        self.check_hot(dir, total, acc);
        Ok((fd, entries))
    }

    /// The entries of a directory (empty when it cannot be listed, which is reported).
    fn entries(&self, dir: &Path, acc: &mut Acc) -> Vec<(String, Kind)> {
        let mut entries = self.list(dir, acc).map(|(_, e)| e).unwrap_or_default();
        entries.sort_unstable();
        entries
    }

    fn check_hot(&self, dir: &Path, entries: u64, acc: &mut Acc) {
        if entries > self.opts.hot_spot {
            acc.hot_spots.push(HotSpot { path: dir.display().to_string(), entries });
        }
    }

    /// The root, day and hour levels (and the side areas): returns the minute directories.
    fn top_levels(&self, root: &Path, acc: &mut Acc) -> Result<Vec<Minute>, ScanError> {
        let (_, mut entries) =
            self.try_list(root, acc).map_err(|source| ScanError::Root { path: root.to_path_buf(), source })?;
        entries.sort_unstable();
        let mut minutes = Vec::new();
        for (name, kind) in entries {
            let path = root.join(&name);
            match name.as_str() {
                QUARANTINE_DIR => acc.quarantined = self.side_area(&path, kind, true, acc),
                TMP_DIR => acc.tmp = self.side_area(&path, kind, false, acc),
                TRASH_DIR => acc.trash = self.side_area(&path, kind, false, acc),
                // the mover's bookkeeping: failure counts and its lock, not crashes
                FAILURES_DIR | LOCK_FILE => {}
                _ => {
                    if let Some(day) = self.level_dir(&path, &name, kind, 8, acc) {
                        self.day(&day, &name, &mut minutes, acc);
                    }
                }
            }
        }
        acc.minute_times = minutes.iter().map(|m| m.time).collect();
        Ok(minutes)
    }

    fn day(&self, day: &Path, day_name: &str, minutes: &mut Vec<Minute>, acc: &mut Acc) {
        for (hour_name, kind) in self.entries(day, acc) {
            let Some(hour) = self.level_dir(&day.join(&hour_name), &hour_name, kind, 2, acc) else { continue };
            for (min_name, kind) in self.entries(&hour, acc) {
                let Some(path) = self.level_dir(&hour.join(&min_name), &min_name, kind, 2, acc) else { continue };
                let time = shard_time(&format!("{day_name}/{hour_name}/{min_name}"));
                if time.is_none() {
                    acc.problem(ProblemKind::InvalidShard, &path, "not a valid UTC minute (crashes counted, no age)");
                }
                minutes.push(Minute { path, time });
            }
        }
    }

    /// A day, hour or minute directory: `digits` digits and a directory; anything else is reported.
    fn level_dir(&self, path: &Path, name: &str, kind: Kind, digits: usize, acc: &mut Acc) -> Option<PathBuf> {
        let ok_name = name.len() == digits && name.bytes().all(|b| b.is_ascii_digit());
        match (ok_name, kind) {
            (true, Kind::Dir) => Some(path.to_path_buf()),
            (true, Kind::File) => {
                acc.problem(ProblemKind::StrayFile, path, "a file where a directory belongs");
                None
            }
            (false, Kind::File) => {
                acc.problem(ProblemKind::StrayFile, path, "not part of the spool layout");
                None
            }
            (false, Kind::Dir) => {
                acc.problem(ProblemKind::InvalidName, path, "not part of the spool layout");
                None
            }
        }
    }

    /// `quarantine/`, `.tmp`, `.trash`: how many entries (valid crash IDs only for quarantine).
    fn side_area(&self, path: &Path, kind: Kind, crash_ids: bool, acc: &mut Acc) -> u64 {
        if kind == Kind::File {
            acc.problem(ProblemKind::StrayFile, path, "a file where a directory belongs");
            return 0;
        }
        let entries = self.entries(path, acc);
        if !crash_ids {
            return entries.len() as u64;
        }
        let mut n = 0;
        for (name, _) in entries {
            match CrashId::parse_lax(&name) {
                Ok(_) => n += 1,
                Err(e) => acc.problem(ProblemKind::InvalidCrashId, &path.join(&name), e.to_string()),
            }
        }
        n
    }

    /// The minute directories, on `threads` threads. `None` when stopped.
    fn minutes(&self, minutes: &[Minute], mut acc: Acc) -> Option<Acc> {
        let next = AtomicUsize::new(0);
        let chunks: Mutex<Vec<Chunk>> = Mutex::new(Vec::new());
        let threads = self.opts.threads.clamp(1, minutes.len().max(1));
        let parts: Vec<Acc> = std::thread::scope(|s| {
            let workers: Vec<_> =
                (0..threads).map(|_| s.spawn(|| self.worker(minutes, &next, &chunks, threads > 1))).collect();
            workers.into_iter().map(|w| w.join().expect("scanner thread panicked")).collect()
        });
        for part in parts {
            acc.merge(part);
        }
        (!self.stop.load(Ordering::Relaxed)).then_some(acc)
    }

    fn worker(&self, minutes: &[Minute], next: &AtomicUsize, chunks: &Mutex<Vec<Chunk>>, share: bool) -> Acc {
        let mut acc = Acc::default();
        while !self.stop.load(Ordering::Relaxed) {
            let chunk = chunks.lock().expect("chunk queue").pop();
            if let Some(c) = chunk {
                self.crash_entries(&c.fd, &minutes[c.minute].path, c.minute, &c.entries, &mut acc);
                continue;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(minute) = minutes.get(i) else { break };
            if let Some((fd, mut entries)) = self.list(&minute.path, &mut acc) {
                let fd = Arc::new(fd);
                if share && entries.len() > CHUNK {
                    let mut queue = chunks.lock().expect("chunk queue");
                    while entries.len() > CHUNK {
                        let part = entries.split_off(entries.len() - CHUNK);
                        queue.push(Chunk { minute: i, fd: fd.clone(), entries: part });
                    }
                }
                self.crash_entries(&fd, &minute.path, i, &entries, &mut acc);
            }
            self.progress.inc(1);
        }
        acc
    }

    /// Entries of a minute directory (`fd`, at `dir`): crash directories (and whatever else is there).
    fn crash_entries(&self, fd: &OwnedFd, dir: &Path, minute: usize, entries: &[(String, Kind)], acc: &mut Acc) {
        let mut crashes = 0;
        for (name, kind) in entries {
            let valid = CrashId::parse_lax(name).is_ok();
            match (valid, kind) {
                (true, Kind::Dir) => self.crash_dir(fd, dir, name, acc),
                (true, Kind::File) => {
                    let path = dir.join(name);
                    let msg = "a file named like a crash (the mover will quarantine it)";
                    acc.problem(ProblemKind::CrashNotADirectory, &path, msg);
                    if let Ok(m) = fs::metadata(&path) {
                        acc.bytes += m.len();
                        acc.files += 1;
                    }
                }
                (false, Kind::Dir) => {
                    acc.problem(ProblemKind::InvalidCrashId, &dir.join(name), "directory name is not a crash ID");
                    continue;
                }
                (false, Kind::File) => {
                    acc.problem(ProblemKind::StrayFile, &dir.join(name), "not part of the spool layout");
                    continue;
                }
            }
            crashes += 1;
            if self.opts.track_ids {
                acc.ids.push(id_hash(name));
            }
        }
        acc.crashes += crashes;
        *acc.per_minute.entry(minute).or_default() += crashes;
    }

    /// One crash directory (`name` in the minute directory `parent`, at `dir`): its files and
    /// their sizes, each stat'ed relative to the crash directory.
    fn crash_dir(&self, parent: &OwnedFd, dir: &Path, name: &str, acc: &mut Acc) {
        let path = || dir.join(name);
        let mut listing = match open_dir(parent, name).and_then(|fd| Ok(Dir::new(fd)?)) {
            Ok(d) => d,
            Err(e) => return acc.problem(ProblemKind::Unreadable, &path(), format!("cannot list: {e}")),
        };
        acc.directories += 1;
        let mut entries = 0;
        while let Some(entry) = listing.read() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    acc.problem(ProblemKind::Unreadable, &path(), format!("cannot list: {e}"));
                    break;
                }
            };
            let file = entry.file_name();
            if is_dot(file.to_bytes()) {
                continue;
            }
            entries += 1;
            let stat = match entry.file_type() {
                RawFileType::Directory => None,
                _ => Some(listing.fd().and_then(|fd| statat(fd, file, AtFlags::SYMLINK_NOFOLLOW))),
            };
            let file_path = || path().join(OsStr::from_bytes(file.to_bytes()));
            match stat {
                Some(Ok(st)) if RawFileType::from_raw_mode(st.st_mode) != RawFileType::Directory => {
                    acc.bytes += st.st_size as u64;
                    acc.files += 1;
                }
                Some(Err(e)) => acc.problem(ProblemKind::Unreadable, &file_path(), format!("cannot stat: {e}")),
                _ => acc.problem(ProblemKind::UnexpectedDirectory, &file_path(), "a directory inside a crash"),
            }
        }
        if entries > self.opts.hot_spot {
            self.check_hot(&path(), entries, acc);
        }
    }
}

/// Opens a directory relative to `at`.
fn open_dir(at: impl AsFd, path: impl rustix::path::Arg) -> std::io::Result<OwnedFd> {
    Ok(openat(at, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

/// The entries of an open directory with their kinds (`d_type`; symlinks and unknown types are
/// stat'ed, following links as `Path::is_dir` does), and how many there are. Non-UTF-8 names
/// are reported and left out (as the spool's own iteration leaves them out).
fn read_entries(fd: &OwnedFd, path: &Path, acc: &mut Acc) -> std::io::Result<(Vec<(String, Kind)>, u64)> {
    let mut listing = Dir::read_from(fd)?;
    let mut out = Vec::new();
    let mut total = 0;
    while let Some(entry) = listing.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if is_dot(name) {
            continue;
        }
        total += 1;
        let kind = match entry.file_type() {
            RawFileType::Directory => Kind::Dir,
            RawFileType::Symlink | RawFileType::Unknown => match statat(fd, entry.file_name(), AtFlags::empty()) {
                Ok(st) if RawFileType::from_raw_mode(st.st_mode) == RawFileType::Directory => Kind::Dir,
                _ => Kind::File,
            },
            _ => Kind::File,
        };
        match std::str::from_utf8(name) {
            Ok(n) => out.push((n.to_string(), kind)),
            Err(_) => acc.problem(ProblemKind::InvalidName, &path.join(OsStr::from_bytes(name)), "name is not UTF-8"),
        }
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{Crash, DumpData, DumpName, RawCrash, Throttle};
    use crate::progress::NoProgress;
    use crate::spool::Spool;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 30).unwrap()
    }

    fn new_id() -> CrashId {
        CrashId::generate(Throttle::Accept, at(26, 0, 0).date_naive())
    }

    /// A crash of exactly 10 + 100 bytes (raw crash `{"a":"12"}` + a 100-byte dump).
    fn save(spool: &Spool, t: DateTime<Utc>) -> crate::spool::SpoolEntry {
        let mut raw = RawCrash::new();
        raw.insert("a".into(), "12".into());
        let mut c = Crash::new(new_id(), raw);
        c.add_dump(DumpName::main(), DumpData::Bytes(vec![b'M'; 100].into()));
        spool.save(&c, t).unwrap()
    }

    fn run(root: &Path, opts: &ScanOptions) -> (SpoolStats, Vec<Problem>) {
        let mut problems = Vec::new();
        let stats = scan(root, opts, &NoProgress, &AtomicBool::new(false), &mut problems).unwrap();
        (stats, problems)
    }

    fn kinds(problems: &[Problem]) -> Vec<(ProblemKind, String)> {
        let mut k: Vec<_> = problems.iter().map(|p| (p.kind, p.path.rsplit('/').next().unwrap().to_string())).collect();
        k.sort_by(|a, b| a.1.cmp(&b.1));
        k
    }

    #[test]
    fn counts_crashes_bytes_ages_and_hours() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        save(&spool, at(25, 23, 59));
        save(&spool, at(26, 1, 5));
        save(&spool, at(26, 1, 6));
        let (s, problems) = run(dir.path(), &ScanOptions::default());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((s.crashes, s.files, s.bytes), (3, 6, 330));
        assert_eq!(s.oldest, Some(Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 0).unwrap()));
        assert_eq!(s.newest, Some(Utc.with_ymd_and_hms(2026, 11, 26, 1, 6, 0).unwrap()));
        let hours: Vec<_> = s.per_hour.iter().map(|h| (h.hour.format("%d %H").to_string(), h.crashes)).collect();
        assert_eq!(hours, vec![("25 23".to_string(), 1), ("26 01".to_string(), 2)]);
        assert!(s.hot_spots.is_empty());
    }

    #[test]
    fn reports_junk_and_counts_what_the_spool_iterator_yields() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let spool = Spool::open(root, true).unwrap().without_fsync();
        let e = save(&spool, at(26, 9, 30));
        save(&spool, at(26, 10, 0));
        fs::write(root.join("stray.txt"), "x").unwrap();
        fs::create_dir(root.join("notes")).unwrap();
        fs::write(root.join("20261126/09/31"), "a file where a minute belongs").unwrap();
        fs::create_dir(root.join("20261126/09/30/not-a-crash")).unwrap();
        fs::write(root.join("20261126/09/30/README"), "x").unwrap();
        fs::write(root.join(format!("20261126/09/30/{}", new_id())), "12345").unwrap();
        fs::create_dir(e.path.join("subdir")).unwrap();
        fs::create_dir_all(root.join(format!("20261199/00/00/{}", new_id()))).unwrap();
        fs::create_dir(root.join("20261126/10").join(OsStr::from_bytes(b"\xff"))).unwrap();
        let (s, problems) = run(root, &ScanOptions::default());
        let iter_count = spool.iter().filter(|r| r.is_ok()).count() as u64;
        assert_eq!(s.crashes, iter_count, "same crashes as Spool::iter");
        assert_eq!(s.crashes, 4);
        assert_eq!((s.files, s.bytes), (5, 225), "two whole crashes and the crash-named file");
        assert_eq!(s.oldest, Some(Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap()), "bad shard has no age");
        let k = kinds(&problems);
        assert_eq!(k.len(), 9, "{problems:#?}");
        assert!(k.contains(&(ProblemKind::InvalidName, "\u{fffd}".to_string())), "non-UTF-8 name: {k:?}");
        assert!(k.iter().any(|(kind, _)| *kind == ProblemKind::CrashNotADirectory));
        for expected in [
            (ProblemKind::StrayFile, "stray.txt"),
            (ProblemKind::InvalidName, "notes"),
            (ProblemKind::StrayFile, "31"),
            (ProblemKind::InvalidCrashId, "not-a-crash"),
            (ProblemKind::StrayFile, "README"),
            (ProblemKind::UnexpectedDirectory, "subdir"),
            (ProblemKind::InvalidShard, "00"),
        ] {
            assert!(k.contains(&(expected.0, expected.1.to_string())), "{expected:?} in {k:?}");
        }
        assert!(problems.iter().all(|p| p.path.starts_with(&root.display().to_string())));
    }

    #[test]
    fn side_areas_are_counted_not_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        let e = save(&spool, at(26, 1, 1));
        save(&spool, at(26, 1, 2));
        spool.quarantine(&e, "bad").unwrap();
        fs::create_dir_all(dir.path().join("quarantine/junk")).unwrap();
        fs::create_dir_all(dir.path().join(".tmp/x.1")).unwrap();
        fs::create_dir_all(dir.path().join(".trash/y.1")).unwrap();
        fs::create_dir_all(dir.path().join(".trash/y.2")).unwrap();
        let (s, problems) = run(dir.path(), &ScanOptions::default());
        assert_eq!((s.crashes, s.quarantined, s.tmp_leftovers, s.trash_leftovers), (1, 1, 1, 2));
        assert_eq!(kinds(&problems), vec![(ProblemKind::InvalidCrashId, "junk".to_string())]);
    }

    #[test]
    fn a_large_minute_directory_is_shared_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let minute = dir.path().join("20261126/00/00");
        fs::create_dir_all(&minute).unwrap();
        let ids: Vec<CrashId> = (0..CHUNK * 2 + 10).map(|_| new_id()).collect();
        for id in &ids {
            fs::create_dir(minute.join(id.as_str())).unwrap();
        }
        let opts = ScanOptions { hot_spot: CHUNK as u64, threads: 3, track_ids: true };
        let (s, problems) = run(dir.path(), &opts);
        assert!(problems.is_empty());
        assert_eq!(s.crashes, ids.len() as u64);
        assert_eq!(s.per_hour.iter().map(|h| h.crashes).sum::<u64>(), ids.len() as u64);
        assert_eq!(s.hot_spots, vec![HotSpot { path: minute.display().to_string(), entries: ids.len() as u64 }]);
        let mut expected: Vec<u64> = ids.iter().map(|id| id_hash(id.as_str())).collect();
        expected.sort_unstable();
        assert_eq!(s.id_hashes, expected);
    }

    #[test]
    fn missing_root_is_an_error_and_stop_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut problems = Vec::new();
        let none = AtomicBool::new(false);
        let err = scan(&dir.path().join("nope"), &ScanOptions::default(), &NoProgress, &none, &mut problems);
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("nope"), "{msg}");
        let spool = Spool::open(dir.path(), true).unwrap().without_fsync();
        save(&spool, at(26, 1, 1));
        let stopped = AtomicBool::new(true);
        let r = scan(dir.path(), &ScanOptions::default(), &NoProgress, &stopped, &mut problems);
        assert!(matches!(r, Err(ScanError::Stopped)));
    }
}
