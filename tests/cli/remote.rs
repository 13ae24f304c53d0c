//! The remote backends (S3 store, SQS queues) against a real S3+SQS-compatible server: moto,
//! started by `.ci/moto.sh start` (CI does it in `.ci/run`), found through
//! `CRASHCTL_TEST_S3_ENDPOINT`. Without it every test here prints why it is skipped.
//! The server-goes-away test starts its own moto (`CRASHCTL_TEST_MOTO_SERVER` or
//! `moto_server` on PATH) on a free port, so it can stop and restart it.
//!
//! For whole-pipeline tests (other modules): [`server`] (options, or skipped with a message),
//! [`remote_env`] (the environment that points the binary at the server), [`unique`] (bucket
//! and queue-prefix names), [`OwnServer`] (a moto of one's own to stop and restart).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crashctl::crash::{Crash, CrashId, DumpData, DumpName, ProcessedCrash, Throttle};
use crashctl::queue::{CrashQueue, Message, QueueName, SqsQueue};
use crashctl::remote::RemoteOptions;
use crashctl::store::{CrashStore, FsStore, S3Store};

use crate::common::{new_id, sample_crash};

const VIS: Duration = Duration::from_secs(300);

fn skip(why: &str) {
    crate::common::skip(&format!("the S3/SQS emulator: {why}"));
}

/// Options for the shared moto server, or `None` (skipped, with a message).
pub fn server() -> Option<RemoteOptions> {
    match std::env::var("CRASHCTL_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(options(url)),
        _ => {
            skip("CRASHCTL_TEST_S3_ENDPOINT not set (run .ci/moto.sh start)");
            None
        }
    }
}

pub fn options(url: String) -> RemoteOptions {
    RemoteOptions { endpoint_url: Some(url), create: true, max_attempts: Some(2), ..Default::default() }
}

/// A name no other test uses (buckets and queue prefixes are shared across the server).
pub fn unique(what: &str) -> String {
    format!("crashctl-{what}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn s3(opts: &RemoteOptions, location: &str) -> S3Store {
    S3Store::open(location, opts).unwrap_or_else(|e| panic!("{e:#}"))
}

fn sqs(opts: &RemoteOptions, location: &str) -> SqsQueue {
    SqsQueue::open(location, opts).unwrap_or_else(|e| panic!("{e:#}"))
}

/// A crash with a main dump, a second dump, and a dump read from a file.
fn full_crash(id: &CrashId, dir: &Path) -> Crash {
    let mut c = sample_crash(id);
    c.add_dump(
        DumpName::parse("upload_file_minidump_browser").unwrap(),
        DumpData::Bytes(bytes::Bytes::from_static(b"MDMP browser")),
    );
    let file = dir.join("memory_report");
    std::fs::write(&file, b"memory report bytes").unwrap();
    c.add_dump(DumpName::parse("memory_report").unwrap(), DumpData::File(file));
    c
}

fn processed(signature: &str) -> ProcessedCrash {
    let mut p = ProcessedCrash::new();
    p.insert("signature".into(), signature.into());
    p
}

/// Every file under `root`, as sorted relative paths with their bytes.
fn local_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Every object of an S3 store, as sorted relative keys with their bytes.
fn bucket_files(store: &S3Store) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = store.objects("").unwrap().into_iter().map(|o| o.key).collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), store.read_object(&k).unwrap().unwrap())).collect()
}

#[test]
fn s3_store_writes_exactly_the_keys_of_the_local_v1_store() {
    let Some(opts) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let id = new_id(Throttle::Accept);
    let crash = full_crash(&id, tmp.path());
    let local = FsStore::open(tmp.path().join("store"), true).unwrap();
    let bucket = unique("keys");
    let remote = s3(&opts, &format!("s3://{bucket}/prod/eu"));
    for store in [&local as &dyn CrashStore, &remote] {
        store.put_crash(&crash).unwrap();
        store.put_processed(&id, &processed("OOM | small")).unwrap();
    }
    let want = local_files(&tmp.path().join("store"));
    assert_eq!(want.len(), 6, "raw, dump names, 3 dumps, processed: {want:?}");
    assert_eq!(bucket_files(&remote), want);
    // the prefix is in front of every key, nothing outside it
    let root = s3(&opts, &format!("s3://{bucket}"));
    let keys: Vec<String> = root.objects("").unwrap().into_iter().map(|o| o.key).collect();
    assert!(keys.iter().all(|k| k.starts_with("prod/eu/v1/")), "{keys:?}");
    assert!(keys.contains(&format!("prod/eu/v1/raw_crash/{}/{id}", id.date_key())), "{keys:?}");
    assert!(keys.contains(&format!("prod/eu/v1/dump/{id}")), "{keys:?}");
}

