//! Unit tests of [`Collector::handle`] over a temporary spool.

use super::*;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::HeaderValue;
use chrono::TimeZone;
use parse::tests::{TestPart, B};

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
    c.spool().iter().map(|e| c.spool().load(&e.unwrap()).unwrap()).collect()
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
