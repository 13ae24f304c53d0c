//! The test environment: a temp dir with spool/store/queue paths and a way to run the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crashctl::crash::{Crash, CrashId, DumpData, DumpName, RawCrash, Throttle};

pub const BIN: &str = env!("CARGO_BIN_EXE_crashctl");

pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn spool(&self) -> PathBuf {
        self.path("spool")
    }

    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    pub fn queue(&self) -> PathBuf {
        self.path("queue")
    }

    /// The binary, run in the temp dir with a clean environment for crashctl's variables.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("CRASHCTL_SPOOL")
            .env_remove("CRASHCTL_STORE")
            .env_remove("CRASHCTL_QUEUE")
            .env_remove("CRASHCTL_CONFIG")
            .env_remove("CRASHSTATS_API_TOKEN")
            // the same behaviour whether the suite runs in CI or not (tests that need it set it)
            .env_remove("CI")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run crashctl")
    }

    /// Runs with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn crashctl");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().expect("wait crashctl")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing stdout and stderr when it differs.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "exit code\nstdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
}

/// Parses stdout as one JSON value.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(o)))
}

/// Parses stdout as JSON Lines.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A new crash ID for today with the given throttle result.
pub fn new_id(t: Throttle) -> CrashId {
    CrashId::generate(t, chrono::Utc::now().date_naive())
}

/// A small crash with a main dump (not a valid minidump; for stages that do not stackwalk).
pub fn sample_crash(id: &CrashId) -> Crash {
    let mut raw = RawCrash::new();
    raw.insert("ProductName".into(), "Firefox".into());
    raw.insert("Version".into(), "140.0".into());
    raw.insert("uuid".into(), id.as_str().into());
    let mut c = Crash::new(id.clone(), raw);
    c.add_dump(DumpName::main(), DumpData::Bytes(format!("MDMP fake dump of {id}").into_bytes().into()));
    c
}

/// The boundary of the hand-made multipart bodies.
pub const BOUNDARY: &str = "testBoundary1234";

/// A part: `(name, filename, content type, data)`.
pub type Part<'a> = crashctl::submitter::encode::FormPart<'a>;

/// A multipart body by hand (the library's one builder, with [`BOUNDARY`]).
pub fn multipart(parts: &[Part]) -> Vec<u8> {
    crashctl::submitter::encode::form_data(BOUNDARY, parts)
}

/// Is this a CI run (`CI=true`)?
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A test that cannot run here because `missing` is missing: under `CI=true` the test fails
/// saying so (no test may pass by skipping in CI); otherwise one `skipped: ...` line, straight
/// to stderr (libtest captures `eprintln!`), and the caller returns.
pub fn skip(missing: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    assert!(!ci(), "CI=true, and this test cannot run: {missing} [{test}]");
    let _ = std::io::stderr().write_all(format!("skipped: {missing} [{test}]\n").as_bytes());
}

/// `../shared/testdata` (minidumps, symbols, signature lists), or `None` after [`skip`].
pub fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!("{} is absent", dir.display()));
        None
    }
}

/// Does `dir` exist and contain no files at any depth?
pub fn has_no_files(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok).all(|e| !e.file_type().is_file())
}
