//! Helpers shared by the library's unit tests (the integration tests in `tests/` cannot see
//! `cfg(test)` code and keep their own).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `../shared/testdata` (real minidumps, symbols, signature lists), or `None` with a line
/// saying the test is skipped when it is absent.
pub fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

/// Sets a file's modification time `age` in the past (tests of the age-based cleanups).
pub fn set_age(path: &Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}