#[test]
fn s3_store_reads_lists_and_deletes() {
    let Some(opts) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = s3(&opts, &format!("s3://{}", unique("rw")));
    let (a, b) = (new_id(Throttle::Accept), new_id(Throttle::Defer));
    let crash = full_crash(&a, tmp.path());
    store.put_crash(&crash).unwrap();
    store.put_crash(&sample_crash(&b)).unwrap();
    let mut back = store.get_crash(&a).unwrap();
    back.dumps.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(back.raw, crash.raw);
    assert_eq!(
        back.dump("memory_report").unwrap().data,
        DumpData::Bytes(bytes::Bytes::from_static(b"memory report bytes"))
    );
    assert_eq!(back.dumps.len(), 3);
    assert!(store.has_raw(&a).unwrap());
    assert!(!store.has_processed(&a).unwrap());
    assert!(store.get_processed(&a).unwrap().is_none());
    store.put_processed(&a, &processed("sig")).unwrap();
    assert_eq!(store.get_processed(&a).unwrap().unwrap()["signature"], "sig");
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(store.list_dates().unwrap(), vec![a.date()]);
    assert_eq!(store.list_raw(a.date()).unwrap().ids, both);
    assert_eq!(store.list_processed().unwrap().ids, vec![a.clone()]);

    store.delete_crash(&a).unwrap();
    let e = store.get_raw_crash(&a).unwrap_err();
    assert_eq!(e.name(), "not_found");
    assert!(e.to_string().contains(a.as_str()), "{e}");
    assert!(store.get_dump(&a, &DumpName::main()).unwrap_err().is_not_found());
    assert!(store.get_dump_names(&a).unwrap().is_empty());
    let left: Vec<String> = store.objects("").unwrap().into_iter().map(|o| o.key).collect();
    assert!(left.iter().all(|k| k.ends_with(b.as_str())), "only crash b is left: {left:?}");
    store.delete_crash(&a).unwrap(); // deleting a missing crash is fine
    store.sync().unwrap();
}

#[test]
fn missing_bucket_is_an_error_naming_it_unless_created() {
    let Some(opts) = server() else { return };
    let bucket = unique("nobucket");
    let strict = RemoteOptions { create: false, ..opts.clone() };
    let e = format!("{:#}", S3Store::open(&format!("s3://{bucket}"), &strict).unwrap_err());
    assert!(e.contains(&bucket) && e.contains("does not exist") && e.contains("--create-bucket"), "{e}");
    s3(&opts, &format!("s3://{bucket}"));
    S3Store::open(&format!("s3://{bucket}"), &strict).unwrap();
    // the same through store::open_with, as the binary's --store does
    let e = crashctl::store::open_with("s3://Not_A_Bucket", false, &strict).err().unwrap().to_string();
    assert!(e.contains("not a valid bucket name"), "{e}");
}

fn ids(n: usize) -> Vec<CrashId> {
    (0..n).map(|_| new_id(Throttle::Accept)).collect()
}

fn msgs(ids: &[CrashId]) -> Vec<Message> {
    ids.iter().cloned().map(Message::new).collect()
}

fn depth(q: &dyn CrashQueue, name: &str) -> (u64, u64, u64) {
    let d = q.depths().unwrap().into_iter().find(|d| d.queue == name).unwrap();
    (d.pending, d.claimed, d.failed)
}

