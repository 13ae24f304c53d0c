//! The Google backends (GCS store, Pub/Sub queues) against Google's own fakes: the GCS
//! emulator (`gcp-storage-emulator`) and the Pub/Sub fake (`pstest`), started by
//! `.ci/gcp.sh start` (CI does it in `.ci/run`), found through `STORAGE_EMULATOR_HOST` and
//! `PUBSUB_EMULATOR_HOST`. Without them every test here prints one `skipped:` line; under
//! `CI=true` a missing emulator fails the test. The emulators-go-away test starts its own
//! pair (`CRASHCTL_TEST_GCS_SERVER`, `CRASHCTL_TEST_PUBSUB_SERVER`, exported by `.ci/gcp.sh`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crashctl::crash::{CrashId, DumpData, DumpName, ProcessedCrash, Throttle};
use crashctl::queue::{CrashQueue, Message, PubsubQueue, QueueName};
use crashctl::remote::RemoteOptions;
use crashctl::spool::Spool;
use crashctl::store::{CrashStore, FsStore, GcsStore};

use crate::collect::Server;
use crate::common::*;
use crate::pipeline_remote::{drain, raw_ids, spooled, wait_for_commits, Proxy};
use crate::remote::unique;

const VIS: Duration = Duration::from_secs(300);

/// Where the emulators are (`http://host:port` for GCS, `host:port` for Pub/Sub).
#[derive(Debug, Clone)]
struct Gcp {
    gcs: String,
    pubsub: String,
}

impl Gcp {
    fn store_opts(&self) -> RemoteOptions {
        RemoteOptions { emulator: Some(self.gcs.clone()), create: true, max_attempts: Some(2), ..Default::default() }
    }

    fn queue_opts(&self) -> RemoteOptions {
        RemoteOptions { emulator: Some(self.pubsub.clone()), ..self.store_opts() }
    }

    /// The environment that points the `crashctl` binary at these emulators.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_EMULATOR_HOST", self.gcs.clone()),
            ("PUBSUB_EMULATOR_HOST", self.pubsub.clone()),
            ("GOOGLE_APPLICATION_CREDENTIALS", String::new()),
        ]
    }

    fn store(&self, location: &str) -> GcsStore {
        GcsStore::open(location, &self.store_opts()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn queue(&self, location: &str) -> PubsubQueue {
        PubsubQueue::open(location, &self.queue_opts()).unwrap_or_else(|e| panic!("{e:#}"))
    }
}

fn skip(why: &str) {
    // Straight to stderr in one write: libtest captures `eprintln!`, and a skip must show.
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let _ = std::io::stderr().write_all(format!("skipped: {why} [{test}]\n").as_bytes());
}

/// The shared emulators of `.ci/gcp.sh`, or `None` (skipped, with one line; a failure under
/// `CI=true`).
fn gcp() -> Option<Gcp> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("STORAGE_EMULATOR_HOST"), var("PUBSUB_EMULATOR_HOST")) {
        (Some(gcs), Some(pubsub)) => Some(Gcp { gcs, pubsub }),
        _ => {
            let why = "STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST not set (run .ci/gcp.sh start)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}; under CI=true that is a failure");
            skip(why);
            None
        }
    }
}

/// A project name no other test uses (topics live per project in the fake).
fn project() -> String {
    format!("p{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn run(env: &TestEnv, gcp: &Gcp, args: &[&str]) -> Output {
    spawn(env, gcp, args).wait_with_output().expect("wait crashctl")
}

fn spawn(env: &TestEnv, gcp: &Gcp, args: &[&str]) -> Child {
    let mut c = env.cmd(args);
    c.envs(gcp.env()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c.spawn().expect("spawn crashctl")
}

/// Every file under `root`, as sorted relative paths with their bytes.
fn local_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().components().any(|c| c.as_os_str() == ".tmp"))
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Every object of a GCS store, as sorted relative keys with their bytes.
fn bucket_files(store: &GcsStore) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = store.objects("").unwrap().into_iter().map(|o| o.key).collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), store.read_object(&k).unwrap().unwrap())).collect()
}

/// Copies every crash (raw, dumps, processed) from one store to another through the trait.
fn copy_store(from: &dyn CrashStore, to: &dyn CrashStore) -> usize {
    let mut n = 0;
    for day in from.list_dates().unwrap() {
        for id in from.list_raw(day).unwrap().ids {
            to.put_crash(&from.get_crash(&id).unwrap()).unwrap();
            if let Some(p) = from.get_processed(&id).unwrap() {
                to.put_processed(&id, &p).unwrap();
            }
            n += 1;
        }
    }
    to.sync().unwrap();
    n
}

