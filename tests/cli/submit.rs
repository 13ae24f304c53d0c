//! `crashctl submit`: against the real `crashctl collect` on 127.0.0.1, into a local spool,
//! and from stores and fetch-data folders.

use crashctl::crash::{CrashId, DumpData, DumpName, Throttle};
use crashctl::store::{CrashStore, FsStore, Layout};

use crate::collect::{file, files_under, sha256, Server};
use crate::common::*;

fn submit(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut all = vec!["submit"];
    all.extend_from_slice(args);
    env.cmd(&all).env_remove("CRASHCTL_BEARER_TOKEN").output().unwrap()
}

#[test]
fn multidump_with_annotations_from_files_and_pairs() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let main = file(&env, "crash.dmp", b"MDMP main");
    let mem = file(&env, "memory.json.gz", b"memory report");
    let ann = file(&env, "extra.json", br#"{"ProductName":"Thunderbird","Version":"1.0","Email":"me@example.com"}"#);
    let o = submit(
        &env,
        &[
            &server.url,
            "--dump",
            &main,
            "--dump",
            &format!("memory_report={mem}"),
            "--annotations",
            &ann,
            "ProductName=Firefox",
            "--format",
            "json",
        ],
    );
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["status"], "accepted");
    assert_eq!(r["http_status"], 200);
    assert!(r["latency_ms"].as_f64().unwrap() > 0.0);
    let id = r["crash_id"].as_str().unwrap();
    assert_eq!(r["body"], format!("CrashID=bp-{id}"));
    let c = &server.spooled()[0];
    assert_eq!(c.id.as_str(), id);
    assert_eq!(c.raw["ProductName"], "Firefox", "KEY=VALUE wins over the file");
    assert_eq!(c.raw["Version"], "1.0");
    assert!(!c.raw.contains_key("Email"));
    assert_eq!(c.raw["metadata"]["dump_checksums"]["upload_file_minidump"], sha256(b"MDMP main"));
    assert_eq!(c.raw["metadata"]["dump_checksums"]["memory_report"], sha256(b"memory report"));
    assert!(c.raw["metadata"]["user_agent"].as_str().unwrap().starts_with("crashctl/"));
    assert!(stderr(&o).contains("1 accepted, 0 discarded, 0 failed"), "{}", stderr(&o));
    // text output: one CrashID line
    let o = submit(&env, &[&server.url, "--dump", &main, "ProductName=Firefox"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.starts_with("CrashID=bp-") && out.lines().count() == 1, "{out}");
}

#[test]
fn hostile_and_reserved_dump_names() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let dump = file(&env, "d.dmp", b"MDMP");
    let o = submit(&env, &[&server.url, "--dump", &format!("../../etc/passwd={dump}"), "P=x"]);
    assert_code(&o, 0);
    let c = &server.spooled()[0];
    assert_eq!(c.dump_names(), vec![DumpName::parse("etcpasswd").unwrap()]);
    for f in files_under(&env.spool()) {
        assert!(!f.contains(".."), "{f}");
    }
    assert!(!env.path("etc").exists());
    let o = submit(&env, &[&server.url, "--dump", &format!("raw_crash={dump}"), "P=x"]);
    assert_code(&o, 1);
    assert_eq!(stdout(&o).trim(), "Discarded=malformed_invalid_dump_name");
    assert!(stderr(&o).contains("malformed_invalid_dump_name: 1"), "{}", stderr(&o));
    let o = submit(&env, &[&server.url, "--dump", &format!("raw_crash={dump}"), "P=x", "--allow-rejected"]);
    assert_code(&o, 0);
    // no annotations at all is malformed too, and a 4xx is never retried
    let o = submit(&env, &[&server.url, "--dump", &dump, "--retries", "5", "--format", "json"]);
    assert_code(&o, 1);
    let r = &json_lines(&o)[0];
    assert_eq!(
        (r["status"].as_str(), r["reason"].as_str(), r["attempts"].as_u64()),
        (Some("discarded"), Some("malformed_no_annotations"), Some(1))
    );
    assert_eq!(server.metric("crashctl_collector_rejected_total{reason=\"malformed_no_annotations\"}"), 1.0);
}

