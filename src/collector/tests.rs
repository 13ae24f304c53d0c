//! Unit tests of [`Collector::handle`] over a temporary spool (and a directory store + queue sink).

use super::*;
use crate::crash::{Crash, CrashId, Throttle};
use crate::spool::Spool;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use parse::tests::{TestPart, B};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

fn request(fields: &[(&str, &str)], dumps: &[(&str, &[u8])]) -> (HeaderMap, Bytes) {
    let mut parts: Vec<TestPart> = fields.iter().map(|(k, v)| (*k, None, None, v.as_bytes())).collect();
    parts.extend(dumps.iter().map(|(n, d)| (*n, Some("f.dmp"), Some("application/octet-stream"), *d)));
    let body = parse::tests::body(&parts);
    let mut h = parse::tests::headers(Some(&format!("multipart/form-data; boundary={B}")), body.len(), false);
    h.insert(USER_AGENT, HeaderValue::from_static("test-agent/1"));
    (h, body.into())
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 6, 30, 5).unwrap()
}

fn collector(opts: CollectorOptions) -> (tempfile::TempDir, Collector) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path().join("spool"), true).unwrap().without_fsync();
    (dir, Collector::new(spool, opts))
}

fn saved(c: &Collector) -> Vec<Crash> {
    let spool = c.spool().unwrap();
    spool.iter().map(|e| spool.load(&e.unwrap()).unwrap()).collect()
}

#[test]
fn accepted_crash_is_saved_with_metadata() {
    let (_d, c) = collector(CollectorOptions::default());
    let (h, body) = request(
        &[("ProductName", "Firefox"), ("Email", "me@example.com"), ("TelemetrySessionId", "s")],
        &[("upload_file_minidump", b"MDMP main"), ("memory_report", b"mem")],
    );
    let size = body.len() as u64;
    let a = c.handle(&h, body, at());
    assert_eq!(a.status, 200);
    let id = a.record.id.clone().unwrap();
    assert_eq!(a.body, format!("CrashID=bp-{id}\n"));
    assert_eq!(id.throttle(), Some(Throttle::Accept));
    assert!(id.as_str().ends_with("261126"));
    let crashes = saved(&c);
    assert_eq!(crashes.len(), 1);
    let raw = &crashes[0].raw;
    assert_eq!(raw["ProductName"], "Firefox");
    assert!(!raw.contains_key("Email") && !raw.contains_key("TelemetrySessionId"));
    assert_eq!(raw["uuid"], id.as_str());
    assert_eq!(raw["version"], 2);
    assert_eq!(raw["submitted_timestamp"], "2026-11-26T06:30:05.000000+00:00");
    let md = &raw["metadata"];
    assert_eq!(md["payload"], "multipart");
    assert_eq!(md["payload_compressed"], "0");
    assert_eq!(md["payload_size"], size);
    assert_eq!(md["user_agent"], "test-agent/1");
    assert_eq!(md["throttle_rule"], "accept_everything");
    assert_eq!(
        md["collector_notes"],
        json!(["Removed Email from raw crash.", "Removed TelemetrySessionId from raw crash."])
    );
    assert_eq!(md["dump_checksums"]["upload_file_minidump"], hex::encode(Sha256::digest(b"MDMP main")));
    assert_eq!(crashes[0].dump("memory_report").unwrap().data.read().unwrap().as_ref(), b"mem");
    assert!(c.metrics.render().contains("crashctl_collector_accepted_total 1\n"));
    assert_eq!(
        a.record.to_string(),
        format!("crash {id} accept size={size} dumps=upload_file_minidump,memory_report rule=accept_everything")
    );
}

#[test]
fn client_metadata_is_replaced() {
    let (_d, c) = collector(CollectorOptions::default());
    let (h, body) = request(&[("ProductName", "Firefox"), ("metadata", "client junk")], &[]);
    assert_eq!(c.handle(&h, body, at()).status, 200);
    assert_eq!(saved(&c)[0].raw["metadata"]["throttle_rule"], "accept_everything");
}

