//! A full or read-only disk under the spool (collector) and under the store (processor).
//! Real faults: a 2 MiB tmpfs filled up, and read-only (re)mounts. Mounting needs root; the
//! tests print why and skip when `mount` is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crashctl::crash::{CrashId, DumpData, DumpName};
use crashctl::store::{CrashStore, FsStore};

use super::{check_spool, crash_id, post, realistic, tmp_entries, Mount};
use crate::collect::Server;
use crate::common::*;

/// Fills the file system holding `dir` (a file `filler` written until ENOSPC).
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).and_then(|_| f.sync_all()).is_ok() {}
    path
}

type Answered = BTreeMap<String, BTreeMap<String, String>>;

/// Sends one realistic crash; returns the HTTP status, and records it when accepted.
fn send(server: &Server, g: &mut crashctl::generate::Generator, seq: usize, answered: &mut Answered) -> (u16, String) {
    let sent = realistic(g, seq, usize::MAX);
    let (status, body) = post(&server.addr, &sent.body, "").unwrap();
    if let Some(id) = crash_id(&body) {
        answered.insert(id, sent.dumps);
    }
    (status, body)
}

/// Shared by the full and read-only cases: a fault, then 500s and a 503 heartbeat, nothing
/// half-written, then recovery once the fault is gone.
fn spool_fault_and_recovery(env: &TestEnv, inject: impl FnOnce(), repair: impl FnOnce()) {
    let server = Server::start(env, &[]);
    let mut g = crashctl::generate::Generator::new(Some(5), chrono::Utc::now());
    let mut answered = Answered::new();
    for i in 0..3 {
        assert_eq!(send(&server, &mut g, i, &mut answered).0, 200);
    }
    inject();
    for i in 3..6 {
        assert_eq!(send(&server, &mut g, i, &mut answered), (500, String::new()), "a crash that cannot be saved");
    }
    assert_eq!(server.get("/__heartbeat__").0, 503);
    assert_eq!(server.get("/__lbheartbeat__").0, 200);
    assert_eq!(check_spool(&env.spool(), &answered), 3, "only the answered crashes, whole");
    assert_eq!(
        tmp_entries(&env.spool()),
        0,
        "a failed save (or heartbeat probe: it leaked on a full disk) leaves nothing in .tmp"
    );
    repair();
    assert_eq!(server.get("/__heartbeat__").0, 200);
    assert_eq!(send(&server, &mut g, 6, &mut answered).0, 200, "the collector recovers");
    assert_eq!(check_spool(&env.spool(), &answered), 4);
    assert_eq!(server.metric("crashctl_collector_save_errors_total"), 9.0, "3 crashes x 3 attempts");
}

/// Mounts a tmpfs at `disk/` and makes the test's spool a link to `disk/spool`, so that the
/// filler file lives beside the spool, on the same file system.
fn spool_on_tmpfs(env: &TestEnv, size: &str) -> Option<Mount> {
    let m = Mount::tmpfs(&env.path("disk"), size)?;
    std::fs::create_dir(env.path("disk/spool")).unwrap();
    std::os::unix::fs::symlink(env.path("disk/spool"), env.spool()).unwrap();
    Some(m)
}

#[test]
fn a_full_spool_answers_500_keeps_nothing_partial_and_recovers() {
    let env = TestEnv::new();
    let Some(_m) = spool_on_tmpfs(&env, "2m") else { return };
    let filler = std::cell::RefCell::new(None);
    spool_fault_and_recovery(
        &env,
        || *filler.borrow_mut() = Some(fill(&env.path("disk"))),
        || std::fs::remove_file(filler.borrow().as_ref().unwrap()).unwrap(),
    );
}

#[test]
fn a_read_only_spool_answers_500_and_recovers_when_writable_again() {
    let env = TestEnv::new();
    let Some(m) = spool_on_tmpfs(&env, "8m") else { return };
    spool_fault_and_recovery(&env, || m.remount("ro"), || m.remount("rw"));
}

/// A stored crash with a valid minidump; returns its ID and the bytes of every stored file.
fn stored_crash(env: &TestEnv) -> (CrashId, BTreeMap<PathBuf, Vec<u8>>) {
    let store = FsStore::open(env.store(), true).unwrap();
    let id = new_id(crashctl::crash::Throttle::Accept);
    let mut crash = sample_crash(&id);
    let mut g = crashctl::generate::Generator::new(Some(1), chrono::Utc::now());
    crash.dumps.clear();
    crash.add_dump(DumpName::main(), DumpData::Bytes(g.submission().dumps.swap_remove(0).1.into()));
    store.put_crash(&crash).unwrap();
    std::fs::create_dir_all(env.store().join("v1/processed_crash")).unwrap();
    (id, snapshot(&env.store().join("v1")))
}

/// Every file under `dir` with its bytes (but a file put where the processed-crash folder
/// belongs, the fault itself).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().ends_with("processed_crash"))
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// `crashctl process` with the processed-crash folder unwritable: the crash is reported
/// failed (exit 1), its raw crash and dump are untouched, and a rerun after the fault works.
fn process_fault(env: &TestEnv, inject: impl FnOnce(), repair: impl FnOnce()) {
    let (id, before) = stored_crash(env);
    inject();
    let store = env.store().display().to_string();
    let o = env.run(&["process", "--store", &store, "--format", "json", id.as_str()]);
    assert_code(&o, 1);
    let outcome = &json_lines(&o)[0];
    assert_eq!(outcome["status"], "error", "{outcome}");
    assert_eq!(outcome["saved"], false);
    assert!(outcome["error"].as_str().unwrap().contains(id.as_str()), "the error names the crash: {outcome}");
    assert_eq!(snapshot(&env.store().join("v1")), before, "the stored crash is untouched, nothing half-written");
    repair();
    let o = env.run(&["process", "--store", &store, "--format", "json", id.as_str()]);
    assert_code(&o, 0);
    assert!(FsStore::open(env.store(), false).unwrap().get_processed(&id).unwrap().is_some());
}

#[test]
fn process_into_a_read_only_processed_folder_fails_the_crash_and_a_rerun_works() {
    let env = TestEnv::new();
    let dir = env.store().join("v1/processed_crash");
    let mount = std::cell::RefCell::new(None);
    let mounted = std::cell::Cell::new(true);
    process_fault(
        &env,
        || {
            *mount.borrow_mut() = Mount::read_only(&dir);
            if mount.borrow().is_none() {
                // without mount rights: a file where the folder belongs (ENOTDIR)
                mounted.set(false);
                std::fs::remove_dir(&dir).unwrap();
                std::fs::write(&dir, b"").unwrap();
            }
        },
        || {
            drop(mount.borrow_mut().take());
            if !mounted.get() {
                std::fs::remove_file(&dir).unwrap();
            }
        },
    );
}

#[test]
fn process_into_a_full_store_fails_the_crash_and_a_rerun_works() {
    let env = TestEnv::new();
    let Some(_m) = Mount::tmpfs(&env.store(), "4m") else { return };
    let filler = std::cell::RefCell::new(None);
    process_fault(
        &env,
        || *filler.borrow_mut() = Some(fill(&env.store())),
        || std::fs::remove_file(filler.borrow().as_ref().unwrap()).unwrap(),
    );
}