#[test]
fn gzip_and_json_extra() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let dump = file(&env, "d.dmp", &[42u8; 5000]);
    let o = submit(&env, &[&server.url, "--dump", &dump, "--gzip", "--json-extra", "ProductName=Firefox", "BuildID=1"]);
    assert_code(&o, 0);
    let c = &server.spooled()[0];
    let md = &c.raw["metadata"];
    assert_eq!((md["payload"].as_str(), md["payload_compressed"].as_str()), (Some("json"), Some("1")));
    assert!(md["payload_size"].as_u64().unwrap() < 1000, "compressed as sent: {md}");
    assert_eq!(c.raw["BuildID"], "1");
    assert_eq!(md["dump_checksums"]["upload_file_minidump"], sha256(&[42u8; 5000]));
}

#[test]
fn over_the_body_limit_is_413_and_not_retried() {
    let env = TestEnv::new();
    let server = Server::start(&env, &["--max-body-size", "4K"]);
    let dump = file(&env, "big.dmp", &[1u8; 8192]);
    let o = submit(&env, &[&server.url, "--dump", &dump, "P=x", "--format", "json", "--allow-rejected"]);
    assert_code(&o, 1);
    let r = &json_lines(&o)[0];
    assert_eq!(
        (r["status"].as_str(), r["http_status"].as_u64(), r["attempts"].as_u64()),
        (Some("failed"), Some(413), Some(1))
    );
    assert!(server.spooled().is_empty());
}

#[test]
fn retries_5xx_then_reports_the_failure() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    std::fs::create_dir_all(env.spool()).unwrap();
    let _ = std::fs::remove_dir_all(env.spool().join(".tmp"));
    std::fs::write(env.spool().join(".tmp"), "not a directory").unwrap();
    let o = submit(&env, &[&server.url, "P=x", "--retries", "2", "--retry-delay", "10ms", "--format", "json"]);
    assert_code(&o, 1);
    let r = &json_lines(&o)[0];
    assert_eq!(
        (r["status"].as_str(), r["reason"].as_str(), r["attempts"].as_u64()),
        (Some("failed"), Some("http_500"), Some(3))
    );
    // three requests, each saved three times by the collector
    assert_eq!(server.metric("crashctl_collector_save_errors_total"), 9.0);
    // nothing listening: connection errors are retried too
    let o = submit(&env, &["http://127.0.0.1:9", "P=x", "--retries", "1", "--retry-delay", "1ms", "--format", "json"]);
    assert_code(&o, 1);
    let r = &json_lines(&o)[0];
    assert_eq!(r["attempts"], 2);
    assert!(r["reason"].as_str().unwrap().starts_with("connection:"), "{r}");
}

#[test]
fn throttled_crashes_and_allow_rejected() {
    let env = TestEnv::new();
    let rules = file(&env, "rules.json", br#"{"rule": [{"name": "no_b", "key": "P", "equals": "b", "result": "reject"}, {"name": "rest", "key": "*", "result": "accept"}]}"#);
    let server = Server::start(&env, &["--throttle-rules", &rules]);
    let o = submit(&env, &[&server.url, "P=b"]);
    assert_code(&o, 1);
    assert_eq!(stdout(&o).trim(), "Discarded=rule_no_b");
    assert_code(&submit(&env, &[&server.url, "P=b", "--allow-rejected"]), 0);
    assert_code(&submit(&env, &[&server.url, "P=a"]), 0);
    assert_eq!(server.spooled().len(), 1);
}

#[test]
fn repeat_with_concurrency_and_rate() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let dump = file(&env, "d.dmp", b"MDMP");
    let o = submit(
        &env,
        &[&server.url, "--dump", &dump, "P=x", "--repeat", "6", "-j", "3", "--rate", "1000", "--format", "json"],
    );
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 6);
    let mut idx: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    idx.sort();
    assert_eq!(idx, [0, 1, 2, 3, 4, 5]);
    assert_eq!(server.spooled().len(), 6);
    let err = stderr(&o);
    assert!(err.contains("submitted 6 crashes") && err.contains("6 accepted") && err.contains("p99"), "{err}");
}

