//! Small file-system helpers shared by the local backends: atomic writes and durable renames.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A temporary name for `path` in `dir`, unique to this process and call.
pub fn temp_in(dir: &Path, path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("tmp");
    let rnd: u64 = rand::random();
    dir.join(format!(".tmp.{name}.{}.{rnd:016x}", std::process::id()))
}

/// A temporary name beside `path`, unique to this process and call.
pub fn temp_sibling(path: &Path) -> PathBuf {
    temp_in(path.parent().unwrap_or(Path::new(".")), path)
}

/// Is this a temporary name made by [`temp_in`] or [`temp_sibling`]?
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(".tmp.")
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// sees the old content or the new, never a part. With `fsync`, the data is on disk before the
/// rename. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8], fsync: bool) -> io::Result<()> {
    atomically(path, None, fsync, |tmp| File::create(tmp)?.write_all(bytes))
}

/// Copies `from` to `path` atomically (temporary file + rename), like [`write_atomic`].
pub fn copy_atomic(from: &Path, path: &Path, fsync: bool) -> io::Result<()> {
    atomically(path, None, fsync, |tmp| fs::copy(from, tmp).map(|_| ()))
}

/// [`write_atomic`] with the temporary file in `tmp_dir` (created when missing), a directory
/// on the same file system that only temporary files live in: what a killed writer leaves
/// there is found without listing the destination ([`remove_stale_files`]). Where the rename
/// would cross file systems, the temporary file goes beside `path` instead.
pub fn write_atomic_via(tmp_dir: &Path, path: &Path, bytes: &[u8], fsync: bool) -> io::Result<()> {
    atomically(path, Some(tmp_dir), fsync, |tmp| File::create(tmp)?.write_all(bytes))
}

/// [`copy_atomic`] with the temporary file in `tmp_dir`, like [`write_atomic_via`].
pub fn copy_atomic_via(tmp_dir: &Path, from: &Path, path: &Path, fsync: bool) -> io::Result<()> {
    atomically(path, Some(tmp_dir), fsync, |tmp| fs::copy(from, tmp).map(|_| ()))
}

/// Fills a temporary file with `fill`, then renames it to `path`; the temporary file is
/// removed when anything fails.
fn atomically(
    path: &Path,
    tmp_dir: Option<&Path>,
    fsync: bool,
    fill: impl Fn(&Path) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let attempt = |tmp: &Path| -> io::Result<()> {
        let result = (|| {
            fill(tmp)?;
            if fsync {
                File::open(tmp)?.sync_all()?;
            }
            fs::rename(tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(tmp);
        }
        result
    };
    let Some(dir) = tmp_dir else {
        return attempt(&temp_sibling(path));
    };
    let tmp = temp_in(dir, path);
    let result = match attempt(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.is_dir() => {
            fs::create_dir_all(dir)?;
            attempt(&tmp)
        }
        other => other,
    };
    match result {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => attempt(&temp_sibling(path)),
        other => other,
    }
}

/// Removes the files in `dir` last modified more than `max_age` ago (what killed writers
/// left in a directory of temporary files; younger ones may still be being written). Returns
/// how many; a missing directory has none.
pub fn remove_stale_files(dir: &Path, max_age: std::time::Duration) -> io::Result<usize> {
    let mut n = 0;
    for name in sorted_names(dir)? {
        let p = dir.join(name);
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // removed meanwhile
            Err(e) => return Err(e),
        };
        let stale = meta.modified().map(|t| t.elapsed().unwrap_or_default() > max_age).unwrap_or(false);
        if meta.is_file() && stale {
            match fs::remove_file(&p) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// Flushes a directory's entries (after a rename into it) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes everything written to the file system that holds `path` (one `syncfs(2)` call):
/// how a batch of writes is made durable at once instead of one fsync per file.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs takes a valid open file descriptor, which `f` holds for the call.
        let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        f.sync_all()
    }
}

/// Reads a file, returning `None` when it does not exist.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens `path` for reading only if it is a regular file: a symbolic link is not followed
/// (`O_NOFOLLOW`), and a directory, device or FIFO is refused (opened non-blocking, so a FIFO
/// cannot hang the open). The error says what was refused.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).map_err(
        |e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("is a symbolic link (not followed)"),
            _ => e,
        },
    )?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a directory" } else { "a device, FIFO or socket" };
        return Err(io::Error::other(format!("is {kind}, not a regular file")));
    }
    Ok((f, meta.len()))
}

/// Reads a regular file ([`open_regular`]) of at most `max` bytes; `None` when it does not
/// exist. A larger file is refused before it is read.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let (f, len) = match open_regular(path) {
        Ok(x) => x,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let too_big = |n: u64| io::Error::other(format!("is {n} bytes, over the limit of {max} bytes"));
    if len > max {
        return Err(too_big(len));
    }
    let mut out = Vec::with_capacity(len as usize);
    f.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(too_big(out.len() as u64));
    }
    Ok(Some(out))
}

/// Sorted names of the entries of a directory (empty when it does not exist).
pub fn sorted_names(dir: &Path) -> io::Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort_unstable();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.json");
        write_atomic(&p, b"one", true).unwrap();
        write_atomic(&p, b"two", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names = sorted_names(&dir.path().join("a/b")).unwrap();
        assert_eq!(names, vec!["c.json".to_string()]);
        sync_filesystem(dir.path()).unwrap();
    }

    #[test]
    fn atomic_write_via_a_temp_dir_leaves_nothing_there_or_beside() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, p) = (dir.path().join(".tmp"), dir.path().join("v1/raw/a"));
        write_atomic_via(&tmp, &p, b"one", false).unwrap(); // the temp dir is created
        write_atomic_via(&tmp, &p, b"two", true).unwrap();
        copy_atomic_via(&tmp, &p, &dir.path().join("v1/raw/b"), false).unwrap();
        assert_eq!(
            (fs::read(&p).unwrap(), fs::read(dir.path().join("v1/raw/b")).unwrap()),
            (b"two".to_vec(), b"two".to_vec())
        );
        assert_eq!(sorted_names(&dir.path().join("v1/raw")).unwrap(), vec!["a".to_string(), "b".to_string()]);
        assert!(sorted_names(&tmp).unwrap().is_empty());
        // a failed write (the destination is a directory) leaves no temporary file either
        fs::create_dir_all(dir.path().join("v1/raw/c")).unwrap();
        assert!(write_atomic_via(&tmp, &dir.path().join("v1/raw/c"), b"x", false).is_err());
        assert!(sorted_names(&tmp).unwrap().is_empty());
    }

    #[test]
    fn only_stale_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(remove_stale_files(&dir.path().join("missing"), hour).unwrap(), 0);
        for name in ["old", "new"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::create_dir(dir.path().join("old-dir")).unwrap();
        crate::testutil::set_age(&dir.path().join("old"), 2 * hour);
        assert_eq!(remove_stale_files(dir.path(), hour).unwrap(), 1);
        assert_eq!(sorted_names(dir.path()).unwrap(), vec!["new".to_string(), "old-dir".to_string()]);
    }
}