fn rules(text: &str) -> CollectorOptions {
    CollectorOptions { throttler: Throttler::parse(text, false).unwrap(), ..CollectorOptions::default() }
}

#[test]
fn throttle_results() {
    let (_d, c) = collector(rules(
        "[[rule]]\nname = \"no_b\"\nkey = \"P\"\nequals = \"b\"\nresult = \"reject\"\n\
         [[rule]]\nname = \"later\"\nkey = \"P\"\nequals = \"d\"\nresult = \"defer\"\n\
         [[rule]]\nname = \"pretend\"\nkey = \"P\"\nequals = \"f\"\nresult = \"fakeaccept\"\n",
    ));
    let send = |p: &str| {
        let (h, body) = request(&[("P", p)], &[]);
        c.handle(&h, body, at())
    };
    let r = send("b");
    assert_eq!((r.status, r.body.as_str()), (200, "Discarded=rule_no_b"));
    let r = send("x");
    assert_eq!((r.status, r.body.as_str()), (200, "Discarded=rule_NO_MATCH"));
    let fake = send("f");
    assert!(fake.body.starts_with("CrashID=bp-"));
    assert_eq!(fake.record.id.unwrap().throttle(), Some(Throttle::FakeAccept));
    assert!(saved(&c).is_empty(), "rejected and fake-accepted crashes are not saved");
    let defer = send("d");
    let id = defer.record.id.unwrap();
    assert_eq!(id.throttle(), Some(Throttle::Defer));
    assert_eq!(saved(&c).iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![id]);
}

#[test]
fn client_uuid_needs_the_bearer_token() {
    let opts = CollectorOptions { bearer_token: Some("s3cret".into()), ..CollectorOptions::default() };
    let (_d, c) = collector(opts);
    let wanted = "de1bb258-cbbf-4589-a673-34f800160918";
    let send = |uuid: &str, token: Option<&str>| {
        let (mut h, body) = request(&[("P", "x"), ("uuid", uuid)], &[]);
        if let Some(t) = token {
            h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
        }
        c.handle(&h, body, at())
    };
    let r = send(wanted, None);
    assert_eq!((r.status, r.body.as_str()), (401, "Discarded=unauthorized_uuid"));
    let r = send(wanted, Some("wrong"));
    assert_eq!(r.status, 401);
    let r = send("../../etc/passwd", Some("s3cret"));
    assert_eq!((r.status, r.body.as_str()), (400, "Discarded=malformed_invalid_uuid"));
    let r = send(wanted, Some("s3cret"));
    assert_eq!(r.body, format!("CrashID=bp-{wanted}\n"));
    assert_eq!(saved(&c)[0].id.as_str(), wanted);
    // no token configured: never
    let (_d2, open) = collector(CollectorOptions::default());
    let (mut h, body) = request(&[("P", "x"), ("uuid", wanted)], &[]);
    h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer anything"));
    assert_eq!(open.handle(&h, body, at()).status, 401);
}

#[test]
fn failed_save_answers_500_and_leaves_nothing() {
    let opts = CollectorOptions { save_retry_delay: Duration::ZERO, ..CollectorOptions::default() };
    let (d, c) = collector(opts);
    std::fs::write(d.path().join("spool/.tmp"), "a file where the temp directory belongs").unwrap();
    let (h, body) = request(&[("P", "x")], &[("upload_file_minidump", b"MDMP")]);
    let a = c.handle(&h, body, at());
    assert_eq!((a.status, a.body.as_str(), a.record.outcome.as_str()), (500, "", "save_failed"));
    assert!(saved(&c).is_empty());
    assert!(c.metrics.render().contains("crashctl_collector_save_errors_total 3\n"));
    assert!(!c.storage_errors().is_empty());
}