#[test]
fn bearer_token_chooses_the_crash_id_and_is_never_printed() {
    let env = TestEnv::new();
    let token = "sup3r-s3cret-t0ken";
    let mut server = Server::start_with(&env, &[], &[("CRASHCTL_BEARER_TOKEN", token)]);
    let wanted = "de1bb258-cbbf-4589-a673-34f800160918";
    let uuid = format!("uuid={wanted}");
    let o = submit(&env, &[&server.url, "P=x", &uuid]);
    assert_code(&o, 1);
    assert_eq!(stdout(&o).trim(), "Discarded=unauthorized_uuid");
    let o = env.cmd(&["submit", &server.url, "P=x", &uuid]).env("CRASHCTL_BEARER_TOKEN", token).output().unwrap();
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), format!("CrashID=bp-{wanted}"));
    let o = submit(&env, &[&server.url, "P=x", "uuid=nope", "--bearer-token", token, "--format", "json"]);
    assert_eq!(json_lines(&o)[0]["reason"], "malformed_invalid_uuid");
    assert!(!stdout(&o).contains(token) && !stderr(&o).contains(token));
    let help = submit(&env, &["--help"]);
    assert!(!stdout(&help).contains(token));
    server.stop();
    assert!(!server.log.join("\n").contains(token));
    assert_eq!(server.spooled()[0].id.as_str(), wanted);
}

#[test]
fn into_a_spool_directory_as_the_collector_writes() {
    let env = TestEnv::new();
    let dump = file(&env, "d.dmp", b"MDMP spool");
    let spool = env.spool();
    let o = submit(&env, &[spool.to_str().unwrap(), "--dump", &dump, "ProductName=Firefox", "Email=x", "--gzip"]);
    assert_code(&o, 0);
    let id = stdout(&o).trim().trim_start_matches("CrashID=bp-").to_string();
    let sp = crashctl::spool::Spool::open(&spool, false).unwrap();
    let entries: Vec<_> = sp.iter().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 1);
    let c = sp.load(&entries[0]).unwrap();
    assert_eq!(c.id.as_str(), id);
    assert!(!c.raw.contains_key("Email"));
    let md = &c.raw["metadata"];
    assert_eq!(md["payload_compressed"], "1");
    assert_eq!(md["throttle_rule"], "accept_everything");
    assert_eq!(md["dump_checksums"]["upload_file_minidump"], sha256(b"MDMP spool"));
    assert_eq!(md["collector_notes"], serde_json::json!(["Removed Email from raw crash."]));
    assert!(c.raw["submitted_timestamp"].as_str().unwrap().ends_with("+00:00"));
    // a saved raw crash sent again: annotations kept, the collector's fields made afresh
    let raw = entries[0].path.join("raw_crash.json");
    let o =
        submit(&env, &[spool.to_str().unwrap(), "--raw-crash", raw.to_str().unwrap(), "Version=2", "--format", "json"]);
    assert_code(&o, 0);
    let again = json_lines(&o)[0]["crash_id"].as_str().unwrap().to_string();
    assert_ne!(again, id);
    let c = sp.iter().map(Result::unwrap).map(|e| sp.load(&e).unwrap()).find(|c| c.id.as_str() == again).unwrap();
    assert_eq!((c.raw["ProductName"].as_str(), c.raw["Version"].as_str()), (Some("Firefox"), Some("2")));
    assert_eq!(c.raw["uuid"], again.as_str());
    assert_eq!(c.raw["metadata"]["payload_compressed"], "0");
    assert_eq!(c.raw["metadata"]["collector_notes"], serde_json::json!([]));
}

fn stored_crash(t: Throttle) -> crashctl::crash::Crash {
    let id: CrashId = new_id(t);
    let mut c = sample_crash(&id);
    c.raw.insert("metadata".into(), serde_json::json!({"collector_notes": ["old"]}));
    c.raw.insert("submitted_timestamp".into(), "2026-01-01T00:00:00+00:00".into());
    c.add_dump(
        DumpName::parse("upload_file_minidump_browser").unwrap(),
        DumpData::Bytes(bytes::Bytes::from_static(b"MDMP browser")),
    );
    c.add_dump(DumpName::parse("memory_report").unwrap(), DumpData::Bytes(bytes::Bytes::from_static(b"mem")));
    c
}

