//! Small file-system helpers shared by the local backends: atomic writes and durable renames.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A temporary name beside `path`, unique to this process and call.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("tmp");
    let rnd: u64 = rand::random();
    path.with_file_name(format!(".tmp.{name}.{}.{rnd:016x}", std::process::id()))
}

/// Is this a temporary name made by [`temp_sibling`]?
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(".tmp.")
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// sees the old content or the new, never a part. With `fsync`, the data is on disk before the
/// rename. Parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8], fsync: bool) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if fsync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copies `from` to `path` atomically (temporary file + rename), like [`write_atomic`].
pub fn copy_atomic(from: &Path, path: &Path, fsync: bool) -> io::Result<u64> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = temp_sibling(path);
    let result = (|| {
        let n = fs::copy(from, &tmp)?;
        if fsync {
            File::open(&tmp)?.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
}