#[test]
fn gcs_store_holds_socorros_keys_and_a_store_copied_dir_to_gcs_to_dir_is_identical() {
    let Some(gcp) = gcp() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let local = FsStore::open(tmp.path().join("a"), true).unwrap();
    let ids: Vec<CrashId> = (0..4).map(|_| new_id(Throttle::Accept)).collect();
    for (i, id) in ids.iter().enumerate() {
        let mut c = sample_crash(id);
        c.add_dump(DumpName::parse("memory_report").unwrap(), DumpData::Bytes(vec![0, 159, 146, 150].into()));
        local.put_crash(&c).unwrap();
        if i % 2 == 0 {
            let mut p = ProcessedCrash::new();
            p.insert("signature".into(), format!("sig {i}").into());
            local.put_processed(id, &p).unwrap();
        }
    }
    let bucket = unique("copy");
    let remote = gcp.store(&format!("gs://{bucket}/prod/eu"));
    assert_eq!(copy_store(&local, &remote), 4);
    let want = local_files(&tmp.path().join("a"));
    assert_eq!(want.len(), 4 * 4 + 2, "raw, dump names, 2 dumps each, 2 processed: {want:?}");
    assert_eq!(bucket_files(&remote), want, "the bucket holds the local v1 files, byte for byte");
    let id = &ids[0];
    let keys: Vec<String> =
        gcp.store(&format!("gs://{bucket}")).objects("").unwrap().into_iter().map(|o| o.key).collect();
    assert!(keys.iter().all(|k| k.starts_with("prod/eu/v1/")), "{keys:?}");
    for key in [format!("v1/raw_crash/{}/{id}", id.date_key()), format!("v1/dump/{id}"), format!("v1/dump_names/{id}")]
    {
        assert!(keys.contains(&format!("prod/eu/{key}")), "{key}: {keys:?}");
    }
    let back = FsStore::open(tmp.path().join("b"), true).unwrap();
    assert_eq!(copy_store(&remote, &back), 4);
    assert_eq!(local_files(&tmp.path().join("b")), want, "dir -> GCS -> dir is identical, file for file");

    // reads, existence and deletes
    assert!(
        remote.has_raw(id).unwrap() && remote.has_processed(id).unwrap() && !remote.has_processed(&ids[1]).unwrap()
    );
    remote.delete_crash(id).unwrap();
    assert_eq!(remote.get_raw_crash(id).unwrap_err().name(), "not_found");
    assert_eq!(remote.list_raw(id.date()).unwrap().ids.len(), 3);
    remote.delete_crash(id).unwrap(); // deleting a missing crash is fine
}

#[test]
fn gcs_missing_bucket_is_an_error_naming_it_unless_created() {
    let Some(gcp) = gcp() else { return };
    let bucket = unique("nobucket");
    let strict = RemoteOptions { create: false, ..gcp.store_opts() };
    let e = format!("{:#}", GcsStore::open(&format!("gs://{bucket}"), &strict).unwrap_err());
    assert!(e.contains(&bucket) && e.contains("does not exist") && e.contains("--create-bucket"), "{e}");
    gcp.store(&format!("gs://{bucket}"));
    GcsStore::open(&format!("gs://{bucket}"), &strict).unwrap();
    let e = crashctl::store::open_with("gs://Not_A_Bucket", false, &strict).err().unwrap().to_string();
    assert!(e.contains("not a valid bucket name"), "{e}");
}

fn msgs(ids: &[CrashId]) -> Vec<Message> {
    ids.iter().cloned().map(Message::new).collect()
}