#[test]
fn sqs_publishes_in_batches_and_claims_in_priority_order() {
    let Some(opts) = server() else { return };
    let q = sqs(&opts, &format!("sqs://{}", unique("prio")));
    let standard = ids(23); // three batches: 10 + 10 + 3
    let (prio, reproc) = (ids(1), ids(1));
    q.publish(QueueName::Reprocessing, &msgs(&reproc)).unwrap();
    q.publish(QueueName::Standard, &msgs(&standard)).unwrap();
    q.publish(QueueName::Priority, &msgs(&prio)).unwrap();
    assert_eq!(depth(&q, "standard"), (23, 0, 0));
    let first = q.claim(&QueueName::ALL, VIS).unwrap().unwrap();
    assert_eq!((first.queue, &first.message.id), (QueueName::Priority, &prio[0]));
    assert_eq!(depth(&q, "priority"), (0, 1, 0));
    q.ack(&first).unwrap();
    let mut got = Vec::new();
    for _ in 0..23 {
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
    assert_eq!((last.queue, &last.message.id), (QueueName::Reprocessing, &reproc[0]));
    q.ack(&last).unwrap();
    assert!(q.claim(&QueueName::ALL, VIS).unwrap().is_none());
    assert!(q.depths().unwrap().iter().all(|d| (d.pending, d.claimed, d.failed) == (0, 0, 0)));
}

#[test]
fn sqs_dead_letters_with_the_error_and_requeues_failed() {
    let Some(opts) = server() else { return };
    let q = sqs(&opts, &format!("sqs://{}", unique("dlq")));
    let id = ids(1);
    let with_ruleset = Message::with_ruleset(id[0].clone(), Some("regenerate_signature".into()));
    q.publish(QueueName::Standard, std::slice::from_ref(&with_ruleset)).unwrap();
    let c = q.claim(&[QueueName::Standard], VIS).unwrap().unwrap();
    assert_eq!(c.message, with_ruleset);
    q.fail(&c, "no raw crash in the store").unwrap();
    assert_eq!(depth(&q, "standard"), (0, 0, 1));
    let failed = q.failed().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].queue, failed[0].body.as_str()), (QueueName::Standard, with_ruleset.body().as_str()));
    assert_eq!(failed[0].error, "no raw crash in the store");
    let again = q.failed().unwrap(); // listing is read-only: the same again (with new receipts)
    let content = |f: &[crashctl::queue::FailedMessage]| -> Vec<(QueueName, String, String)> {
        f.iter().map(|m| (m.queue, m.body.clone(), m.error.clone())).collect()
    };
    assert_eq!(content(&again), content(&failed));
    q.requeue_failed(&again).unwrap();
    assert_eq!(depth(&q, "standard"), (1, 0, 0));
    let again = q.claim(&[QueueName::Standard], VIS).unwrap().unwrap();
    assert_eq!(again.message, with_ruleset);
    q.ack(&again).unwrap();
    assert!(q.failed().unwrap().is_empty());
}

#[test]
fn sqs_drops_test_messages_and_dead_letters_garbage() {
    let Some(opts) = server() else { return };
    let q = sqs(&opts, &format!("sqs://{}", unique("garbage")));
    let id = ids(1);
    q.publish_bodies(QueueName::Standard, &["test".into(), "not a crash id".into(), id[0].to_string()]).unwrap();
    let c = q.claim(&[QueueName::Standard], VIS).unwrap().unwrap();
    assert_eq!(c.message.id, id[0], "test dropped, garbage dead-lettered, the crash claimed");
    q.ack(&c).unwrap();
    assert_eq!(depth(&q, "standard"), (0, 0, 1));
    let failed = q.failed().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].body, "not a crash id");
    assert!(failed[0].error.contains("not a crash id"), "{}", failed[0].error);
}

/// Claims from `queues` until a message comes back or the deadline passes.
fn claim_within(q: &dyn CrashQueue, queues: &[QueueName], deadline: Duration) -> Option<crashctl::queue::Claimed> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if let Some(c) = q.claim(queues, VIS).unwrap() {
            return Some(c);
        }
    }
    None
}

