//! `crashctl collect --store --queue` (direct mode, as Mozilla's modern collector does): the
//! real binary on 127.0.0.1, driven by `crashctl submit` and curl, into a directory store and
//! queue (always) and into S3 + SQS on the moto server (when `CRASHCTL_TEST_S3_ENDPOINT` is
//! set; skipped with a message otherwise). Checks the v1 keys, the `standard` queue, DEFER
//! stored but not queued, FAKEACCEPT not stored, and a failed publish still answered 200.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crashctl::crash::CrashId;
use crashctl::queue::{CrashQueue, DirQueue, QueueName, SqsQueue};
use crashctl::store::{CrashStore, FsStore, S3Store};

use crate::collect::{curl, file, have_curl, sha256, Server};
use crate::common::*;
use crate::remote::{remote_env, server, unique, OwnServer};

const RULES: &[u8] = b"[[rule]]\nname = \"later\"\nkey = \"ReleaseChannel\"\none_of = [\"esr\"]\nresult = \"defer\"\n\
    [[rule]]\nname = \"pretend\"\nkey = \"HangID\"\nresult = \"fakeaccept\"\n\
    [[rule]]\nname = \"firefox\"\nkey = \"ProductName\"\nequals = \"Firefox\"\nresult = \"accept\"\n";

const DUMP: &[u8] = b"MDMP direct mode dump";

fn id_of(body: &str) -> CrashId {
    let id = body.trim().strip_prefix("CrashID=bp-").unwrap_or_else(|| panic!("not accepted: {body:?}"));
    CrashId::parse_lax(id).unwrap()
}

fn curl_crash(server: &Server, fields: &[&str]) -> CrashId {
    let mut args = Vec::new();
    for f in fields {
        args.extend(["-F", f]);
    }
    let url = server.submit_url();
    args.push(&url);
    let (status, body) = curl(&args);
    assert_eq!(status, 200, "{body}");
    id_of(&body)
}

/// Every crash ID on the `standard` queue (claimed and acked), polling until `want` arrived.
fn drain_standard(q: &dyn CrashQueue, want: usize) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    let end = Instant::now() + Duration::from_secs(60);
    while got.len() < want && Instant::now() < end {
        if let Some(c) = q.claim(&[QueueName::Standard], Duration::from_secs(300)).unwrap() {
            got.insert(c.message.id.to_string());
            q.ack(&c).unwrap();
        }
    }
    got
}

fn as_vars<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn pending(q: &dyn CrashQueue, name: &str) -> u64 {
    q.depths().unwrap().into_iter().find(|d| d.queue.ends_with(name)).map_or(0, |d| d.pending)
}