#[test]
fn malformed_is_counted() {
    let (_d, c) = collector(CollectorOptions::default());
    let (h, body) = request(&[], &[("upload_file_minidump", b"MDMP")]);
    let a = c.handle(&h, body, at());
    assert_eq!((a.status, a.body.as_str()), (400, "Discarded=malformed_no_annotations"));
    assert!(c.metrics.render().contains("reason=\"malformed_no_annotations\"} 1"));
}

#[test]
fn store_sink_saves_every_kept_crash_and_queues_only_accept() {
    use crate::queue::{CrashQueue, DirQueue, QueueName};
    use crate::store::{CrashStore, FsStore};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path().join("store"), true).unwrap());
    let queue = Arc::new(DirQueue::open(dir.path().join("queue"), true).unwrap());
    let sink = Sink::store(store.clone(), Some(queue.clone()));
    let opts = rules(
        "[[rule]]\nname = \"d\"\nkey = \"Defer\"\nresult = \"defer\"\n\
         [[rule]]\nname = \"f\"\nkey = \"Fake\"\nresult = \"fakeaccept\"\n\
         [[rule]]\nname = \"a\"\nkey = \"*\"\nresult = \"accept\"\n",
    );
    let c = Collector::with_sink(sink, opts);
    let mut ids = Vec::new();
    for extra in ["Other", "Defer", "Fake"] {
        let (h, body) = request(&[("ProductName", "Firefox"), (extra, "1")], &[("upload_file_minidump", b"MDMP")]);
        let a = c.handle(&h, body, at());
        assert_eq!((a.status, a.record.error.as_deref()), (200, None));
        ids.push(a.record.id.unwrap());
    }
    assert_eq!(store.get_crash(&ids[0]).unwrap().raw["uuid"], ids[0].as_str());
    assert!(store.has_raw(&ids[1]).unwrap(), "DEFER is stored");
    assert!(!store.has_raw(&ids[2]).unwrap(), "FAKEACCEPT is not");
    let claimed = queue.claim(&[QueueName::Standard], std::time::Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(claimed.message.id, ids[0]);
    assert_eq!(queue.claim(&[QueueName::Standard], std::time::Duration::from_secs(60)).unwrap(), None);
    assert!(c.metrics.render().contains("crashctl_collector_published_total 1\n"));
    assert!(c.spool().is_none() && c.storage_errors().is_empty());
}

/// Issue 12, defect 2: a part named `dump` (where `upload_file_minidump` is stored) replaced
/// the minidump in direct mode; `v1` (a layout word) hid a fetch-data store (defect 3).
#[test]
fn dump_names_that_collide_with_the_layout_are_refused() {
    let (_d, c) = collector(CollectorOptions::default());
    for (name, reason) in [
        ("dump", "malformed_dump_name_collision"),
        ("d-u-m-p", "malformed_dump_name_collision"),
        ("v1", "malformed_invalid_dump_name"),
        ("dump_names", "malformed_invalid_dump_name"),
    ] {
        let (h, body) = request(&[("P", "x")], &[("upload_file_minidump", b"MDMP main"), (name, b"other")]);
        let a = c.handle(&h, body, at());
        assert_eq!((a.status, a.body.as_str()), (400, format!("Discarded={reason}").as_str()), "{name}");
    }
    assert!(saved(&c).is_empty());
}

/// Issue 12: 5,000 tiny dumps in one request were accepted (5,000 folders under `v1/`).
#[test]
fn dumps_per_crash_are_capped() {
    let (_d, c) = collector(CollectorOptions { max_dumps: 3, ..CollectorOptions::default() });
    let names: Vec<String> = (0..4).map(|i| format!("d{i}")).collect();
    let dumps: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let (h, body) = request(&[("P", "x")], &dumps[..3]);
    assert_eq!(c.handle(&h, body, at()).status, 200);
    let (h, body) = request(&[("P", "x")], &dumps);
    let a = c.handle(&h, body, at());
    assert_eq!((a.status, a.body.as_str()), (400, "Discarded=malformed_too_many_dumps"));
    assert_eq!(saved(&c).len(), 1);
}

