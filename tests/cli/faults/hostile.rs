//! Issue 12 ("hostile and unlucky input, round two"): each defect as a user meets it, through
//! the real binary. The library-level regressions sit beside the code they guard.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A one-connection-at-a-time HTTP server on 127.0.0.1 answering every request with
/// `response` (until the test ends).
fn canned_server(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let _ = s.write_all(response.as_bytes());
        }
    });
    format!("http://{addr}")
}

fn reprocess_against(env: &TestEnv, host: &str, token: &str) -> Output {
    let id = new_id(crashctl::crash::Throttle::Accept);
    let mut cmd = env.cmd(&["reprocess", "--host", host, "--sleep", "0s", "--retries", "0", id.as_str()]);
    cmd.env("CRASHCTL_STATE_DIR", env.path("state")).env("CRASHSTATS_API_TOKEN", token);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap()
}

fn assert_hidden(o: &Output, secret: &str, shown: &str) {
    let all = format!("{}{}", stdout(o), stderr(o));
    assert!(!all.contains(secret), "the output shows the token:\n{all}");
    assert!(!all.contains(shown), "the output shows part of the token:\n{all}");
}

#[test]
fn a_token_echoed_in_a_redirect_or_a_long_body_is_masked() {
    // Issue 12, defect 6: `302 Location: ...?token=<token>` made reprocess print the token,
    // also a 3-character one; a body cut at 300 characters showed 10 of them.
    let env = TestEnv::new();
    for token in ["k3y", "tok3n-abcdefghijklmnopqrstuvwxyz"] {
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/login?token={token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let o = reprocess_against(&env, &canned_server(redirect), token);
        assert!(stderr(&o).contains("redirected to https://elsewhere.example/login?token="), "{}", stderr(&o));
        // a long token keeps its first 4 characters in the mask, a short one none
        let hidden = if token.len() > 8 { &token[4..] } else { token };
        assert_hidden(&o, token, hidden);
    }
    // the token straddles the 300-character cut of a plain-text error body
    let token = "secr3t-token-0123456789abcdef";
    let body = format!("{}{token} and more", "e".repeat(290));
    let reply =
        format!("HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let o = reprocess_against(&env, &canned_server(reply), token);
    assert!(stderr(&o).contains("secr"), "the mask's 4 characters: {}", stderr(&o));
    assert_hidden(&o, token, &token[..5]);
}

/// A queue in a temp dir with one crash stored and queued, for `process --queue`.
fn stored_and_queued(env: &TestEnv) -> crashctl::crash::CrashId {
    use crashctl::queue::{CrashQueue, DirQueue, Message, QueueName};
    use crashctl::store::{CrashStore, FsStore};
    let id = new_id(crashctl::crash::Throttle::Accept);
    FsStore::open(env.store(), true).unwrap().put_crash(&sample_crash(&id)).unwrap();
    DirQueue::open(env.queue(), true).unwrap().publish(QueueName::Standard, &[Message::new(id.clone())]).unwrap();
    id
}

#[test]
fn a_queue_without_its_claimed_folder_is_an_error_naming_it() {
    // Issue 12, defect 4: `process` spun at 100% CPU for ever, deaf to SIGTERM.
    let env = TestEnv::new();
    stored_and_queued(&env);
    let claimed = env.queue().join("standard/claimed");
    std::fs::remove_dir(&claimed).unwrap();
    let (store, queue) = (env.store(), env.queue());
    let mut child = env
        .cmd(&["process", "--store", store.to_str().unwrap(), "--queue", queue.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("process still running after 60 s on a broken queue");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 2);
    assert!(stderr(&o).contains(&claimed.display().to_string()), "{}", stderr(&o));
}

#[test]
fn unreadable_queue_messages_are_dead_lettered_and_the_run_goes_on() {
    // Issue 12, defect 5 (and symbolic links): a non-UTF-8 file, a directory or a link to
    // /etc/passwd in `pending/` stopped the processor (exit 2, the message left claimed).
    let env = TestEnv::new();
    let id = stored_and_queued(&env);
    let pending = env.queue().join("standard/pending");
    std::fs::write(pending.join("00000000000000000001-1-1"), b"\xff\xfe").unwrap();
    std::fs::create_dir(pending.join("00000000000000000001-1-2")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", pending.join("00000000000000000001-1-3")).unwrap();
    let (store, queue) = (env.store(), env.queue());
    let o = env.run(&["process", "--store", store.to_str().unwrap(), "--queue", queue.to_str().unwrap()]);
    // the stored crash is a fake dump: processed (stackwalk failed), saved, acked
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "{}", stderr(&o));
    let processed = store.join("v1/processed_crash").join(id.as_str());
    assert!(processed.is_file(), "the good message was processed: {}", stderr(&o));
    let failed = env.queue().join("standard/failed");
    let errors: Vec<String> = std::fs::read_dir(&failed)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".error"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().all(|e| !e.contains("root:")), "no file contents copied: {errors:?}");
    assert!(std::fs::read_dir(env.queue().join("standard/claimed")).unwrap().next().is_none(), "nothing left claimed");
}

#[test]
fn process_dump_refuses_what_is_not_a_regular_file_and_bounds_the_size() {
    // Issue 12: `process --dump /dev/zero` grew to 6.9 GB, a 4 GB sparse file to 4.2 GB, and a
    // directory exited 0 with the error only in processor_notes.
    let env = TestEnv::new();
    let sparse = env.path("sparse.dmp");
    std::fs::File::create(&sparse).unwrap().set_len(4 << 30).unwrap();
    let dir = env.path("adir");
    std::fs::create_dir(&dir).unwrap();
    let link = env.path("link.dmp");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    for (path, says) in [
        ("/dev/zero", "not a regular file"),
        (sparse.to_str().unwrap(), "over the limit"),
        (dir.to_str().unwrap(), "a directory"),
        (link.to_str().unwrap(), "symbolic link"),
    ] {
        let o = env.run(&["process", "--dump", path, "--max-dump-size", "64M"]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(path) && stderr(&o).contains(says), "{path}: {}", stderr(&o));
    }
}

#[test]
fn submit_refuses_dump_names_the_collector_would_refuse_or_merge() {
    // Issue 12, defects 2 and 3, at the client.
    let env = TestEnv::new();
    let d = env.path("d.dmp");
    std::fs::write(&d, b"MDMP").unwrap();
    let spool = env.spool();
    let sp = spool.to_str().unwrap();
    let dump = format!("dump={}", d.display());
    let o = env.run(&["submit", sp, "ProductName=Firefox", "--dump", &dump]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("invalid dump name \"dump\""), "{}", stderr(&o));
    // two names that sanitize to one
    let (a, b) = (format!("a-b={}", d.display()), format!("ab={}", d.display()));
    let o = env.run(&["submit", sp, "ProductName=Firefox", "--dump", &a, "--dump", &b]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("would both be stored as ab"), "{}", stderr(&o));
    // a layout word is sent, and refused by the collector (here the spool target's)
    let v1 = format!("v1={}", d.display());
    let o = env.run(&["submit", sp, "ProductName=Firefox", "--dump", &v1]);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("Discarded=malformed_invalid_dump_name"), "{}", stdout(&o));
    assert!(has_no_files(&spool) || !spool.exists());
}

#[test]
fn move_never_publishes_a_crash_with_a_dump_it_cannot_store_as_given() {
    // Issue 12, defect 2 through the spool: a spooled `dump.dump` (saved by an older
    // collector) replaced the minidump in the store, or `move --verify` stopped with the raw
    // crash already visible.
    use crashctl::spool::Spool;
    let env = TestEnv::new();
    let spool = Spool::open(env.spool(), true).unwrap();
    let id = new_id(crashctl::crash::Throttle::Accept);
    let received = chrono::Utc::now() - chrono::Duration::minutes(5);
    let entry = spool.save(&sample_crash(&id), received).unwrap();
    std::fs::write(entry.path.join("dump.dump"), b"not the minidump").unwrap();
    let (sp, st, qu) = (env.spool(), env.store(), env.queue());
    for verify in [false, true] {
        let mut args = vec!["move", "--spool", sp.to_str().unwrap(), "--store", st.to_str().unwrap()];
        args.extend(["--queue", qu.to_str().unwrap()]);
        if verify {
            args.push("--verify");
        }
        let o = env.run(&args);
        assert!(stderr(&o).contains("dump"), "{}", stderr(&o));
        assert!(!st.join("v1/raw_crash").join(id.date_key()).join(id.as_str()).exists(), "raw crash published");
        assert!(!st.join("v1/dump").join(id.as_str()).exists(), "a dump stored");
    }
}

/// Runs one test of this binary with `vars` set; its output and whether it passed.
fn run_own_test(name: &str, vars: &[(&str, &str)], remove: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads", "1"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let o = cmd.output().unwrap();
    (o.status.success(), format!("{}{}", stdout(&o), stderr(&o)))
}

#[test]
fn under_ci_a_test_that_cannot_run_fails_saying_what_is_missing() {
    // Issue 12, proof: 22 tests returned early and passed, silently. Without the emulator a
    // remote test prints one `skipped:` line and passes; under CI=true it fails, naming it.
    let test = "remote::s3_store_writes_exactly_the_keys_of_the_local_v1_store";
    let (passed, out) = run_own_test(test, &[], &["CI", "CRASHCTL_TEST_S3_ENDPOINT"]);
    assert!(passed, "{out}");
    assert_eq!(out.matches("skipped: the S3/SQS emulator").count(), 1, "{out}");
    let (passed, out) = run_own_test(test, &[("CI", "true")], &["CRASHCTL_TEST_S3_ENDPOINT"]);
    assert!(!passed, "passed by skipping under CI=true: {out}");
    assert!(out.contains("CI=true, and this test cannot run: the S3/SQS emulator"), "{out}");
}