#[test]
fn pubsub_claims_in_priority_order_drops_test_and_dead_letters_garbage_and_failures() {
    let Some(gcp) = gcp() else { return };
    let q = gcp.queue(&format!("pubsub://{}", project()));
    let standard: Vec<CrashId> = (0..12).map(|_| new_id(Throttle::Accept)).collect();
    let (prio, reproc) = (new_id(Throttle::Accept), new_id(Throttle::Accept));
    q.publish(QueueName::Reprocessing, &msgs(std::slice::from_ref(&reproc))).unwrap();
    q.publish(QueueName::Standard, &msgs(&standard)).unwrap();
    q.publish_bodies(
        QueueName::Priority,
        &["test".into(), "not a crash id".into(), format!("{prio}:regenerate_signature")],
    )
    .unwrap();
    let first = q.claim(&QueueName::ALL, VIS).unwrap().unwrap();
    assert_eq!((first.queue, &first.message.id), (QueueName::Priority, &prio), "test dropped, garbage dead-lettered");
    assert_eq!(first.message.ruleset.as_deref(), Some("regenerate_signature"));
    q.fail(&first, "no raw crash in the store").unwrap();
    let mut got = Vec::new();
    for _ in 0..12 {
        let c = q.claim(&QueueName::ALL, VIS).unwrap().unwrap();
        assert_eq!(c.queue, QueueName::Standard, "standard before reprocessing");
        q.ack(&c).unwrap();
        got.push(c.message.id);
    }
    got.sort();
    let mut want = standard.clone();
    want.sort();
    assert_eq!(got, want, "every published message, once");
    let last = q.claim(&QueueName::ALL, VIS).unwrap().unwrap();
    assert_eq!((last.queue, &last.message.id), (QueueName::Reprocessing, &reproc));
    q.ack(&last).unwrap();
    assert!(q.claim(&QueueName::ALL, VIS).unwrap().is_none());

    let failed = q.failed().unwrap();
    let mut seen: Vec<(String, String)> = failed.iter().map(|f| (f.body.clone(), f.error.clone())).collect();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], (format!("{prio}:regenerate_signature"), "no raw crash in the store".to_string()));
    assert_eq!(seen[1].0, "not a crash id");
    assert!(seen[1].1.contains("not a crash id"), "{seen:?}");
    let again = q.failed().unwrap(); // listing changes nothing
    assert_eq!(again.len(), 2);
    q.requeue_failed(&again).unwrap();
    assert!(q.failed().unwrap().is_empty(), "requeued dead letters leave the -failed subscription");
    let back = q.claim(&[QueueName::Priority], VIS).unwrap().unwrap();
    assert_eq!(back.message.id, prio);
    q.ack(&back).unwrap();

    // stats cannot count Pub/Sub on the emulator: it says so, never a wrong 0
    let depths = q.depths().unwrap();
    assert_eq!(depths.len(), 3);
    assert!(depths.iter().all(|d| d.unknown), "{depths:?}");
}