/// The whole direct-mode contract against one store and queue. `object` reads a key of the
/// bucket layout (`v1/raw_crash/...`), from the directory or the bucket.
fn exercise(
    env: &TestEnv,
    server: &mut Server,
    store: &dyn CrashStore,
    queue: &dyn CrashQueue,
    object: &dyn Fn(&str) -> Option<Vec<u8>>,
) {
    let dump = file(env, "crash.dmp", DUMP);
    let report = format!("memory_report={}", file(env, "mem.json", b"{\"reports\":[]}"));
    let o = env.run(&["submit", &server.url, "--dump", &dump, "--dump", &report, "ProductName=Firefox", "Email=x@y"]);
    assert_code(&o, 0);
    let by_submit = id_of(&stdout(&o));
    let by_curl = curl_crash(server, &["ProductName=Firefox", &format!("upload_file_minidump=@{dump}")]);
    let deferred = curl_crash(server, &["ProductName=Firefox", "ReleaseChannel=esr"]);
    let fake = curl_crash(server, &["ProductName=Firefox", "HangID=1"]);

    // the v1 keys, written by the collector itself
    let raw = object(&format!("v1/raw_crash/{}/{by_submit}", by_submit.date_key())).expect("raw crash");
    let raw: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!((raw["uuid"].as_str(), raw["ProductName"].as_str()), (Some(by_submit.as_str()), Some("Firefox")));
    assert!(raw.get("Email").is_none(), "private annotations removed: {raw}");
    assert_eq!(raw["metadata"]["dump_checksums"]["upload_file_minidump"], sha256(DUMP));
    assert_eq!(object(&format!("v1/dump/{by_submit}")).as_deref(), Some(DUMP));
    assert_eq!(object(&format!("v1/memory_report/{by_submit}")).as_deref(), Some(&b"{\"reports\":[]}"[..]));
    let names: BTreeSet<String> =
        serde_json::from_slice(&object(&format!("v1/dump_names/{by_submit}")).unwrap()).unwrap();
    assert_eq!(names, ["memory_report", "upload_file_minidump"].map(String::from).into());
    assert_eq!(store.get_crash(&by_curl).unwrap().dumps.len(), 1);
    assert!(store.has_raw(&deferred).unwrap(), "DEFER crashes are stored");
    assert!(!store.has_raw(&fake).unwrap(), "FAKEACCEPT stores nothing");
    assert!(object(&format!("v1/dump_names/{fake}")).is_none());

    // only ACCEPT crashes are queued
    assert_eq!(pending(queue, "standard"), 2);
    let queued = drain_standard(queue, 2);
    assert_eq!(queued, [by_submit.to_string(), by_curl.to_string()].into());
    assert_eq!(pending(queue, "priority") + pending(queue, "reprocessing"), 0);

    assert_eq!(server.metric("crashctl_collector_accepted_total"), 3.0);
    assert_eq!(server.metric("crashctl_collector_published_total"), 2.0);
    assert_eq!(server.metric("crashctl_collector_publish_failures_total"), 0.0);
    let (status, body) = server.get("/__heartbeat__");
    assert_eq!((status, body.as_str()), (200, "{\"errors\":[]}"));
    server.wait_for(&format!("crash {deferred} defer"));
}

#[test]
fn direct_to_a_directory_store_and_queue() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let rules = file(&env, "rules.toml", RULES);
    let (store_dir, queue_dir) = (env.store(), env.queue());
    let args = ["--store", store_dir.to_str().unwrap(), "--queue", queue_dir.to_str().unwrap()];
    let mut server = Server::start_bare(&env, &[&args[..], &["--throttle-rules", &rules]].concat(), &[]);
    let store = FsStore::open(&store_dir, false).unwrap();
    let queue = DirQueue::open(&queue_dir, false).unwrap();
    let object = |key: &str| std::fs::read(store_dir.join(key)).ok();
    exercise(&env, &mut server, &store, &queue, &object);
    assert!(!env.spool().exists(), "direct mode does not touch the spool");

    // the queue breaks: still 200 (the crash is stored), logged and counted
    let tmp = queue_dir.join(".tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::write(&tmp, "a file where the queue's temp directory belongs").unwrap();
    let id = curl_crash(&server, &["ProductName=Firefox"]);
    assert!(store.has_raw(&id).unwrap());
    assert_eq!(server.metric("crashctl_collector_publish_failures_total"), 1.0);
    let line = server.wait_for(&format!("crash {id} accept"));
    assert!(line.contains("not queued"), "{line}");

    // the store breaks: 500, and nothing is queued for the crash
    std::fs::remove_file(&tmp).unwrap();
    let raw_dir = store_dir.join("v1/raw_crash");
    std::fs::remove_dir_all(&raw_dir).unwrap();
    std::fs::write(&raw_dir, "a file where the raw crashes belong").unwrap();
    let (status, body) = curl(&["-F", "ProductName=Firefox", &server.submit_url()]);
    assert_eq!((status, body.as_str()), (500, ""));
    assert_eq!(pending(&queue, "standard"), 0);
    assert!(server.wait_for("save_failed").contains("raw_crash"), "the log says why");
}