#[test]
fn sqs_expired_claims_come_back_and_released_ones_at_once() {
    let Some(opts) = server() else { return };
    let q = sqs(&opts, &format!("sqs://{}", unique("vis")));
    let id = ids(1);
    q.publish(QueueName::Standard, &msgs(&id)).unwrap();
    let dead = q.claim(&[QueueName::Standard], Duration::from_secs(1)).unwrap().unwrap();
    assert_eq!(depth(&q, "standard"), (0, 1, 0));
    // the consumer "died": after its 1 s visibility timeout SQS gives the message out again
    let back = claim_within(&q, &[QueueName::Standard], Duration::from_secs(30)).expect("expired claim returns");
    assert_eq!(back.message, dead.message);
    assert!(q.requeue_stale().unwrap().is_empty(), "nothing to do: SQS requeues by itself");
    q.release(&back).unwrap();
    let third = q.claim(&[QueueName::Standard], VIS).unwrap().expect("released message is visible at once");
    assert_eq!(third.message, dead.message);
    q.ack(&third).unwrap();
    assert_eq!(depth(&q, "standard"), (0, 0, 0));
}

#[test]
fn sqs_missing_queue_is_an_error_naming_it_unless_created() {
    let Some(opts) = server() else { return };
    let prefix = unique("missing");
    let strict = RemoteOptions { create: false, ..opts.clone() };
    let e = crashctl::queue::open_with(&format!("sqs://{prefix}"), true, &strict).err().unwrap();
    let e = format!("{e:#}");
    assert!(e.contains(&format!("{prefix}-priority")) && e.contains("--create-queues"), "{e}");
    let made = sqs(&opts, &format!("sqs://{prefix}"));
    assert_eq!(made.queue_name(QueueName::Reprocessing), format!("{prefix}-reprocessing"));
    let reopened = sqs(&strict, &format!("sqs://{prefix}"));
    assert_eq!(reopened.queue_name(QueueName::Standard), format!("{prefix}-standard"));
}

/// The queue URL moto gives a queue name (account 123456789012).
fn queue_url(opts: &RemoteOptions, name: &str) -> String {
    format!("{}/123456789012/{name}", opts.endpoint_url.as_deref().unwrap().trim_end_matches('/'))
}

#[test]
fn sqs_explicit_queue_urls_reach_the_same_queues() {
    let Some(opts) = server() else { return };
    let prefix = unique("urls");
    let by_prefix = sqs(&opts, &format!("sqs://{prefix}"));
    let url = |q: &str| queue_url(&opts, &format!("{prefix}-{q}"));
    let location = format!(
        "sqs://?standard={}&priority={}&reprocessing={}",
        url("standard"),
        url("priority"),
        url("reprocessing")
    );
    let strict = RemoteOptions { create: false, ..opts.clone() };
    let by_url = sqs(&strict, &location);
    let id = ids(1);
    by_url.publish(QueueName::Priority, &msgs(&id)).unwrap();
    let c = by_prefix.claim(&QueueName::ALL, VIS).unwrap().unwrap();
    assert_eq!((c.queue, &c.message.id), (QueueName::Priority, &id[0]));
    by_url.fail(&c, "boom").unwrap(); // the dead-letter queue found from the URL: NAME-failed
    assert_eq!(by_prefix.failed().unwrap()[0].error, "boom");
    let e = SqsQueue::open(&format!("sqs://?standard={}x&priority={0}&reprocessing={0}", url("standard")), &strict);
    let e = format!("{:#}", e.unwrap_err());
    assert!(e.contains(&format!("{prefix}-standardx")) && e.contains("does not exist"), "{e}");
}