#[test]
fn pubsub_extended_claims_are_not_handed_out_again_and_expired_ones_are() {
    let Some(gcp) = gcp() else { return };
    let q = gcp.queue(&format!("pubsub://{}", project()));
    let ids: Vec<CrashId> = (0..2).map(|_| new_id(Throttle::Accept)).collect();
    q.publish(QueueName::Standard, &msgs(&ids)).unwrap();
    let slow = q.claim(&[QueueName::Standard], Duration::from_secs(2)).unwrap().unwrap();
    let dead = q.claim(&[QueueName::Standard], Duration::from_secs(2)).unwrap().unwrap();
    q.extend(&slow, Duration::from_secs(60)).unwrap(); // the slow stackwalk's keeper
                                                       // the dead consumer's claim comes back after its 2 s; the extended one does not
    let end = Instant::now() + Duration::from_secs(30);
    let again = loop {
        if let Some(c) = q.claim(&[QueueName::Standard], VIS).unwrap() {
            break c;
        }
        assert!(Instant::now() < end, "an expired claim should come back");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(again.message, dead.message);
    std::thread::sleep(Duration::from_secs(1));
    assert!(q.claim(&[QueueName::Standard], VIS).unwrap().is_none(), "the extended claim stays with its consumer");
    q.ack(&again).unwrap();
    q.ack(&slow).unwrap();
}

#[test]
fn pubsub_missing_topic_is_an_error_naming_it_unless_created_and_socorros_env_names_them() {
    let Some(gcp) = gcp() else { return };
    let p = project();
    let strict = RemoteOptions { create: false, ..gcp.queue_opts() };
    let e = format!("{:#}", crashctl::queue::open_with(&format!("pubsub://{p}"), false, &strict).err().unwrap());
    assert!(e.contains(&format!("projects/{p}/topics/")) && e.contains("--create-queues"), "{e}");
    // the binary with Socorro's settings: topics and subscriptions by PUBSUB_*_NAME
    let env = TestEnv::new();
    let id = new_id(Throttle::Accept);
    let mut cmd =
        env.cmd(&["requeue", id.as_str(), "--queue", "pubsub://", "--create-queues", "--queue-name", "priority"]);
    cmd.envs(gcp.env()).env("PUBSUB_PROJECT_ID", &p);
    cmd.env("PUBSUB_PRIORITY_TOPIC_NAME", "local-priority-topic")
        .env("PUBSUB_PRIORITY_SUBSCRIPTION_NAME", "local-priority-sub");
    let o = cmd.output().unwrap();
    assert_code(&o, 0);
    let q = gcp.queue(&format!("pubsub://{p}?priority=local-priority-topic:local-priority-sub"));
    assert_eq!(q.names(QueueName::Priority), (Some("local-priority-topic"), Some("local-priority-sub")));
    assert_eq!(q.names(QueueName::Standard), (Some("standard-queue"), Some("standard-queue")));
    let c = q.claim(&QueueName::ALL, VIS).unwrap().unwrap();
    assert_eq!((c.queue, &c.message.id), (QueueName::Priority, &id));
    q.ack(&c).unwrap();
}

#[test]
fn whole_pipeline_on_gcs_and_pubsub_with_two_processors() {
    let Some(gcp) = gcp() else { return };
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

    let (gs, ps) = (format!("gs://{}/prod", unique("pipe")), format!("pubsub://{}", project()));
    let remote = ["--store", gs.as_str(), "--queue", ps.as_str()];
    let mut args =
        vec!["move", "--spool", &spool_s, "--create-bucket", "--create-queues", "--verify", "--format", "json"];
    args.extend(remote);
    let o = run(&env, &gcp, &args);
    assert_code(&o, 0);
    assert_eq!(json(&o)["moved"], 10, "{}", stdout(&o));
    assert!(spooled(&spool).is_empty(), "the spool is empty after the move");
    let bucket = gcp.store(&gs);
    assert_eq!(raw_ids(&bucket), ids);

    // two processors at once, as on two machines: no crash is processed twice
    let mut args = vec!["process", "--symbols-path", &syms, "--format", "json"];
    args.extend(remote);
    let children: Vec<Child> = (0..2).map(|_| spawn(&env, &gcp, &args)).collect();
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
    assert!(processed.values().all(|&n| n == 1), "no crash processed twice: {processed:?}");
    for id in &accepted {
        let p = bucket.get_processed(id).unwrap().unwrap_or_else(|| panic!("v1/processed_crash/{id}"));
        assert_eq!(p["success"], true, "{id}");
    }
    assert!(drain(&gcp.queue(&ps)).is_empty(), "every message acked");

    let o = run(&env, &gcp, &["stats", "--store", &gs, "--queue", &ps, "--format", "json"]);
    assert_code(&o, 0);
    let stats = json(&o);
    let objects = bucket.objects("").unwrap();
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    let s = &stats["store"];
    assert_eq!((s["objects"].as_u64(), s["bytes"].as_u64()), (Some(objects.len() as u64), Some(bytes)), "{s}");
    let day = &s["days"][0];
    assert_eq!((day["raw"].as_u64(), day["processed"].as_u64()), (Some(10), Some(accepted.len() as u64)), "{s}");
    for q in stats["queue"]["queues"].as_array().unwrap() {
        assert_eq!(q["pending"], "unknown", "the emulator has no backlog count: {q}");
    }
    let o = run(&env, &gcp, &["stats", "--queue", &ps]);
    assert_code(&o, 0);
    assert!(stdout(&o).lines().filter(|l| l.contains("unknown")).count() == 3, "{}", stdout(&o));
    let o = run(&env, &gcp, &["stats", "--queue", &ps, "--format", "prometheus"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("state=\"pending\"} NaN"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("state=\"pending\"} 0"), "never a wrong 0: {}", stdout(&o));
}

#[test]
fn requeue_unprocessed_and_reprocess_local_mode_on_gcs_and_pubsub() {
    let Some(gcp) = gcp() else { return };
    let env = TestEnv::new();
    let (gs, ps) = (format!("gs://{}", unique("rq")), format!("pubsub://{}", project()));
    let bucket = gcp.store(&gs);
    let q = gcp.queue(&ps);
    let ids: Vec<CrashId> = (0..5).map(|_| new_id(Throttle::Accept)).collect();
    for id in ids.iter().chain([&new_id(Throttle::Defer)]) {
        bucket.put_crash(&sample_crash(id)).unwrap();
    }
    for id in &ids[..2] {
        bucket.put_processed(id, &Default::default()).unwrap();
    }
    let date = ids[0].date().format("%Y-%m-%d").to_string();
    let o = run(&env, &gcp, &["requeue", "--unprocessed", "--store", &gs, "--date", &date, "--queue", &ps]);
    assert_code(&o, 0);
    let want: BTreeMap<(QueueName, CrashId), u32> =
        ids[2..].iter().map(|id| ((QueueName::Standard, id.clone()), 1)).collect();
    assert_eq!(drain(&q), want, "the unprocessed accepted crashes, once each, on standard");

    let args = ["reprocess", "--store", &gs, "--queue", &ps, ids[0].as_str(), ids[1].as_str()];
    let o = run(&env, &gcp, &args);
    assert_code(&o, 0);
    let want: BTreeMap<_, _> = ids[..2].iter().map(|id| ((QueueName::Reprocessing, id.clone()), 1)).collect();
    assert_eq!(drain(&q), want, "reprocess (local mode) publishes to the reprocessing topic");
}

/// A GCS emulator and a Pub/Sub fake of our own, killed on drop.
struct OwnEmulators {
    gcs: Child,
    pubsub: Child,
    gcp: Gcp,
}

impl OwnEmulators {
    fn start() -> Option<OwnEmulators> {
        let gcs_exe = std::env::var("CRASHCTL_TEST_GCS_SERVER").unwrap_or_else(|_| "gcp-storage-emulator".into());
        let ps_exe = std::env::var("CRASHCTL_TEST_PUBSUB_SERVER").unwrap_or_default();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let gcs = Command::new(&gcs_exe)
            .args(["start", "--host", "127.0.0.1", "--port", &port.to_string(), "--in-memory"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let pubsub = Command::new(&ps_exe).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn();
        let (mut gcs, mut pubsub) = match (gcs, pubsub) {
            (Ok(g), Ok(p)) => (g, p),
            (g, p) => {
                for mut c in [g.ok(), p.ok()].into_iter().flatten() {
                    let _ = c.kill();
                }
                let why = format!("cannot run {gcs_exe} and {ps_exe:?} (set CRASHCTL_TEST_GCS_SERVER and CRASHCTL_TEST_PUBSUB_SERVER: .ci/gcp.sh env)");
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                skip(&why);
                return None;
            }
        };
        let mut line = String::new();
        BufReader::new(pubsub.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr: SocketAddr = line.trim().parse().unwrap_or_else(|e| panic!("the Pub/Sub fake printed {line:?}: {e}"));
        let gcs_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let end = Instant::now() + Duration::from_secs(60);
        for a in [gcs_addr, addr] {
            while TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_err() {
                if Instant::now() > end {
                    let _ = (gcs.kill(), pubsub.kill());
                    panic!("emulator on {a} did not start within 60 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let gcp = Gcp { gcs: format!("http://{gcs_addr}"), pubsub: addr.to_string() };
        Some(OwnEmulators { gcs, pubsub, gcp })
    }
}

impl Drop for OwnEmulators {
    fn drop(&mut self) {
        for c in [&mut self.gcs, &mut self.pubsub] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn emulators_going_away_during_a_move_lose_nothing_and_a_rerun_completes() {
    if gcp().is_none() {
        return;
    }
    let Some(first) = OwnEmulators::start() else { return };
    let mut gcs_proxy = Proxy::start(0, first.gcp.gcs.trim_start_matches("http://").to_string());
    let mut ps_proxy = Proxy::start(0, first.gcp.pubsub.clone());
    let via_proxy = Gcp { gcs: gcs_proxy.url(), pubsub: ps_proxy.url().trim_start_matches("http://").to_string() };
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
    let (gs, ps) = (format!("gs://{}", unique("gone")), format!("pubsub://{}", project()));
    let spool_s = env.spool().to_str().unwrap().to_string();
    let args = [
        "move",
        "--spool",
        &spool_s,
        "--store",
        &gs,
        "--queue",
        &ps,
        "--create-bucket",
        "--create-queues",
        "-j",
        "2",
        "--batch-size",
        "10",
    ];
    let child = spawn(&env, &via_proxy, &args);
    wait_for_commits(&env.spool(), ids.len() - 20);
    gcs_proxy.stop();
    ps_proxy.stop();
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 2);
    let left = spooled(&env.spool());
    let stored = raw_ids(&first.gcp.store(&gs));
    assert!(!left.is_empty(), "the emulators went away before the move was done ({} stored)", stored.len());
    let gone: BTreeSet<CrashId> = ids.difference(&left).cloned().collect();
    assert!(gone.is_subset(&stored), "a crash left the spool without being stored: {:?}", gone.difference(&stored));
    let queued = drain(&first.gcp.queue(&ps));
    let must_be_queued: BTreeSet<CrashId> = gone.intersection(&accepted).cloned().collect();
    let queued_ids: BTreeSet<CrashId> = queued.keys().map(|(_, id)| id.clone()).collect();
    assert!(
        must_be_queued.is_subset(&queued_ids),
        "a crash left the spool unqueued: {:?}",
        must_be_queued.difference(&queued_ids)
    );
    drop(first);

    // fresh emulators (empty): the rerun makes bucket and topics again and moves the rest
    let Some(second) = OwnEmulators::start() else { return };
    let o = run(&env, &second.gcp, &args);
    assert_code(&o, 0);
    assert!(spooled(&env.spool()).is_empty(), "spool empty after the rerun");
    let bucket = second.gcp.store(&gs);
    assert_eq!(raw_ids(&bucket), left, "the rerun stored exactly what was left");
    assert_eq!(bucket.objects("v1/raw_crash/").unwrap().len(), left.len(), "each crash stored once");
    let requeued = drain(&second.gcp.queue(&ps));
    let want: BTreeSet<CrashId> = left.intersection(&accepted).cloned().collect();
    assert_eq!(requeued.keys().map(|(_, id)| id.clone()).collect::<BTreeSet<_>>(), want);
    assert!(requeued.values().all(|&n| n == 1), "each accepted crash published once: {requeued:?}");
    assert_eq!(stored.union(&left).cloned().collect::<BTreeSet<_>>(), ids, "spool + bucket covered every crash");
}

#[test]
fn missing_google_credentials_are_one_line_naming_what_was_looked_for() {
    // no emulator, no credentials file, an empty home: nothing to authenticate with
    let env = TestEnv::new();
    for (args, var) in [
        (["stats", "--store", "gs://some-bucket"], "STORAGE_EMULATOR_HOST"),
        (["stats", "--queue", "pubsub://some-project"], "PUBSUB_EMULATOR_HOST"),
    ] {
        let mut cmd = env.cmd(&args);
        cmd.env_remove("STORAGE_EMULATOR_HOST").env_remove("PUBSUB_EMULATOR_HOST");
        cmd.env_remove("GOOGLE_APPLICATION_CREDENTIALS").env("HOME", env.path("home"));
        let o = cmd.output().unwrap();
        assert_code(&o, 2);
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        for looked_for in
            ["GOOGLE_APPLICATION_CREDENTIALS", "application_default_credentials.json", "metadata server", var]
        {
            assert!(err.contains(looked_for), "names {looked_for}: {err}");
        }
    }
}

/// A symbol server whose first answer comes after `delay` (a slow stackwalk); the rest at once.
struct SlowSymbols {
    url: String,
    /// Set once the first request has arrived (the stackwalk has begun).
    asked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SlowSymbols {
    fn start(root: std::path::PathBuf, delay: Duration) -> SlowSymbols {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (asked, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (first, stopped) = (asked.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (root, first, stopped) = (root.clone(), first.clone(), stopped.clone());
                std::thread::spawn(move || {
                    conn.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    while let Ok(n) = reader.read_line(&mut String::new()) {
                        if n <= 2 {
                            break;
                        }
                    }
                    // crashctl's check that the host answers sends no request: not the first ask
                    let slow = !line.is_empty() && !first.swap(true, Ordering::SeqCst);
                    let end = Instant::now() + if slow { delay } else { Duration::ZERO };
                    while Instant::now() < end && !stopped.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap().to_string();
                    let file = root.join(path.trim_start_matches('/'));
                    let ok = !path.contains("..") && file.is_file();
                    let body = if ok { std::fs::read(&file).unwrap() } else { Vec::new() };
                    let status = if ok { "200 OK" } else { "404 Not Found" };
                    let head =
                        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&body));
                });
            }
        });
        SlowSymbols { url, asked, stop }
    }
}

impl Drop for SlowSymbols {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Waits (at most `secs`) for `child` to exit, then returns its output.
fn wait_bounded(mut child: Child, secs: u64, what: &str) -> Output {
    let end = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("{what} did not end within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_stackwalk_slower_than_the_ack_deadline_keeps_its_claim_and_is_processed_once() {
    let Some(gcp) = gcp() else { return };
    let Some(data) = testdata() else { return };
    // a subscription with a 10 s ack deadline (the fake's least), as Socorro's tests on real Pub/Sub
    let p = project();
    crashctl::remote::block_on(async {
        use gcloud_pubsub::client::{Client, ClientConfig};
        use gcloud_pubsub::subscription::SubscriptionConfig;
        let mut config = ClientConfig { project_id: Some(p.clone()), ..Default::default() };
        config.environment = gcloud_gax::conn::Environment::Emulator(gcp.pubsub.clone());
        let client = Client::new(config).await.unwrap();
        let topic = client.topic("slow");
        topic.create(None, None).await.unwrap();
        let config = SubscriptionConfig { ack_deadline_seconds: 10, ..Default::default() };
        client.create_subscription("slow", topic.fully_qualified_name(), config, None).await.unwrap();
    });
    let location = format!("pubsub://{p}?standard=slow:slow&priority=&reprocessing=");
    let env = TestEnv::new();
    let id = new_id(Throttle::Accept);
    let mut crash = sample_crash(&id);
    let dump = std::fs::read(data.join("minidumps/test.dmp")).unwrap();
    crash.add_dump(DumpName::main(), DumpData::Bytes(dump.into()));
    FsStore::open(env.store(), true).unwrap().put_crash(&crash).unwrap();
    gcp.queue(&location).publish(QueueName::Standard, &msgs(std::slice::from_ref(&id))).unwrap();

    // the first symbol answer comes after 16 s: past the ack deadline, so only renewals keep it
    let server = SlowSymbols::start(data.join("symbols"), Duration::from_secs(16));
    let store = env.store().to_str().unwrap().to_string();
    let args = ["process", "--store", &store, "--queue", &location, "-j", "1", "--format", "json"];
    let mut first: Vec<&str> = args.to_vec();
    first.extend(["--symbols-url", &server.url]);
    let slow = spawn(&env, &gcp, &first);
    let end = Instant::now() + Duration::from_secs(60);
    while !server.asked.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < end, "the first processor never asked for symbols");
        std::thread::sleep(Duration::from_millis(50));
    }
    // a second processor pulls all along while the first one's stackwalk waits
    let mut second: Vec<&str> = args.to_vec();
    second.push("--follow");
    let other = spawn(&env, &gcp, &second);
    let o = wait_bounded(slow, 120, "the slow processor");
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stdout(&o));
    assert_eq!((lines[0]["id"].as_str(), &lines[0]["saved"]), (Some(id.as_str()), &serde_json::json!(true)));
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(other.id() as i32, libc::SIGTERM) };
    let o2 = wait_bounded(other, 30, "the second processor");
    assert_eq!(o2.status.code(), Some(130), "{}", stderr(&o2));
    assert!(json_lines(&o2).is_empty(), "the second processor got the crash too: {}", stdout(&o2));
    let p = FsStore::open(env.store(), false).unwrap().get_processed(&id).unwrap().expect("processed crash");
    assert_eq!(p["json_dump"]["crashing_thread"]["frames"][1]["function"], "main");
    assert!(drain(&gcp.queue(&location)).is_empty(), "the message was acked");
}

/// A stand-in for Google's token endpoint (`POST /token`) and Cloud Monitoring's timeSeries
/// listing: `standard-queue` 42 undelivered (an older point 7), oldest unacked 95 s;
/// `priority-queue` 0; no points for `reprocessing-queue`. With `deny` set, every listing is 403.
struct Monitoring {
    url: String,
    deny: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Monitoring {
    fn start() -> Monitoring {
        use axum::extract::{Query, State};
        use axum::http::{HeaderMap, StatusCode};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let deny = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let series = |sub: &str, values: &[u64]| {
            let points: Vec<serde_json::Value> =
                values.iter().map(|v| serde_json::json!({"value": {"int64Value": v.to_string()}})).collect();
            serde_json::json!({"resource": {"type": "pubsub_subscription", "labels": {"subscription_id": sub}}, "points": points})
        };
        let undelivered =
            serde_json::json!({"timeSeries": [series("standard-queue", &[42, 7]), series("priority-queue", &[0])]});
        let oldest = serde_json::json!({"timeSeries": [series("standard-queue", &[95])]});
        let list = move |State(deny): State<Arc<AtomicBool>>,
                         headers: HeaderMap,
                         Query(q): Query<BTreeMap<String, String>>| {
            let (undelivered, oldest) = (undelivered.clone(), oldest.clone());
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer stand-in-token") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({})));
                }
                if deny.load(Ordering::SeqCst) {
                    return (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({"error": {"code": 403}})));
                }
                let ok = q.contains_key("interval.startTime") && q.contains_key("interval.endTime");
                let filter = q.get("filter").cloned().unwrap_or_default();
                let body = if !ok {
                    return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({})));
                } else if filter.contains("num_undelivered_messages") {
                    undelivered
                } else if filter.contains("oldest_unacked_message_age") {
                    oldest
                } else {
                    serde_json::json!({})
                };
                (StatusCode::OK, axum::Json(body))
            }
        };
        let token = || async {
            axum::Json(
                serde_json::json!({"access_token": "stand-in-token", "token_type": "Bearer", "expires_in": 3600}),
            )
        };
        let app = axum::Router::new()
            .route("/token", axum::routing::post(token))
            .route("/v3/projects/{project}/timeSeries", axum::routing::get(list))
            .with_state(deny.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Monitoring { url, deny, _stop: stop }
    }
}

/// A service-account key file of a fresh RSA key whose `token_uri` is `token_uri`.
fn fake_service_account(env: &TestEnv, project: &str, token_uri: &str) -> std::path::PathBuf {
    let pem = env.path("sa.pem");
    let o = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&pem)
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": std::fs::read_to_string(&pem).unwrap(),
        "client_email": format!("crashctl@{project}.iam.gserviceaccount.com"),
        "client_id": "1",
        "token_uri": token_uri,
    });
    let file = env.path("sa.json");
    std::fs::write(&file, key.to_string()).unwrap();
    file
}

#[test]
fn pubsub_backlog_comes_from_cloud_monitoring_with_credentials_and_is_unknown_where_it_cannot() {
    let Some(gcp) = gcp() else { return };
    let p = project();
    let location = format!("pubsub://{p}");
    gcp.queue(&location); // creates the three topics and subscriptions
    let monitoring = Monitoring::start();
    let env = TestEnv::new();
    let key = fake_service_account(&env, &p, &format!("{}/token", monitoring.url));
    let stats = |format: &str| {
        let mut c = env.cmd(&["stats", "--queue", &location, "--format", format]);
        c.envs(gcp.env())
            .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
            .env("CRASHCTL_MONITORING_ENDPOINT", &monitoring.url);
        let o = c.output().unwrap();
        assert_code(&o, 0);
        o
    };
    let o = stats("json");
    let queues = json(&o)["queue"]["queues"].as_array().unwrap().clone();
    let by =
        |name: &str| queues.iter().find(|q| q["queue"] == name).unwrap_or_else(|| panic!("{name}: {queues:?}")).clone();
    let standard = by("standard");
    assert_eq!(
        (&standard["pending"], &standard["oldest_unacked_secs"]),
        (&serde_json::json!(42), &serde_json::json!(95))
    );
    assert_eq!(standard["claimed"], "unknown", "Monitoring counts unacked messages only: {standard}");
    assert_eq!(by("priority")["pending"], 0, "a 0 from Monitoring is a real 0");
    assert_eq!(by("reprocessing")["pending"], "unknown", "no data points: unknown, never 0");
    let warnings: Vec<String> = stderr(&o).lines().filter(|l| l.contains("warning")).map(String::from).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("no data points for subscription reprocessing-queue"), "{warnings:?}");
    let o = stats("table");
    assert!(
        stdout(&o).lines().any(|l| l.contains("standard") && l.contains("42") && l.contains("oldest unacked 1m 35s")),
        "{}",
        stdout(&o)
    );
    let o = stats("prometheus");
    assert!(stdout(&o).contains("crashctl_queue_oldest_unacked_seconds{queue=\"standard\"} 95"), "{}", stdout(&o));
    // without monitoring.viewer: every queue unknown, one line saying why
    monitoring.deny.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = stats("json");
    let queues = json(&o)["queue"]["queues"].as_array().unwrap().clone();
    assert!(queues.iter().all(|q| q["pending"] == "unknown"), "{queues:?}");
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{}", stderr(&o));
    assert!(warnings[0].contains("403") && warnings[0].contains("monitoring.viewer"), "{warnings:?}");
}