/// Issue 12: a part whose name is not UTF-8 was dropped with no note.
#[test]
fn a_part_with_an_undecodable_name_is_noted() {
    let (_d, c) = collector(CollectorOptions::default());
    let mut body = parse::tests::body(&[("P", None, None, b"x")]);
    let tail = format!("--{B}--\r\n");
    body.truncate(body.len() - tail.len());
    body.extend_from_slice(format!("--{B}\r\nContent-Disposition: form-data; name=\"").as_bytes());
    body.extend_from_slice(b"Bad\xff\"\r\n\r\nvalue\r\n");
    body.extend_from_slice(tail.as_bytes());
    let h = parse::tests::headers(Some(&format!("multipart/form-data; boundary={B}")), body.len(), false);
    assert_eq!(c.handle(&h, body.into(), at()).status, 200);
    let notes = saved(&c)[0].raw["metadata"]["collector_notes"].clone();
    assert_eq!(notes, json!(["a part has an undecodable name; dropped"]));
}

/// Issue 12: with the token, a client could overwrite a stored crash in direct mode, and pick
/// throttle digits 2-9.
#[test]
fn a_client_crash_id_never_overwrites_and_its_digit_is_checked() {
    use crate::store::{CrashStore, FsStore};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path().join("store"), true).unwrap());
    let opts = CollectorOptions { bearer_token: Some("s3cret".into()), ..CollectorOptions::default() };
    let c = Collector::with_sink(Sink::store(store.clone(), None), opts);
    let send = |uuid: &str, value: &str| {
        let (mut h, body) = request(&[("P", value), ("uuid", uuid)], &[]);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        c.handle(&h, body, at())
    };
    let wanted = "de1bb258-cbbf-4589-a673-34f800160918";
    assert_eq!(send(wanted, "first").status, 200);
    let again = send(wanted, "second");
    assert_eq!((again.status, again.body.as_str()), (409, "Discarded=uuid_exists"));
    let id = CrashId::parse_lax(wanted).unwrap();
    assert_eq!(store.get_raw_crash(&id).unwrap()["P"], "first", "the stored crash is untouched");
    for digit in 2..=9 {
        let uuid = format!("de1bb258-cbbf-4589-a673-34f80{digit}160918");
        let a = send(&uuid, "x");
        assert_eq!((a.status, a.body.as_str()), (400, "Discarded=malformed_invalid_uuid"), "digit {digit}");
    }
    assert_eq!(send("de1bb258-cbbf-4589-a673-34f801160918", "deferred").status, 200, "1 (defer) is allowed");
}

/// Issue 12: gzip bodies inflating to 99 MB each, 8 at once, took the collector to 2.66 GB.
/// Inflated bytes are charged to the memory budget: past it, 503 (and the budget comes back).
#[test]
fn inflated_bodies_are_charged_to_the_memory_budget() {
    use std::io::Write;
    let (_d, c) = collector(CollectorOptions { max_memory: 1 << 20, ..CollectorOptions::default() });
    let big = vec![b'a'; 2 << 20];
    let raw = parse::tests::body(&[("P", None, None, &big)]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).unwrap();
    let gz = enc.finish().unwrap();
    let h = parse::tests::headers(Some(&format!("multipart/form-data; boundary={B}")), gz.len(), true);
    let a = c.handle(&h, gz.into(), at());
    assert_eq!((a.status, a.body.as_str(), a.record.outcome.as_str()), (503, "", "busy"));
    assert_eq!(c.budget().in_use(), 0, "given back");
    let (h, body) = request(&[("P", "small")], &[]);
    assert_eq!(c.handle(&h, body, at()).status, 200);
}