#[test]
fn backends_work_from_plain_threads_and_from_spawn_blocking() {
    let Some(opts) = server() else { return };
    let store: Arc<dyn CrashStore> = Arc::new(s3(&opts, &format!("s3://{}", unique("threads"))));
    let queue: Arc<dyn CrashQueue> = Arc::new(sqs(&opts, &format!("sqs://{}", unique("threads"))));
    let all = ids(16);
    // the mover's way: a pool of plain threads
    std::thread::scope(|s| {
        for chunk in all[..8].chunks(2) {
            let (store, queue) = (&store, &queue);
            s.spawn(move || {
                for id in chunk {
                    store.put_crash(&sample_crash(id)).unwrap();
                    queue.publish(QueueName::Standard, &msgs(std::slice::from_ref(id))).unwrap();
                }
            });
        }
    });
    // the collector's way: spawn_blocking inside its own tokio runtime
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = all[8..]
            .iter()
            .cloned()
            .map(|id| {
                let (store, queue) = (store.clone(), queue.clone());
                tokio::task::spawn_blocking(move || {
                    store.put_crash(&sample_crash(&id)).unwrap();
                    queue.publish(QueueName::Standard, &[Message::new(id)]).unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    drop(rt);
    let mut want = all.clone();
    want.sort();
    assert_eq!(store.list_raw(all[0].date()).unwrap().ids, want);
    assert_eq!(depth(queue.as_ref(), "standard").0, 16);
}

/// The environment that points the `crashctl` binary at the S3+SQS server of `opts`
/// (`cmd.envs(remote_env(&opts))`; add `--create-bucket` / `--create-queues` as needed).
#[allow(dead_code)] // for the whole-pipeline tests, once the stages open remote backends
pub fn remote_env(opts: &RemoteOptions) -> Vec<(&'static str, String)> {
    let url = opts.endpoint_url.clone().expect("an endpoint");
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    vec![
        ("AWS_ENDPOINT_URL", url),
        ("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID", "test")),
        ("AWS_SECRET_ACCESS_KEY", var("AWS_SECRET_ACCESS_KEY", "test")),
        ("AWS_REGION", var("AWS_REGION", "us-east-1")),
        ("AWS_MAX_ATTEMPTS", "2".to_string()),
    ]
}

/// A moto server of our own on a free port, stopped on drop.
pub struct OwnServer {
    exe: String,
    port: u16,
    child: Option<Child>,
}

impl OwnServer {
    pub fn start() -> Option<OwnServer> {
        let exe = std::env::var("CRASHCTL_TEST_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = OwnServer { exe, port, child: None };
        if let Err(e) = s.spawn() {
            skip(&format!("cannot run {} ({e}); set CRASHCTL_TEST_MOTO_SERVER or put moto_server on PATH", s.exe));
            return None;
        }
        Some(s)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Starts the server and waits (bounded) until it accepts connections.
    pub fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new(&self.exe)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < end, "moto_server on port {} did not start within 60 s", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stops the server and waits until the port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let end = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
            assert!(Instant::now() < end, "moto_server on port {} still answers after kill", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn server_going_away_gives_clear_errors_and_a_retry_succeeds() {
    if server().is_none() {
        return;
    }
    let Some(mut own) = OwnServer::start() else { return };
    let opts = options(own.url());
    let (bucket, prefix) = (unique("away"), unique("away"));
    let store = s3(&opts, &format!("s3://{bucket}"));
    let queue = sqs(&opts, &format!("sqs://{prefix}"));
    let (before, during) = (new_id(Throttle::Accept), new_id(Throttle::Accept));
    store.put_crash(&sample_crash(&before)).unwrap();
    queue.publish(QueueName::Standard, &msgs(std::slice::from_ref(&before))).unwrap();

    own.stop();
    let e = store.put_crash(&sample_crash(&during)).unwrap_err().to_string();
    eprintln!("S3 error while the server is down: {e}");
    assert!(e.contains(&format!("s3://{bucket}/v1/")) && e.contains(during.as_str()), "names the key: {e}");
    assert!(e.to_lowercase().contains("connect") || e.contains("dispatch"), "says why: {e}");
    let e = queue.publish(QueueName::Standard, &msgs(std::slice::from_ref(&during))).unwrap_err().to_string();
    eprintln!("SQS error while the server is down: {e}");
    assert!(e.contains(&format!("{prefix}-standard")), "names the queue: {e}");
    let e = store.get_raw_crash(&before).unwrap_err();
    assert_eq!(e.name(), "backend_error", "an unreachable server is not a missing crash: {e}");

    // back (moto keeps nothing in memory across restarts: make the bucket and queues again)
    own.spawn().unwrap();
    s3(&opts, &format!("s3://{bucket}"));
    sqs(&opts, &format!("sqs://{prefix}"));
    store.put_crash(&sample_crash(&during)).unwrap();
    queue.publish(QueueName::Standard, &msgs(std::slice::from_ref(&during))).unwrap();
    assert!(store.has_raw(&during).unwrap());
    let c = queue.claim(&[QueueName::Standard], VIS).unwrap().unwrap();
    assert_eq!(c.message.id, during);
    queue.ack(&c).unwrap();
    own.stop();
}

#[test]
fn sqs_uses_an_existing_redrive_policy_target_as_the_dead_letter_queue() {
    use aws_sdk_sqs::types::QueueAttributeName as Attr;
    let Some(opts) = server() else { return };
    let prefix = unique("redrive");
    let sdk = aws_sdk_sqs::Client::new(&crashctl::remote::sdk_config(&opts));
    let (dlq, arn) = crashctl::remote::block_on(async {
        let dlq = sdk.create_queue().queue_name(format!("{prefix}-dlq")).send().await.unwrap();
        let dlq = dlq.queue_url().unwrap().to_string();
        let attrs = sdk.get_queue_attributes().queue_url(&dlq).attribute_names(Attr::QueueArn).send().await.unwrap();
        let arn = attrs.attributes().unwrap()[&Attr::QueueArn].clone();
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": "2"}).to_string();
        let main = sdk.create_queue().queue_name(format!("{prefix}-standard")).attributes(Attr::RedrivePolicy, policy);
        main.send().await.unwrap();
        (dlq, arn)
    });
    assert!(arn.ends_with(&format!(":{prefix}-dlq")), "{arn}");
    let q = sqs(&opts, &format!("sqs://{prefix}"));
    let id = ids(2);
    q.publish(QueueName::Standard, &msgs(&id[..1])).unwrap();
    let c = q.claim(&[QueueName::Standard], VIS).unwrap().unwrap();
    q.fail(&c, "bad dump").unwrap();
    let count = |url: &str| {
        let req = sdk.get_queue_attributes().queue_url(url).attribute_names(Attr::ApproximateNumberOfMessages);
        let attrs = crashctl::remote::block_on(req.send()).unwrap();
        attrs.attributes().unwrap()[&Attr::ApproximateNumberOfMessages].parse::<u32>().unwrap()
    };
    assert_eq!(count(&dlq), 1, "failed into the redrive target, not {prefix}-standard-failed");
    let missing =
        crashctl::remote::block_on(sdk.get_queue_url().queue_name(format!("{prefix}-standard-failed")).send());
    assert!(missing.is_err(), "no -failed queue made for a queue with a redrive policy");
    assert_eq!(q.failed().unwrap()[0].error, "bad dump");

    // a consumer that keeps dying: SQS itself moves the message after maxReceiveCount (2)
    q.publish(QueueName::Standard, &msgs(&id[1..])).unwrap();
    let mut receives = 0;
    while q.claim(&[QueueName::Standard], Duration::ZERO).unwrap().is_some() {
        receives += 1;
        assert!(receives <= 5, "the redrive policy should have moved the message");
    }
    assert_eq!(receives, 2);
    let failed = q.failed().unwrap();
    assert_eq!(failed.len(), 2, "listing dead letters leaves them there: {failed:?}");
    let redriven = failed.iter().find(|f| f.body == id[1].as_str()).expect("the redriven message");
    assert!(redriven.error.contains("redrive policy"), "{}", redriven.error);
}

#[test]
fn s3_bucket_gone_is_an_error_not_a_missing_crash() {
    let Some(opts) = server() else { return };
    let bucket = unique("gone");
    let store = s3(&opts, &format!("s3://{bucket}"));
    let id = new_id(Throttle::Accept);
    assert!(store.get_raw_crash(&id).unwrap_err().is_not_found(), "a missing crash in a bucket that is there");
    let sdk = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&crashctl::remote::sdk_config(&opts)).force_path_style(true).build(),
    );
    crashctl::remote::block_on(sdk.delete_bucket().bucket(&bucket).send()).unwrap();
    let e = store.get_raw_crash(&id).unwrap_err();
    assert_eq!(e.name(), "backend_error", "{e}");
    assert!(e.to_string().contains("NoSuchBucket"), "{e}");
    assert!(!e.is_not_found());
}