#[test]
fn spool_and_store_are_exclusive_and_queue_needs_store() {
    let env = TestEnv::new();
    let (spool, store, queue) = (env.spool(), env.store(), env.queue());
    let (spool, store, queue) = (spool.to_str().unwrap(), store.to_str().unwrap(), queue.to_str().unwrap());
    let o = env.run(&["collect", "--listen", "127.0.0.1:0", "--spool", spool, "--store", store]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("mutually exclusive"), "{}", stderr(&o));
    let o = env.run(&["collect", "--listen", "127.0.0.1:0", "--spool", spool, "--queue", queue]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--queue requires --store"), "{}", stderr(&o));
    assert!(!env.store().exists() && !env.queue().exists());
}

#[test]
fn from_the_environment_flags_decide_and_a_spool_wins() {
    let env = TestEnv::new();
    let (spool, store, queue) = (env.spool(), env.store(), env.queue());
    let (spool, store, queue) = (spool.to_str().unwrap(), store.to_str().unwrap(), queue.to_str().unwrap());
    // all three exported (as for `crashctl move`): collect keeps to the spool
    let all = [("CRASHCTL_SPOOL", spool), ("CRASHCTL_STORE", store), ("CRASHCTL_QUEUE", queue)];
    let mut server = Server::start_bare(&env, &[], &all);
    assert!(server.wait_for("saving crashes into").contains(&format!("spool {spool}")), "{:?}", server.log);
    server.stop();
    // a --store flag beats CRASHCTL_SPOOL; CRASHCTL_QUEUE then applies
    let mut server = Server::start_bare(&env, &["--store", store], &all);
    assert!(server.wait_for("saving crashes into").contains(&format!("queue {queue}")), "{:?}", server.log);
    server.stop();
    // only CRASHCTL_STORE: direct mode, stored but not queued
    let mut server = Server::start_bare(&env, &[], &[("CRASHCTL_STORE", store)]);
    assert!(server.wait_for("saving crashes into").contains("(no queue)"), "{:?}", server.log);
    server.stop();
    // a config file with a store and a queue and no spool: direct mode
    std::fs::write(env.path("crashctl.toml"), format!("store = {store:?}\nqueue = {queue:?}\n")).unwrap();
    let mut server = Server::start_bare(&env, &[], &[]);
    assert!(server.wait_for("saving crashes into").contains(&format!("queue {queue}")), "{:?}", server.log);
}

#[test]
fn direct_to_s3_and_sqs() {
    let Some(opts) = server() else { return };
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let rules = file(&env, "rules.toml", RULES);
    let (bucket, prefix) = (unique("direct"), unique("direct"));
    let (s3, sqs) = (format!("s3://{bucket}/pre"), format!("sqs://{prefix}"));
    let vars = remote_env(&opts);
    let vars = as_vars(&vars);
    let args = ["--store", &s3, "--create-bucket", "--queue", &sqs, "--create-queues", "--throttle-rules", &rules];
    let mut server = Server::start_bare(&env, &args, &vars);
    let store = S3Store::open(&s3, &opts).unwrap();
    let queue = SqsQueue::open(&sqs, &opts).unwrap();
    let object = |key: &str| store.read_object(key).unwrap();
    exercise(&env, &mut server, &store, &queue, &object);
}

#[test]
fn sqs_gone_still_answers_200_and_counts_the_failure() {
    let Some(opts) = server() else { return };
    if !have_curl() {
        return;
    }
    let Some(mut own) = OwnServer::start() else { return };
    let env = TestEnv::new();
    let bucket = unique("direct-nosqs");
    let s3 = format!("s3://{bucket}");
    let sqs = format!("sqs://{}", unique("direct-nosqs"));
    let vars = remote_env(&opts);
    let vars = as_vars(&vars);
    let own_url = own.url();
    let args = ["--store", &s3, "--create-bucket", "--queue", &sqs, "--create-queues", "--sqs-endpoint-url", &own_url];
    let mut server = Server::start_bare(&env, &args, &vars);
    let first = curl_crash(&server, &["ProductName=Firefox"]);
    assert_eq!(server.metric("crashctl_collector_published_total"), 1.0);

    own.stop();
    let id = curl_crash(&server, &["ProductName=Firefox"]);
    let store = S3Store::open(&s3, &opts).unwrap();
    assert!(store.has_raw(&first).unwrap() && store.has_raw(&id).unwrap(), "both crashes are stored");
    assert_eq!(server.metric("crashctl_collector_publish_failures_total"), 1.0);
    let line = server.wait_for(&format!("crash {id} accept"));
    assert!(line.contains("not queued") && line.contains("-standard"), "names the queue: {line}");
    let (status, body) = server.get("/__heartbeat__");
    assert_eq!(status, 503, "the heartbeat reports the queue: {body}");
    assert!(body.contains("queue"), "{body}");
}