#[test]
fn from_a_v1_store_and_a_fetch_data_folder() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    for layout in [Layout::V1, Layout::FetchData] {
        let root = env.path(&format!("store-{layout:?}"));
        let store = FsStore::with_layout(root.clone(), layout);
        let a = stored_crash(Throttle::Accept);
        let b = stored_crash(Throttle::Accept);
        store.put_crash(&a).unwrap();
        store.put_crash(&b).unwrap();
        assert_eq!(FsStore::open(&root, false).unwrap().layout(), layout);
        let root_s = root.to_str().unwrap();
        // all crashes when no IDs are given
        let o = submit(&env, &[&server.url, "--from-store", root_s, "--format", "json", "Extra=added"]);
        assert_code(&o, 0);
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 2);
        let mut sources: Vec<&str> = lines.iter().map(|l| l["source"].as_str().unwrap()).collect();
        sources.sort();
        let mut want = vec![a.id.as_str(), b.id.as_str()];
        want.sort();
        assert_eq!(sources, want);
        // one crash by bp- ID: dumps come back under their real names, collector fields are new
        let o = submit(&env, &[&server.url, "--from-store", root_s, &format!("bp-{}", a.id)]);
        assert_code(&o, 0);
        let new_id = stdout(&o).trim().trim_start_matches("CrashID=bp-").to_string();
        assert_ne!(new_id, a.id.as_str());
        let c = server.spooled().into_iter().find(|c| c.id.as_str() == new_id).unwrap();
        let mut names: Vec<String> = c.dump_names().iter().map(|n| n.to_string()).collect();
        names.sort();
        assert_eq!(names, ["memory_report", "upload_file_minidump", "upload_file_minidump_browser"], "{layout:?}");
        assert_eq!(c.raw["ProductName"], "Firefox");
        assert_eq!(c.raw["uuid"], new_id.as_str());
        assert_eq!(c.raw["metadata"]["throttle_rule"], "accept_everything");
        assert_eq!(c.raw["metadata"]["collector_notes"], serde_json::json!([]));
        assert_eq!(c.raw["metadata"]["dump_checksums"]["upload_file_minidump_browser"], sha256(b"MDMP browser"));
    }
    // an unknown crash ID fails that crash only
    let root = env.path("store-V1");
    let missing = new_id(Throttle::Accept);
    let o = submit(&env, &[&server.url, "--from-store", root.to_str().unwrap(), missing.as_str(), "--format", "json"]);
    assert_code(&o, 1);
    let r = &json_lines(&o)[0];
    assert_eq!(r["status"], "failed");
    assert!(r["reason"].as_str().unwrap().contains(missing.as_str()), "{r}");
}

#[test]
fn usage_errors() {
    let env = TestEnv::new();
    assert_code(&submit(&env, &["http://127.0.0.1:9", "not-a-pair"]), 2);
    assert_code(&submit(&env, &["http://127.0.0.1:9", "--dump", "x=", "P=1"]), 2);
    let o = submit(&env, &["http://127.0.0.1:9", "--dump", "/no/such/file.dmp", "P=1"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("/no/such/file.dmp"), "{}", stderr(&o));
    // a URL without its scheme is not taken for a spool directory
    let o = submit(&env, &["localhost:8000", "P=1"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("http://localhost:8000"), "{}", stderr(&o));
    assert!(!env.path("localhost:8000").exists());
}

/// A stand-in server (the real collector never answers 429): answers each request in turn
/// with the given raw responses, reading every request whole first.
fn scripted_server(responses: Vec<&'static str>) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        for response in responses {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            reader.get_mut().write_all(response.as_bytes()).unwrap();
            served += 1;
        }
        served
    });
    (url, handle)
}

