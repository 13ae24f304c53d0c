//! The whole pipeline on S3 + SQS (moto), with the real binary: generate -> submit -> collect
//! (local spool) -> move into S3/SQS -> two processors at once -> stats; requeue against
//! S3/SQS; and the server going away in the middle of a move. Skipped with a message when
//! `CRASHCTL_TEST_S3_ENDPOINT` is not set (see `remote.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crashctl::crash::{CrashId, Throttle};
use crashctl::queue::{CrashQueue, QueueName, SqsQueue};
use crashctl::remote::RemoteOptions;
use crashctl::spool::Spool;
use crashctl::store::{CrashStore, S3Store};

use crate::collect::Server;
use crate::common::*;
use crate::remote::{options, remote_env, server, unique, OwnServer};

/// Runs the binary with the environment that points it at `opts`' server.
fn run(env: &TestEnv, opts: &RemoteOptions, args: &[&str]) -> Output {
    spawn(env, opts, args).wait_with_output().expect("wait crashctl")
}

fn spawn(env: &TestEnv, opts: &RemoteOptions, args: &[&str]) -> Child {
    let mut c = env.cmd(args);
    c.envs(remote_env(opts)).stdout(Stdio::piped()).stderr(Stdio::piped());
    c.spawn().expect("spawn crashctl")
}

fn store(opts: &RemoteOptions, location: &str) -> S3Store {
    S3Store::open(location, opts).unwrap_or_else(|e| panic!("{e:#}"))
}

