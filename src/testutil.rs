//! Helpers shared by the library's unit tests (the integration tests in `tests/` cannot see
//! `cfg(test)` code and keep their own).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `../shared/testdata` (real minidumps, symbols, signature lists), or `None` after
/// [`skip`] (which fails the test under `CI=true`) when it is absent.
pub fn testdata() -> Option<PathBuf> {
    testdata_with(&[])
}

/// [`testdata`], also requiring its sub-folders `parts` (e.g. `siglists`).
pub fn testdata_with(parts: &[&str]) -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata"));
    for p in std::iter::once(&dir).chain(parts.iter().map(|p| dir.join(p)).collect::<Vec<_>>().iter()) {
        if !p.is_dir() {
            skip(&format!("{} is absent", p.display()));
            return None;
        }
    }
    Some(dir)
}

/// A test that cannot run here because `missing` is missing: under `CI=true` the test fails
/// saying so (no test may pass by skipping in CI); otherwise one `skipped: ...` line, straight
/// to stderr (libtest captures `eprintln!`), and the caller returns.
pub fn skip(missing: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true, and this test cannot run: {missing} [{test}]");
    }
    let _ = std::io::stderr().write_all(format!("skipped: {missing} [{test}]\n").as_bytes());
}

/// Sets a file's modification time `age` in the past (tests of the age-based cleanups).
pub fn set_age(path: &Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}