#[test]
fn retry_after_is_honoured() {
    let env = TestEnv::new();
    let (url, server) = scripted_server(vec![
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 48\r\nConnection: close\r\n\r\nCrashID=bp-de1bb258-cbbf-4589-a673-34f800160918\n",
    ]);
    // Without Retry-After the first retry would wait an hour (and the deadline below would fail).
    let mut child = env
        .cmd(&["submit", &url, "P=x", "--retry-delay", "1h", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("submit did not honour Retry-After: 0");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 0);
    let r = &json_lines(&o)[0];
    assert_eq!((r["status"].as_str(), r["attempts"].as_u64()), (Some("accepted"), Some(3)));
    assert_eq!(r["crash_id"], "de1bb258-cbbf-4589-a673-34f800160918");
    assert_eq!(server.join().unwrap(), 3);
}

#[test]
fn generated_crashes_into_a_running_collector() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let o = submit(&env, &[&server.url, "--generate", "20", "--seed", "7", "-j", "4", "--gzip", "--format", "json"]);
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 20);
    assert!(lines.iter().all(|l| l["status"] == "accepted"), "{lines:?}");
    let mut ids: Vec<String> = lines.iter().map(|l| l["crash_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "20 different crashes");
    let crashes = server.spooled();
    assert_eq!(crashes.len(), 20);
    let mut spooled: Vec<String> = crashes.iter().map(|c| c.id.to_string()).collect();
    spooled.sort();
    assert_eq!(spooled, ids);
    for c in &crashes {
        let main = c.dumps.iter().find(|d| d.name.is_main()).expect("a main dump");
        assert!(main.data.read().unwrap().starts_with(b"MDMP"), "crash {} has a valid minidump", c.id);
        assert_eq!(c.raw["ProductName"], "Firefox");
        assert_eq!(c.raw["metadata"]["payload_compressed"], "1");
    }
    let builds: std::collections::BTreeSet<&str> = crashes.iter().filter_map(|c| c.raw["BuildID"].as_str()).collect();
    assert!(builds.len() > 1, "generated crashes vary");
}

#[test]
fn generated_crashes_are_the_same_for_a_seed_with_overrides_and_json_extra() {
    let env = TestEnv::new();
    let (a, b) = (env.path("a"), env.path("b"));
    for spool in [&a, &b] {
        let o =
            submit(&env, &[spool.to_str().unwrap(), "--generate", "3", "--seed", "11", "--json-extra", "Version=1.2"]);
        assert_code(&o, 0);
        assert_eq!(stdout(&o).lines().filter(|l| l.starts_with("CrashID=bp-")).count(), 3);
    }
    let dumps = |dir: &std::path::Path| {
        let spool = crashctl::spool::Spool::open(dir, false).unwrap();
        let mut v: Vec<Vec<u8>> = spool
            .iter()
            .map(|e| spool.load(&e.unwrap()).unwrap())
            .map(|c| {
                assert_eq!(c.raw["Version"], "1.2", "KEY=VALUE is set on every crash");
                assert_eq!(c.raw["metadata"]["payload"], "json");
                c.dumps[0].data.read().unwrap().into_owned()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(dumps(&a), dumps(&b));
    let o = submit(&env, &[a.to_str().unwrap(), "--generate", "1", "--dump", "x.dmp"]);
    assert_code(&o, 2);
}

#[test]
fn nothing_to_send_is_a_usage_error_and_nothing_is_posted() {
    // Regression: `submit URL` with nothing to send posted an empty crash.
    let env = TestEnv::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/submit", listener.local_addr().unwrap());
    let o = env.run(&["submit", &url]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("nothing to send"), "{}", stderr(&o));
    assert!(listener.accept().is_err(), "no connection was made");
    let spool = env.spool().display().to_string();
    assert_code(&env.run(&["submit", &spool]), 2);
    assert!(!env.spool().exists(), "no empty crash spooled");
}

#[test]
fn crash_id_lines_never_share_a_line_with_the_progress_bar_on_a_terminal() {
    // Regression: `submit --generate 600` on a terminal left stale progress-bar lines among the
    // `CrashID=` lines, and the bar's rate read `4.7842/s`.
    let env = TestEnv::new();
    let spool = env.spool().display().to_string();
    let Some(screen) = crate::stats::on_terminal(&env, &["submit", &spool, "--generate", "40"], true) else { return };
    let lines = regex::Regex::new("CrashID=").unwrap();
    assert_eq!(crate::stats::assert_never_after_a_bar(&screen, &lines), 40, "{screen}");
    let rates = regex::Regex::new(r"\d+\.\d{2,}/s").unwrap();
    assert!(!rates.is_match(&screen), "rates without noise digits: {screen}");
}
