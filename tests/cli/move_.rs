//! `crashctl move`: ordering, DEFER, verify/keep, failures and quarantine, dry run, limits,
//! follow mode, the mover lock, and a kill -9 fault-injection run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use crashctl::crash::{CrashId, Throttle};
use crashctl::queue::{CrashQueue, DirQueue, QueueName};
use crashctl::spool::{Spool, RAW_CRASH_FILE};
use crashctl::store::{CrashStore, FsStore};
use rand::{Rng, SeedableRng};

use crate::common::*;

/// The spool of the test env (created), without fsync.
pub fn spool(env: &TestEnv) -> Spool {
    Spool::open(env.spool(), true).unwrap().without_fsync()
}

/// Saves `n` sample crashes received at `at` (DEFER when `defer`); returns their IDs.
pub fn seed(env: &TestEnv, n: usize, at: DateTime<Utc>, throttle: Throttle) -> Vec<CrashId> {
    let s = spool(env);
    (0..n)
        .map(|_| {
            let id = new_id(throttle);
            s.save(&sample_crash(&id), at).unwrap();
            id
        })
        .collect()
}

pub fn minutes_ago(m: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::minutes(m)
}

/// Crashes still in the spool's main area.
pub fn spooled(env: &TestEnv) -> Vec<CrashId> {
    spool(env).iter().map(|e| e.unwrap().id).collect()
}

/// Every message in a queue, in order (claimed and acked here).
pub fn drain_queue(env: &TestEnv, q: QueueName) -> Vec<String> {
    let queue = DirQueue::open(env.queue(), true).unwrap();
    let mut bodies = Vec::new();
    while let Some(c) = queue.claim(&[q], Duration::from_secs(60)).unwrap() {
        bodies.push(c.message.body());
        queue.ack(&c).unwrap();
    }
    bodies
}

fn store(env: &TestEnv) -> FsStore {
    FsStore::open(env.store(), false).unwrap()
}