fn queue(opts: &RemoteOptions, location: &str) -> SqsQueue {
    SqsQueue::open(location, opts).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Crash IDs waiting in a spool.
pub fn spooled(dir: &std::path::Path) -> BTreeSet<CrashId> {
    Spool::open(dir, false).unwrap().iter().map(|e| e.unwrap().id).collect()
}

/// Every raw crash in a store (all days).
pub fn raw_ids(s: &dyn CrashStore) -> BTreeSet<CrashId> {
    s.list_dates().unwrap().into_iter().flat_map(|d| s.list_raw(d).unwrap().ids).collect()
}

/// Receives and acks every message of every queue: crash ID -> how often, per queue.
pub fn drain(q: &dyn CrashQueue) -> BTreeMap<(QueueName, CrashId), u32> {
    let mut seen = BTreeMap::new();
    while let Some(c) = q.claim(&QueueName::ALL, Duration::from_secs(300)).unwrap() {
        *seen.entry((c.queue, c.message.id.clone())).or_default() += 1;
        q.ack(&c).unwrap();
    }
    seen
}

fn pending(stats: &serde_json::Value, name: &str) -> u64 {
    let queues = stats["queue"]["queues"].as_array().unwrap();
    let q = queues.iter().find(|q| q["queue"] == name).unwrap_or_else(|| panic!("queue {name}: {stats}"));
    q["pending"].as_u64().unwrap() + q["claimed"].as_u64().unwrap()
}

#[test]
fn whole_pipeline_on_s3_and_sqs_with_two_processors() {
    let Some(opts) = server() else { return };
    let env = TestEnv::new();
    let (outbox, syms, spool) = (env.path("outbox"), env.path("symbols"), env.spool());
    let [outbox, syms, spool_s] = [&outbox, &syms, &spool].map(|p| p.to_str().unwrap().to_string());
    let o = env.run(&["generate", "-n", "10", "--seed", "7", "--store", &outbox, "--symbols", &syms]);
    assert_code(&o, 0);

    let mut collector = Server::start(&env, &[]);
    let o = env.run(&["submit", &collector.submit_url(), "--from-store", &outbox]);
    assert_code(&o, 0);
    collector.stop();
    let ids = spooled(&spool);
    assert_eq!(ids.len(), 10, "every submitted crash was spooled");
    let accepted: BTreeSet<CrashId> =
        ids.iter().filter(|id| id.throttle() == Some(Throttle::Accept)).cloned().collect();

    let (bucket, prefix) = (unique("pipe"), unique("pipe"));
    let (s3, sqs) = (format!("s3://{bucket}/prod"), format!("sqs://{prefix}"));
    let remote = ["--store", s3.as_str(), "--queue", sqs.as_str()];
    let mut args =
        vec!["move", "--spool", &spool_s, "--create-bucket", "--create-queues", "--verify", "--format", "json"];
    args.extend(remote);
    let o = run(&env, &opts, &args);
    assert_code(&o, 0);
    assert_eq!(json(&o)["moved"], 10, "{}", stdout(&o));
    assert!(spooled(&spool).is_empty(), "the spool is empty after the move");
    let bucket_store = store(&opts, &s3);
    assert_eq!(raw_ids(&bucket_store), ids);

    // two processors at once, as on two machines
    let mut args = vec!["process", "--symbols-path", &syms, "--format", "json"];
    args.extend(remote);
    let children: Vec<Child> = (0..2).map(|_| spawn(&env, &opts, &args)).collect();
    let mut processed: BTreeMap<String, u32> = BTreeMap::new();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert_code(&o, 0);
        for line in json_lines(&o) {
            assert_eq!(line["saved"], true, "{line}");
            *processed.entry(line["id"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let want: BTreeSet<String> = accepted.iter().map(|id| id.to_string()).collect();
    assert_eq!(processed.keys().cloned().collect::<BTreeSet<_>>(), want, "every queued crash processed");
    for id in &accepted {
        let p = bucket_store.get_processed(id).unwrap().unwrap_or_else(|| panic!("v1/processed_crash/{id}"));
        assert_eq!(p["success"], true, "{id}");
    }
    let keys: BTreeSet<String> =
        bucket_store.objects("v1/processed_crash/").unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(keys, accepted.iter().map(|id| format!("v1/processed_crash/{id}")).collect());

    let o = run(&env, &opts, &["stats", "--store", &s3, "--queue", &sqs, "--format", "json"]);
    assert_code(&o, 0);
    let stats = json(&o);
    for name in ["standard", "priority", "reprocessing"] {
        assert_eq!(pending(&stats, name), 0, "queue {name} is empty: {stats}");
    }
    check_store_stats(&stats["store"], &bucket_store, &ids, accepted.len());
    let o = run(&env, &opts, &["stats", "--store", &s3, "--format", "prometheus"]);
    assert_code(&o, 0);
    let total_bytes: u64 = bucket_store.objects("").unwrap().iter().map(|o| o.size).sum();
    assert!(stdout(&o).contains(&format!("crashctl_store_bytes{{store=\"{s3}\"")), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!(" {total_bytes}\n")), "{}", stdout(&o));
}

/// Counts per day, and objects and bytes exactly as listed in the bucket.
fn check_store_stats(s: &serde_json::Value, bucket: &S3Store, ids: &BTreeSet<CrashId>, processed: usize) {
    let objects = bucket.objects("").unwrap();
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    let day = ids.first().unwrap().date().format("%Y-%m-%d").to_string();
    let days = s["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{s}");
    let d = &days[0];
    assert_eq!(d["date"], day.as_str());
    assert_eq!(d["raw"], ids.len() as u64, "{s}");
    assert_eq!(d["processed"], processed as u64, "{s}");
    assert_eq!(d["objects"], objects.len() as u64, "{s}");
    assert_eq!(d["bytes"], bytes, "{s}");
    assert_eq!((&s["objects"], &s["bytes"]), (&d["objects"], &d["bytes"]), "totals: {s}");
    assert!(bytes > 10_000, "minidumps are in the bytes: {bytes}");
}

#[test]
fn requeue_ids_and_unprocessed_against_s3_and_sqs() {
    let Some(opts) = server() else { return };
    let env = TestEnv::new();
    let (s3, sqs) = (format!("s3://{}", unique("rq")), format!("sqs://{}", unique("rq")));
    let bucket = store(&opts, &s3);
    let q = queue(&opts, &sqs);
    let ids: Vec<CrashId> = (0..5).map(|_| new_id(Throttle::Accept)).collect();
    let deferred = new_id(Throttle::Defer);
    for id in ids.iter().chain([&deferred]) {
        bucket.put_crash(&sample_crash(id)).unwrap();
    }
    for id in &ids[..2] {
        bucket.put_processed(id, &Default::default()).unwrap();
    }
    let date = ids[0].date().format("%Y-%m-%d").to_string();
    let o = run(&env, &opts, &["requeue", "--unprocessed", "--store", &s3, "--date", &date, "--queue", &sqs]);
    assert_code(&o, 0);
    let want: BTreeMap<(QueueName, CrashId), u32> =
        ids[2..].iter().map(|id| ((QueueName::Standard, id.clone()), 1)).collect();
    assert_eq!(drain(&q), want, "the unprocessed accepted crashes, once each, on standard");

    let args = ["requeue", ids[0].as_str(), ids[1].as_str(), "--queue", &sqs, "--queue-name", "priority"];
    let o = run(&env, &opts, &args);
    assert_code(&o, 0);
    let want: BTreeMap<_, _> = ids[..2].iter().map(|id| ((QueueName::Priority, id.clone()), 1)).collect();
    assert_eq!(drain(&q), want);

    // reprocess, local mode, on S3 + SQS: the crashes go to the reprocessing queue
    let args = ["reprocess", "--store", &s3, "--queue", &sqs, ids[0].as_str(), ids[1].as_str()];
    let o = run(&env, &opts, &args);
    assert_code(&o, 0);
    let want: BTreeMap<_, _> = ids[..2].iter().map(|id| ((QueueName::Reprocessing, id.clone()), 1)).collect();
    assert_eq!(drain(&q), want);
}

/// A TCP proxy in front of a server: stopping it is the server going away for its clients
/// (new connections refused, open ones cut), while the server behind keeps what it was sent,
/// so the test can check what was confirmed.
pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(port: u16, to: String) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, conns) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (s, c) = (stop.clone(), conns.clone());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(&to) else { continue };
                c.lock().unwrap().extend([client.try_clone().unwrap(), upstream.try_clone().unwrap()]);
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Proxy { port, stop, conns, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Closes the listener and cuts every open connection.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
        thread.join().unwrap();
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn server_going_away_during_a_move_loses_nothing_and_a_rerun_completes() {
    if server().is_none() {
        return;
    }
    let Some(mut own) = OwnServer::start() else { return };
    let direct = options(own.url());
    let mut proxy = Proxy::start(0, own.url().trim_start_matches("http://").to_string());
    let via_proxy = options(proxy.url());
    let env = TestEnv::new();
    let spool = Spool::open(env.spool(), true).unwrap().without_fsync();
    let mut ids = BTreeSet::new();
    for i in 0..300 {
        let id = new_id(if i % 10 == 0 { Throttle::Defer } else { Throttle::Accept });
        spool.save(&sample_crash(&id), chrono::Utc::now()).unwrap();
        ids.insert(id);
    }
    let accepted: BTreeSet<CrashId> =
        ids.iter().filter(|id| id.throttle() == Some(Throttle::Accept)).cloned().collect();
    let (bucket, prefix) = (unique("gone"), unique("gone"));
    let (s3, sqs) = (format!("s3://{bucket}"), format!("sqs://{prefix}"));
    let spool_s = env.spool().to_str().unwrap().to_string();
    let args = [
        "move",
        "--spool",
        &spool_s,
        "--store",
        &s3,
        "--queue",
        &sqs,
        "--create-bucket",
        "--create-queues",
        "-j",
        "2",
        "--batch-size",
        "10",
    ];

    let child = spawn(&env, &via_proxy, &args);
    let direct_store = wait_for_objects(&direct, &s3);
    wait_for_commits(&env.spool(), ids.len() - 20);
    proxy.stop();
    let o = child.wait_with_output().unwrap();
    assert_ne!(o.status.code(), Some(0), "move fails when the server goes away\n{}", stderr(&o));
    let left = spooled(&env.spool());
    let stored = raw_ids(&direct_store);
    assert!(!left.is_empty(), "the server went away before the move was done ({} stored)", stored.len());
    assert!(left.len() <= ids.len() - 20, "batches were committed before the server went away");
    let gone: BTreeSet<CrashId> = ids.difference(&left).cloned().collect();
    assert!(gone.is_subset(&stored), "a crash left the spool without being stored: {:?}", gone.difference(&stored));
    let q = queue(&direct, &sqs);
    let queued: BTreeSet<CrashId> = drain(&q).into_keys().map(|(_, id)| id).collect();
    let must_be_queued: BTreeSet<CrashId> = gone.intersection(&accepted).cloned().collect();
    assert!(
        must_be_queued.is_subset(&queued),
        "a crash left the spool unqueued: {:?}",
        must_be_queued.difference(&queued)
    );

    // the server comes back with nothing: the rerun recreates bucket and queues, moves the rest
    own.stop();
    own.spawn().unwrap();
    let proxy = Proxy::start(proxy.port, own.url().trim_start_matches("http://").to_string());
    let o = run(&env, &options(proxy.url()), &args);
    assert_code(&o, 0);
    assert!(spooled(&env.spool()).is_empty(), "spool empty after the rerun");
    let rerun_store = store(&direct, &s3);
    assert_eq!(raw_ids(&rerun_store), left, "the rerun stored exactly what was left");
    let keys = rerun_store.objects("v1/raw_crash/").unwrap();
    assert_eq!(keys.len(), left.len(), "each crash once");
    let requeued = drain(&queue(&direct, &sqs));
    let want: BTreeSet<CrashId> = left.intersection(&accepted).cloned().collect();
    assert_eq!(requeued.keys().map(|(_, id)| id.clone()).collect::<BTreeSet<_>>(), want);
    assert!(requeued.values().all(|&n| n == 1), "each accepted crash queued once: {requeued:?}");
    assert_eq!(stored.union(&left).cloned().collect::<BTreeSet<_>>(), ids, "spool + bucket covered every crash");
}

/// Polls (with a deadline) until the bucket exists and holds a raw crash.
fn wait_for_objects(opts: &RemoteOptions, s3: &str) -> S3Store {
    let strict = RemoteOptions { create: false, ..opts.clone() };
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = S3Store::open(s3, &strict) {
            if s.objects("v1/raw_crash/").is_ok_and(|o| !o.is_empty()) {
                return s;
            }
        }
        assert!(Instant::now() < end, "no crash reached {s3} within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls (with a deadline) until at most `most` crashes are left in the spool (batches committed).
pub fn wait_for_commits(spool: &std::path::Path, most: usize) {
    let end = Instant::now() + Duration::from_secs(60);
    let spool = Spool::open(spool, false).unwrap();
    // entries vanish while the mover runs: count what could be read
    while spool.iter().filter_map(Result::ok).count() > most {
        assert!(Instant::now() < end, "the mover committed nothing within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}