/// `move --spool --store --queue` of the test env, then `extra`.
fn move_args(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let paths = [("--spool", env.spool()), ("--store", env.store()), ("--queue", env.queue())];
    let mut args = vec!["move".to_string()];
    for (flag, path) in paths {
        args.extend([flag.to_string(), path.display().to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn mv(env: &TestEnv, extra: &[&str]) -> std::process::Output {
    let args = move_args(env, extra);
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn moves_oldest_first_and_defer_is_stored_not_queued() {
    let env = TestEnv::new();
    let late = seed(&env, 1, minutes_ago(5), Throttle::Accept);
    let early = seed(&env, 1, minutes_ago(50), Throttle::Accept);
    let deferred = seed(&env, 1, minutes_ago(30), Throttle::Defer);
    let middle = seed(&env, 1, minutes_ago(20), Throttle::Accept);
    let o = mv(&env, &["-j", "1", "--batch-size", "1", "--format", "json"]);
    assert_code(&o, 0);
    let s = json(&o);
    assert_eq!((s["moved"].as_u64(), s["queued"].as_u64(), s["deferred"].as_u64()), (Some(4), Some(3), Some(1)));
    let bytes: u64 = [&early, &deferred, &middle, &late].iter().map(|i| dump_len(&i[0])).sum();
    assert_eq!(s["bytes"].as_u64(), Some(bytes));
    let queued = drain_queue(&env, QueueName::Standard);
    assert_eq!(queued, vec![early[0].to_string(), middle[0].to_string(), late[0].to_string()], "oldest first");
    let st = store(&env);
    for id in [&early[0], &middle[0], &late[0], &deferred[0]] {
        assert_eq!(st.get_crash(id).unwrap().raw, sample_crash(id).raw);
        assert_eq!(st.get_dump(id, &crashctl::crash::DumpName::main()).unwrap().len() as u64, dump_len(id));
    }
    assert!(spooled(&env).is_empty());
    assert!(has_no_crash_files(&env.spool()), "spool keeps no crash files");
}

fn dump_len(id: &CrashId) -> u64 {
    sample_crash(id).dumps[0].data.len().unwrap()
}

/// No crash files left: only the spool's own bookkeeping (lock file, failure records).
fn has_no_crash_files(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .all(|e| e.file_name() == ".mover.lock")
}

#[test]
fn verify_and_keep_copy_without_deleting() {
    let env = TestEnv::new();
    let ids = seed(&env, 3, minutes_ago(10), Throttle::Accept);
    for _ in 0..2 {
        let o = mv(&env, &["--verify", "--keep", "--format", "json"]);
        assert_code(&o, 0);
        assert_eq!(json(&o)["moved"], 3);
    }
    assert_eq!(spooled(&env).len(), 3, "--keep leaves the spool alone");
    let st = store(&env);
    assert_eq!(st.list_raw(ids[0].date()).unwrap().ids.len(), 3, "rerun overwrites, never duplicates");
    let queued = drain_queue(&env, QueueName::Standard);
    assert_eq!(queued.len(), 6, "each run queues again (at least once)");
}

#[test]
fn corrupt_crash_stays_then_is_quarantined_and_requeue_brings_it_back() {
    let env = TestEnv::new();
    let good = seed(&env, 2, minutes_ago(10), Throttle::Accept);
    let bad = seed(&env, 1, minutes_ago(9), Throttle::Accept)[0].clone();
    let entry = spool(&env).iter().map(Result::unwrap).find(|e| e.id == bad).unwrap();
    std::fs::write(entry.path.join(RAW_CRASH_FILE), "[1,2]").unwrap();
    for attempt in 1..=3u64 {
        let o = mv(&env, &["--max-failures", "3", "--format", "json"]);
        assert_code(&o, 1);
        let s = json(&o);
        assert_eq!(s["moved"], if attempt == 1 { 2 } else { 0 });
        assert_eq!(s["failed"], 1);
        let f = &s["failures"][0];
        assert_eq!((f["id"].as_str(), f["error"].as_str()), (Some(bad.as_str()), Some("corrupt_crash")));
        assert_eq!(f["attempts"], attempt);
        assert_eq!(f["quarantined"], attempt == 3);
        assert!(stderr(&o).contains(bad.as_str()), "the failure names the crash: {}", stderr(&o));
    }
    assert!(spooled(&env).is_empty());
    let (q, _) = spool(&env).quarantined().unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].reason.contains("not a JSON object"), "{}", q[0].reason);
    assert!(store(&env).has_raw(&good[1]).unwrap() && !store(&env).has_raw(&bad).unwrap());
    let sp = env.spool();
    let o = env.run(&["requeue", "--quarantined", "--spool", sp.to_str().unwrap(), "--format", "json"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["requeued"][0]["body"], bad.as_str());
    assert_eq!(spooled(&env), vec![bad.clone()], "back in the main area");
    // its failure count starts again: one more failure does not quarantine it
    let o = mv(&env, &["--format", "json"]);
    assert_eq!(json(&o)["failures"][0]["attempts"], 1);
}

#[test]
fn unreadable_dump_fails_that_crash_only() {
    let env = TestEnv::new();
    let ok = seed(&env, 1, minutes_ago(10), Throttle::Accept)[0].clone();
    let bad = seed(&env, 1, minutes_ago(10), Throttle::Accept)[0].clone();
    let entry = spool(&env).iter().map(Result::unwrap).find(|e| e.id == bad).unwrap();
    let dump = entry.path.join("upload_file_minidump.dump");
    std::fs::remove_file(&dump).unwrap();
    std::fs::create_dir(&dump).unwrap(); // a directory where the dump file should be
    let o = mv(&env, &["--verify", "--format", "json"]);
    assert_code(&o, 1);
    let s = json(&o);
    assert_eq!((s["moved"].as_u64(), s["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(s["failures"][0]["error"], "unreadable_dump");
    assert_eq!(spooled(&env), vec![bad.clone()], "the crash stays in the spool");
    assert!(store(&env).has_raw(&ok).unwrap() && !store(&env).has_raw(&bad).unwrap());
}

#[test]
fn destination_error_is_retried_then_reported() {
    let env = TestEnv::new();
    let id = seed(&env, 1, minutes_ago(10), Throttle::Accept)[0].clone();
    std::fs::create_dir_all(env.store().join("v1")).unwrap();
    std::fs::write(env.store().join("v1/dump"), "not a directory").unwrap();
    let o = mv(&env, &["--retries", "2", "--format", "json"]);
    assert_code(&o, 1);
    let s = json(&o);
    assert_eq!(s["failures"][0]["kind"], "destination");
    assert_eq!(s["failures"][0]["id"], id.as_str());
    assert_eq!(spooled(&env), vec![id]);
    assert!(drain_queue(&env, QueueName::Standard).is_empty());
}

#[test]
fn destination_down_gives_up_without_counting_against_crashes() {
    let env = TestEnv::new();
    seed(&env, 15, minutes_ago(10), Throttle::Accept);
    std::fs::create_dir_all(env.store().join("v1")).unwrap();
    std::fs::write(env.store().join("v1/dump"), "not a directory").unwrap();
    let o = mv(&env, &["-j", "1", "--retries", "0", "--format", "json"]);
    assert_code(&o, 2);
    let s = json(&o);
    assert!(s["aborted"].as_str().unwrap().contains("in a row"), "{s}");
    assert_eq!(spooled(&env).len(), 15);
    assert!(spool(&env).failing_ids().unwrap().is_empty(), "an outage is not the crashes' fault");
}

#[test]
fn dry_run_lists_and_changes_nothing() {
    let env = TestEnv::new();
    let a = seed(&env, 1, minutes_ago(10), Throttle::Accept)[0].clone();
    let d = seed(&env, 1, minutes_ago(5), Throttle::Defer)[0].clone();
    let o = mv(&env, &["--dry-run", "--format", "json"]);
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["id"].as_str(), lines[0]["queue"].as_str()), (Some(a.as_str()), Some("standard")));
    assert_eq!((lines[1]["id"].as_str(), lines[1]["queue"].is_null()), (Some(d.as_str()), true));
    assert_eq!(spooled(&env).len(), 2);
    assert!(!env.store().exists() && !env.queue().exists(), "no store or queue created");
}

#[test]
fn limit_and_older_than() {
    let env = TestEnv::new();
    let old = seed(&env, 2, minutes_ago(180), Throttle::Accept);
    let young = seed(&env, 1, minutes_ago(1), Throttle::Accept);
    let o = mv(&env, &["--older-than", "1h", "--limit", "1", "--format", "json"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["moved"], 1);
    let o = mv(&env, &["--older-than", "1h", "--format", "json"]);
    assert_eq!(json(&o)["moved"], 1);
    assert_eq!(spooled(&env), young, "younger than an hour: left");
    let st = store(&env);
    assert!(old.iter().all(|id| st.has_raw(id).unwrap()));
}

#[test]
fn a_second_mover_on_the_same_spool_is_refused() {
    let env = TestEnv::new();
    seed(&env, 1, minutes_ago(10), Throttle::Accept);
    let _held = spool(&env).try_lock_mover().unwrap().expect("lock");
    let o = mv(&env, &[]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("another `crashctl move`"), "{}", stderr(&o));
}

/// Polls `cond` until it holds, failing after `limit`.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_move(env: &TestEnv, extra: &[&str]) -> Child {
    let args = move_args(env, extra);
    let mut cmd = env.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn crashctl move")
}

#[test]
fn follow_moves_new_crashes_until_sigterm() {
    let env = TestEnv::new();
    seed(&env, 2, minutes_ago(10), Throttle::Accept);
    let child = spawn_move(&env, &["--follow", "--interval", "50ms", "--format", "json"]);
    wait_for(Duration::from_secs(30), "the first crashes to move", || spooled(&env).is_empty());
    let later = seed(&env, 3, Utc::now(), Throttle::Accept);
    let st = FsStore::open(env.store(), false).unwrap();
    wait_for(Duration::from_secs(30), "crashes spooled later to move", || {
        later.iter().all(|id| st.has_raw(id).unwrap()) && spooled(&env).is_empty()
    });
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 0);
    assert_eq!(json(&o)["moved"], 5);
    assert_eq!(drain_queue(&env, QueueName::Standard).len(), 5);
}

#[test]
fn sigint_stops_a_once_run_after_in_flight_crashes_exit_130() {
    let env = TestEnv::new();
    let stuck = seed(&env, 1, minutes_ago(20), Throttle::Accept)[0].clone();
    let good = seed(&env, 3, minutes_ago(10), Throttle::Accept);
    // a directory where the stuck crash's raw crash goes: its store write fails, and is
    // retried (for minutes with --retries 30), so the run cannot end before the signal
    let raw_key = env.store().join("v1/raw_crash").join(stuck.date_key()).join(stuck.as_str());
    std::fs::create_dir_all(&raw_key).unwrap();
    let child = spawn_move(&env, &["-j", "2", "--batch-size", "1", "--retries", "30", "--format", "json"]);
    let st = FsStore::open(env.store(), false).unwrap();
    wait_for(Duration::from_secs(30), "the other crashes to move", || {
        good.iter().all(|id| st.has_raw(id).unwrap()) && spooled(&env) == vec![stuck.clone()]
    });
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 130);
    let s = json(&o);
    assert_eq!((s["moved"].as_u64(), s["interrupted"].as_bool()), (Some(3), Some(true)));
    assert_eq!(s["failures"][0]["id"], stuck.as_str());
    assert_eq!(spooled(&env), vec![stuck]);
    assert!(spool(&env).failing_ids().unwrap().is_empty(), "retries cut short by the signal are not counted");
}

/// The guarantee of docs/move.md: killed at any instant, a rerun finishes the job with every
/// crash in the store exactly once, nothing left in the spool, every accepted ID queued at
/// least once (and DEFER crashes never).
#[test]
fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    let env = TestEnv::new();
    let mut all: Vec<CrashId> = Vec::new();
    // CRASHCTL_KILLS=N for a longer soak (docs/reliability.md); 20 in CI
    let target: usize = std::env::var("CRASHCTL_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    // the fault points come from one seed, printed first, so a failing run can be replayed
    let kill_seed: u64 =
        std::env::var("CRASHCTL_KILL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("kill seed {kill_seed} (replay with CRASHCTL_KILL_SEED={kill_seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(kill_seed);
    let mut kills = 0;
    for round in 0..target * 20 {
        if kills >= target {
            break;
        }
        if spooled(&env).is_empty() {
            // one spool, refilled when the killed runs between them managed to drain it
            all.extend(seed(&env, 270, minutes_ago(30 + round as i64), Throttle::Accept));
            all.extend(seed(&env, 30, minutes_ago(30 + round as i64), Throttle::Defer));
        }
        let mut child = spawn_move(&env, &["-j", "4", "--batch-size", "16", "--quiet"]);
        std::thread::sleep(Duration::from_millis(rng.random_range(3..200))); // the injected fault
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= target, "only {kills} runs were killed (seed {kill_seed})");
    // what the kills left in the store's and the queue's temporary directories, made an hour
    // old: the next run deletes it (younger files could be a write in progress)
    let leftovers: Vec<PathBuf> = [env.store().join(".tmp"), env.queue().join(".tmp")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()))
        .collect();
    for p in &leftovers {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(7200)).unwrap();
    }
    eprintln!(
        "{kills} runs killed with SIGKILL over a spool of {} crashes; {} temporary files left",
        all.len(),
        leftovers.len()
    );
    // the kills must have landed mid-write, not only between batches: a write cut short leaves
    // its temporary file behind
    assert!(!leftovers.is_empty(), "no kill landed inside a store or queue write (seed {kill_seed})");
    let o = mv(&env, &["-j", "4", "--format", "json"]);
    assert_code(&o, 0);
    check_moved_exactly_once(&env, &all);
    let temp_files: Vec<PathBuf> = [env.store(), env.queue()]
        .iter()
        .flat_map(|root| {
            walkdir::WalkDir::new(root)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
                .collect::<Vec<_>>()
        })
        .filter(|rel| rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with(".tmp")))
        .collect();
    assert!(temp_files.is_empty(), "temporary files left after the rerun: {temp_files:?}");
}

fn check_moved_exactly_once(env: &TestEnv, all: &[CrashId]) {
    assert!(spooled(env).is_empty(), "nothing left in the spool");
    assert!(has_no_crash_files(&env.spool()), "no half-deleted crash left (.trash emptied)");
    let st = store(env);
    let dates: HashSet<_> = all.iter().map(|id| id.date()).collect();
    let mut stored: Vec<CrashId> = dates.into_iter().flat_map(|d| st.list_raw(d).unwrap().ids).collect();
    stored.sort();
    let mut expected = all.to_vec();
    expected.sort();
    assert_eq!(stored, expected, "every crash in the store exactly once");
    for id in all {
        assert_eq!(st.get_crash(id).unwrap(), sample_crash_read_back(id), "{id} stored whole");
    }
    let mut times: HashMap<String, usize> = HashMap::new();
    for body in drain_queue(env, QueueName::Standard) {
        *times.entry(body).or_default() += 1;
    }
    for id in all {
        let n = times.get(id.as_str()).copied().unwrap_or(0);
        match id.throttle() {
            Some(Throttle::Defer) => assert_eq!(n, 0, "DEFER {id} never queued"),
            _ => assert!(n >= 1, "{id} queued at least once"),
        }
    }
    assert!(times.keys().all(|b| all.iter().any(|id| id.as_str() == b)), "nothing unknown queued");
}

/// The sample crash as the store gives it back (dumps as bytes).
fn sample_crash_read_back(id: &CrashId) -> crashctl::crash::Crash {
    let mut c = sample_crash(id);
    for d in &mut c.dumps {
        d.data = crashctl::crash::DumpData::Bytes(d.data.read().unwrap().into_owned().into());
    }
    c
}

#[test]
fn a_location_with_an_unknown_scheme_is_an_error_naming_the_known_ones() {
    // Regression: `move --store gs://bucket` moved crashes into a local folder named `gs:` (before
    // gs:// was a store); any scheme the build does not know must be an error, not a folder.
    let env = TestEnv::new();
    let ids = seed(&env, 2, minutes_ago(5), Throttle::Accept);
    let spool = env.spool().display().to_string();
    let queue = env.queue().display().to_string();
    let o = env.run(&["move", "--spool", &spool, "--store", "azure://bucket", "--queue", &queue]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("unknown scheme azure://") && stderr(&o).contains("s3://") && stderr(&o).contains("gs://"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["move", "--spool", &spool, "--store", &env.store().display().to_string(), "--queue", "amqp://x"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("unknown scheme amqp://")
            && stderr(&o).contains("sqs://")
            && stderr(&o).contains("pubsub://"),
        "{}",
        stderr(&o)
    );
    let o =
        env.run(&["move", "--spool", "gs://spool", "--store", &env.store().display().to_string(), "--queue", &queue]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("spool gs://spool: unknown scheme gs://"), "{}", stderr(&o));
    assert!(!env.path("azure:").exists() && !env.path("amqp:").exists(), "no local folder named after the scheme");
    assert_eq!(spooled(&env).len(), ids.len(), "nothing moved");
}

#[test]
fn follow_logs_one_line_per_batch_when_not_on_a_terminal() {
    // Regression: `move --follow` logged nothing while it worked.
    let env = TestEnv::new();
    seed(&env, 4, minutes_ago(10), Throttle::Accept);
    let child = spawn_move(&env, &["--follow", "--interval", "50ms", "--batch-size", "2", "-j", "1"]);
    wait_for(Duration::from_secs(30), "the crashes to move", || spooled(&env).is_empty());
    // a batch that left the spool is logged even when the stop comes before its line
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("crashctl: moved ")).collect();
    let total: u64 =
        lines.iter().map(|l| l["crashctl: moved ".len()..].split(' ').next().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 4, "one line per batch, all crashes counted: {err}");
    assert!(lines.len() >= 2, "batches of at most 2: {err}");
    let re =
        regex::Regex::new(r"^crashctl: moved \d+ crashes \([\d.]+ [KMG]?i?B\) in \d+\.\ds, [\d,.]+/s; backlog [\d,]+$")
            .unwrap();
    for line in &lines {
        assert!(re.is_match(line), "{line:?}");
    }
    assert!(lines.last().unwrap().ends_with("; backlog 0"), "{err}");
}

#[test]
fn a_default_location_is_said_once() {
    // Regression: `move --spool spool` moved crashes into ./crashctl-data/... and never said so.
    let env = TestEnv::new();
    seed(&env, 2, minutes_ago(5), Throttle::Accept);
    let o = env.run(&["move", "--spool", &env.spool().display().to_string()]);
    assert_code(&o, 0);
    let err = stderr(&o);
    for what in ["store", "queue"] {
        let line = format!(
            "no --{what} given (nor CRASHCTL_{}, nor a config file): using crashctl-data/{what}",
            what.to_uppercase()
        );
        assert_eq!(err.matches(&line).count(), 1, "{err}");
    }
    assert!(!err.contains("no --spool given"), "{err}");
    assert!(env.path("crashctl-data/store").is_dir());
    let o = env.run(&["--quiet", "move", "--spool", &env.spool().display().to_string()]);
    assert!(!stderr(&o).contains("no --store given"), "--quiet: {}", stderr(&o));
}

#[test]
fn follow_shows_batches_on_the_live_status_line_on_a_terminal() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: `script` (util-linux) is not installed, no pseudo-terminal");
        return;
    }
    let env = TestEnv::new();
    seed(&env, 3, minutes_ago(5), Throttle::Accept);
    let args = move_args(&env, &["--follow", "--interval", "50ms"]).join(" ");
    // stopped by SIGINT after 3 s (a --follow run that is interrupted exits 0)
    let line = format!("timeout -s INT 3 {BIN} {args}");
    let o = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(env.dir.path())
        .env_remove("CI")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&o.stdout);
    let batch = regex::Regex::new(r"moved 3 crashes \([\d.]+ [KMG]?i?B\) in [\d.]+s, [\d,.]+/s; backlog 0").unwrap();
    assert!(batch.is_match(&screen), "the batch on the bar's status line: {screen}");
    assert!(!screen.contains("crashctl: moved 3 crashes"), "not a log line on a terminal: {screen}");
    assert!(spooled(&env).is_empty());
}
