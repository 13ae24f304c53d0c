//! `crashctl process`: dump mode, store mode, queue mode, output formats, and `json_dump`
//! compared with the real `minidump-stackwalk --json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crashctl::crash::{Crash, CrashId, DumpData, DumpName, Throttle};
use crashctl::queue::{Message, QueueName};
use crashctl::store::{CrashStore, FsStore};
use minidump_synth::{Exception, Memory, SynthMinidump, SystemInfo, Thread};
use serde_json::Value;
use test_assembler::{Endian, Section};

use crate::common::*;

/// A small valid Linux amd64 minidump with one crashed thread.
fn synth_dump() -> Vec<u8> {
    let context = minidump_synth::amd64_context(Endian::Little, 0x7000_1000, 0x1010);
    let stack = Memory::with_section(Section::with_endian(Endian::Little).append_repeated(0, 0x100), 0x1000);
    let thread = Thread::new(Endian::Little, 7, &stack, &context);
    let mut system_info = SystemInfo::new(Endian::Little);
    system_info.processor_architecture = 9; // AMD64
    system_info.platform_id = 0x8201; // Linux
    let mut exception = Exception::new(Endian::Little);
    exception.thread_id = 7;
    exception.exception_record.exception_code = 11; // SIGSEGV
    SynthMinidump::with_endian(Endian::Little)
        .add_thread(thread)
        .add_exception(exception)
        .add_system_info(system_info)
        .add(context)
        .add_memory(stack)
        .finish()
        .unwrap()
}

/// Puts a crash with `dump` as its main minidump into the test store.
fn put(env: &TestEnv, dump: Vec<u8>) -> CrashId {
    let id = new_id(Throttle::Accept);
    let mut crash: Crash = sample_crash(&id);
    crash.add_dump(DumpName::main(), DumpData::Bytes(dump.into()));
    FsStore::open(env.store(), true).unwrap().put_crash(&crash).unwrap();
    id
}

fn processed(env: &TestEnv, id: &CrashId) -> Option<Value> {
    let store = FsStore::open(env.store(), false).unwrap();
    store.get_processed(id).unwrap().map(Value::Object)
}

fn store_arg(env: &TestEnv) -> String {
    env.store().display().to_string()
}

#[test]
fn dump_mode_prints_a_symbolicated_processed_crash() {
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let dump = data.join("minidumps/test.dmp");
    let symbols = data.join("symbols");
    let o = env.run(&["process", "--dump", path(&dump), "--symbols-path", path(&symbols)]);
    assert_code(&o, 0);
    let p = json(&o);
    assert_eq!(p["mdsw_status_string"], "OK");
    assert_eq!(p["os_name"], "Windows NT");
    assert_eq!(p["reason"], "EXCEPTION_ACCESS_VIOLATION_WRITE");
    let frames = p["json_dump"]["crashing_thread"]["frames"].as_array().unwrap();
    assert_eq!(frames[0]["function"], "`anonymous namespace'::CrashFunction");
    assert_eq!(frames[1]["function"], "main");
}

#[test]
fn dump_mode_names_the_error_of_a_corrupt_dump() {
    // Regression: a dump that could not be walked exited 0 (minidump-stackwalk exits 1).
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let o = env.run(&["process", "--dump", path(&data.join("minidumps/invalid-range.dmp"))]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("invalid-range.dmp: MissingThreadList"), "{}", stderr(&o));
    let p = json(&o);
    assert_eq!(p["mdsw_status_string"], "MissingThreadList");
    assert_eq!(p["success"], false);
    assert!(p["processor_notes"].as_str().unwrap().contains("MissingThreadList"));
    assert!(p["signature"].is_string());
}

#[test]
fn dump_mode_of_a_file_that_is_no_minidump_exits_1_with_its_status() {
    let env = TestEnv::new();
    let file = env.path("notes.txt");
    std::fs::write(&file, "root:x:0:0:root:/root:/bin/sh\n".repeat(20)).unwrap();
    for format in ["text", "json"] {
        let o = env.run(&["process", "--dump", path(&file), "--format", format]);
        assert_code(&o, 1);
        assert!(stderr(&o).contains("notes.txt: HeaderMismatch"), "{}", stderr(&o));
    }
}

#[test]
fn dump_mode_text_shows_the_stack_as_a_person_reads_it() {
    // Regression: `--format text` printed the processed crash as JSON.
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let dump = data.join("minidumps/test.dmp");
    let symbols = data.join("symbols");
    let args = ["process", "--dump", path(&dump), "--symbols-path", path(&symbols), "--format", "text"];
    let o = env.run(&args);
    assert_code(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("Crash reason:  EXCEPTION_ACCESS_VIOLATION_WRITE\nCrash address: 0x00000045\n"), "{text}");
    assert!(text.contains("Signature:     (anonymous namespace)::CrashFunction\n"), "{text}");
    assert!(
        text.contains(
            "Thread 0  (crashed) - tid: 3060\n 0  test_app.exe!`anonymous namespace'::CrashFunction [test_app.cc : 58 + 0x3]\n    \
             Found by: given as instruction pointer in context\n 1  test_app.exe!main [test_app.cc : 65 + 0x4]\n    \
             Found by: call frame info\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "Modules without symbols:\n0x7c800000 - 0x7c8f3fff  kernel32.dll  5.1.2600.2945  \
             (kernel32.pdb BCE8785C57B44245A669896B6A19B9542)\n"
        ),
        "{text}"
    );
    assert!(text.contains("(1 other threads: --all-threads shows them)"), "{text}");
    assert!(!text.contains("Thread 1"), "{text}");
    let mut all = args.to_vec();
    all.push("--all-threads");
    let text = stdout(&env.run(&all));
    assert!(text.contains("\nThread 1  - tid: "), "{text}");
    // text is the default on a terminal, JSON elsewhere
    let Some(on_tty) = crate::stats::on_terminal(&env, &args[..5], true) else { return };
    assert!(on_tty.contains("Crash reason:  EXCEPTION_ACCESS_VIOLATION_WRITE"), "{on_tty}");
    assert!(json(&env.run(&args[..5]))["json_dump"].is_object());
}

#[test]
fn dump_mode_invents_no_crash_id_or_time() {
    // Regression: a lone dump got a made-up crash ID and today's date as its crash time.
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let dump = data.join("minidumps/test.dmp");
    let p = json(&env.run(&["process", "--dump", path(&dump)]));
    for key in ["uuid", "crash_id", "crash_time", "client_crash_date", "date_processed", "submitted_timestamp"] {
        assert!(p[key].is_null(), "{key}: {}", p[key]);
    }
    let notes = env.path("annotations.json");
    std::fs::write(&notes, r#"{"uuid": "de1bb258-cbbf-4589-a673-34f800160918", "CrashTime": "1700000000"}"#).unwrap();
    let p = json(&env.run(&["process", "--dump", path(&dump), "--annotations", path(&notes)]));
    assert_eq!(p["crash_id"], "de1bb258-cbbf-4589-a673-34f800160918");
    assert_eq!(p["crash_time"], 1_700_000_000);
}

#[test]
fn missing_symbol_sources_are_said_once_and_the_run_goes_on() {
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let dump = data.join("minidumps/test.dmp");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let missing = env.path("no-symbols-here");
    let o = env.run(&["process", "--dump", path(&dump), "--symbols-path", path(&missing), "--symbols-url", &url]);
    assert_code(&o, 0);
    let err = stderr(&o);
    assert_eq!(err.matches("no-symbols-here: no such directory").count(), 1, "{err}");
    assert_eq!(err.matches(&format!("--symbols-url {url}: cannot connect")).count(), 1, "{err}");
    assert_eq!(json(&o)["mdsw_status_string"], "OK");
}

#[test]
fn walking_again_without_symbols_warns_before_saving_a_worse_signature() {
    // Regression: `reprocess --now` with no symbols source silently replaced
    // `mozilla::dom::Element::SetAttr` with `XUL`.
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let now = chrono::Utc::now();
    let crash = crashctl::generate::Generator::new(Some(7), now).submission().into_crash(now);
    let id = crash.id.to_string();
    store.put_crash(&crash).unwrap();
    let symbols = env.path("symbols");
    crashctl::generate::write_symbols(&symbols).unwrap();
    let st = store_arg(&env);
    for args in [vec!["process", "--store", &st, &id], vec!["reprocess", "--store", &st, "--now", &id]] {
        let o = env.run(&["process", "--store", &st, "--symbols-path", path(&symbols), &id]);
        assert_code(&o, 0);
        assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
        let good = processed(&env, &crash.id).unwrap()["signature"].as_str().unwrap().to_string();
        let o = env.run(&args);
        assert_code(&o, 0);
        let err = stderr(&o);
        let before = err.find("warning: no symbols source").unwrap_or_else(|| panic!("{args:?}: {err}"));
        let named = err.find(&format!("crash {id}: processed with symbols before")).unwrap_or_else(|| panic!("{err}"));
        assert!(before < named, "the run-level warning comes first: {err}");
        assert!(err.contains(&format!("signature {good} -> ")), "{err}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The real minidump-stackwalk: `$MINIDUMP_STACKWALK`, `.tools/bin/` in the checkout, or PATH.
fn minidump_stackwalk() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MINIDUMP_STACKWALK") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/bin/minidump-stackwalk"));
    if local.is_file() {
        return Some(local);
    }
    let found = Command::new("minidump-stackwalk").arg("--version").output().is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from("minidump-stackwalk"))
}

#[test]
fn json_dump_is_what_minidump_stackwalk_prints() {
    let Some(data) = testdata() else { return };
    let Some(mdsw) = minidump_stackwalk() else {
        skip("minidump-stackwalk not found (set MINIDUMP_STACKWALK or put it on PATH)");
        return;
    };
    let env = TestEnv::new();
    let symbols = data.join("symbols");
    // The annotations minidump-stackwalk reads from Socorro's --evil-json file.
    let annotations = env.path("raw_crash.json");
    let evil = r#"{"CPUMicrocodeVersion": "0x42", "ModuleSignatureInfo": {"Microsoft Corporation": ["kernel32.dll"]}}"#;
    std::fs::write(&annotations, evil).unwrap();
    let mut compared = 0;
    for entry in std::fs::read_dir(data.join("minidumps")).unwrap() {
        let dump = entry.unwrap().path();
        let ours =
            ["process", "--dump", path(&dump), "--annotations", path(&annotations), "--symbols-path", path(&symbols)];
        let ours = env.run(&ours);
        let theirs = Command::new(&mdsw)
            .args([
                "--json",
                "--no-color",
                "--evil-json",
                path(&annotations),
                "--symbols-path",
                path(&symbols),
                path(&dump),
            ])
            .output()
            .unwrap();
        // a dump minidump-stackwalk cannot walk fails for us too (exit 1), as for it
        assert_code(&ours, if theirs.status.success() { 0 } else { 1 });
        let ours = json(&ours);
        if theirs.status.success() {
            let theirs: Value = serde_json::from_slice(&theirs.stdout).unwrap();
            assert_eq!(ours["json_dump"], theirs, "json_dump of {}", dump.display());
            assert_eq!(ours["mdsw_status_string"], "OK");
            compared += 1;
        } else {
            let status = ours["mdsw_status_string"].as_str().unwrap();
            assert!(stderr(&theirs).contains(status), "{}: {status} vs {}", dump.display(), stderr(&theirs));
        }
    }
    assert!(compared >= 4, "only {compared} dumps compared");
}

/// The crash reason/address lines and the crashing thread's frame lines of a human view
/// (ours, or `minidump-stackwalk --brief`), without the register lines we do not show.
fn crash_and_frames(text: &str) -> Vec<String> {
    let crash = text.lines().filter(|l| l.starts_with("Crash reason:") || l.starts_with("Crash address:"));
    let thread = text
        .lines()
        .skip_while(|l| !(l.starts_with("Thread ") && l.contains(" (crashed) - tid: ")))
        .take_while(|l| !l.is_empty())
        .filter(|l| !(l.starts_with("     ") && l.contains(" = ")));
    crash.chain(thread).map(str::to_string).collect()
}

#[test]
fn human_view_frames_are_what_minidump_stackwalk_prints() {
    let Some(data) = testdata() else { return };
    let Some(mdsw) = minidump_stackwalk() else {
        skip("minidump-stackwalk not found (set MINIDUMP_STACKWALK or put it on PATH)");
        return;
    };
    let env = TestEnv::new();
    let symbols = data.join("symbols");
    let mut compared = 0;
    for entry in std::fs::read_dir(data.join("minidumps")).unwrap() {
        let dump = entry.unwrap().path();
        let theirs = Command::new(&mdsw)
            .args(["--brief", "--no-color", "--symbols-path", path(&symbols), path(&dump)])
            .output()
            .unwrap();
        if !theirs.status.success() {
            continue;
        }
        let ours = env.run(&["process", "--dump", path(&dump), "--symbols-path", path(&symbols), "--format", "text"]);
        assert_code(&ours, 0);
        let (ours, theirs) = (crash_and_frames(&stdout(&ours)), crash_and_frames(&stdout(&theirs)));
        assert!(theirs.len() > 3, "{}: {theirs:?}", dump.display());
        assert_eq!(ours, theirs, "{}", dump.display());
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} dumps compared");
}

#[test]
fn store_mode_saves_prints_and_reports_each_crash() {
    let env = TestEnv::new();
    let good = put(&env, synth_dump());
    let empty = put(&env, Vec::new());
    let missing = new_id(Throttle::Accept);
    let ids = format!("{good}\n{empty}\n{missing}\nnot-an-id\n");
    let o = env.run_stdin(&["process", "--store", &store_arg(&env), "--print", "-j", "2"], &ids);
    assert_code(&o, 2); // an invalid ID given is invalid input; the valid ones were done all the same
    let printed = json_lines(&o);
    assert_eq!(printed.len(), 2, "one processed crash per processed crash");
    assert!(stderr(&o).contains(&missing.to_string()));
    let saved = processed(&env, &good).expect("saved");
    assert_eq!(saved["mdsw_status_string"], "OK");
    assert_eq!(saved["os_name"], "Linux");
    assert_eq!(saved["cpu_arch"], "amd64");
    assert_eq!(saved["product"], "Firefox");
    assert_eq!(processed(&env, &empty).unwrap()["mdsw_status_string"], "EmptyMinidump");
    assert!(printed.iter().any(|p| p["uuid"] == good.as_str()));
}

#[test]
fn summary_and_json_formats_give_one_line_per_crash() {
    let env = TestEnv::new();
    let good = put(&env, synth_dump());
    let bad = put(&env, b"MDMP but not really".to_vec());
    let missing = new_id(Throttle::Accept);
    let (g, b, m) = (good.to_string(), bad.to_string(), missing.to_string());
    let o = env.run(&["process", "--store", &store_arg(&env), "--format", "summary", "--no-save", &g, &b, &m]);
    assert_code(&o, 1);
    let mut lines: Vec<Vec<String>> = stdout(&o).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect();
    lines.sort();
    assert_eq!(lines.len(), 3);
    let status_of = |id: &str| lines.iter().find(|l| l[0] == id).unwrap()[2].clone();
    assert_eq!(status_of(&g), "ok");
    assert_eq!(status_of(&b), "stackwalk_failed");
    assert_eq!(status_of(&m), "error");
    assert!(processed(&env, &good).is_none(), "--no-save writes nothing");

    let o = env.run(&["process", "--store", &store_arg(&env), "--format", "json", &g]);
    assert_code(&o, 0);
    let outcomes = json_lines(&o);
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["id"], g.as_str());
    assert_eq!(outcomes[0]["status"], "ok");
    assert_eq!(outcomes[0]["saved"], true);
    assert_eq!(outcomes[0]["old_signature"], Value::Null);
}

#[test]
fn queue_mode_acks_saved_crashes_and_dead_letters_the_rest() {
    let env = TestEnv::new();
    let queue = crashctl::queue::open(path(&env.queue()), true).unwrap();
    let first = put(&env, synth_dump());
    let second = put(&env, synth_dump());
    let missing = new_id(Throttle::Accept);
    queue.publish(QueueName::Standard, &[Message::new(first.clone()), Message::new(missing.clone())]).unwrap();
    queue.publish(QueueName::Priority, &[Message::new(second.clone())]).unwrap();
    let (store, queue_dir) = (store_arg(&env), env.queue());
    let args = ["process", "--store", &store, "--queue", path(&queue_dir), "--format", "json"];
    let o = env.run(&args);
    assert_code(&o, 1);
    assert_eq!(json_lines(&o).len(), 3);
    assert!(processed(&env, &first).is_some() && processed(&env, &second).is_some());
    let depths = queue.depths().unwrap();
    assert!(depths.iter().all(|d| d.pending == 0 && d.claimed == 0), "{depths:?}");
    let failed = queue.failed().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].body.contains(missing.as_str()));

    // A reprocessing message names its ruleset.
    queue
        .publish(QueueName::Reprocessing, &[Message::with_ruleset(first.clone(), Some("regenerate_signature".into()))])
        .unwrap();
    let o = env.run(&args);
    assert_code(&o, 0);
    let outcome = &json_lines(&o)[0];
    assert_eq!(outcome["ruleset"], "regenerate_signature");
    let history = processed(&env, &first).unwrap()["processor_history"].as_array().unwrap().len();
    assert_eq!(history, 1);
}

#[test]
fn queue_mode_refuses_no_save() {
    let env = TestEnv::new();
    crashctl::queue::open(path(&env.queue()), true).unwrap();
    let o = env.run(&["process", "--store", &store_arg(&env), "--queue", path(&env.queue()), "--no-save"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--no-save"));
}

/// A symbol server on 127.0.0.1 serving a folder in the Tecken layout; counts requests per path.
struct SymbolServer {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SymbolServer {
    fn start(root: PathBuf) -> SymbolServer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (reqs, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => serve(conn, &root, &reqs),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        SymbolServer { url, requests, stop, thread: Some(thread) }
    }

    fn count(&self, suffix: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|p| p.ends_with(suffix)).count()
    }
}

impl Drop for SymbolServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: std::net::TcpStream, root: &Path, requests: &std::sync::Mutex<Vec<String>>) {
    use std::io::{BufRead, BufReader, Write};
    conn.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    while let Ok(n) = reader.read_line(&mut String::new()) {
        if n <= 2 {
            break; // end of headers
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap().to_string();
    requests.lock().unwrap().push(path.clone());
    let file = root.join(path.trim_start_matches('/'));
    let ok = !path.contains("..") && file.is_file();
    let body = if ok { std::fs::read(&file).unwrap() } else { Vec::new() };
    let status = if ok { "200 OK" } else { "404 Not Found" };
    let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&body));
}

/// Processes three crashes of the testdata's test.dmp (`-j 1 --print`) with symbols from a
/// local symbol server and a disk cache (`ENV/symcache`); `extra` goes on the command line.
fn process_with_a_symbol_server(data: &Path, env: &TestEnv, extra: &[&str]) -> (std::process::Output, SymbolServer) {
    let server = SymbolServer::start(data.join("symbols"));
    let dump = std::fs::read(data.join("minidumps/test.dmp")).unwrap();
    let ids: Vec<String> = (0..3).map(|_| put(env, dump.clone()).to_string()).collect();
    let cache = env.path("symcache");
    let store = store_arg(env);
    let mut args = vec!["process", "--store", &store, "-j", "1", "--print"];
    args.extend(["--symbols-url", &server.url, "--symbols-cache", path(&cache)]);
    args.extend(extra);
    args.extend(ids.iter().map(String::as_str));
    let o = env.run(&args);
    assert_code(&o, 0);
    let printed = json_lines(&o);
    assert_eq!(printed.len(), 3);
    for p in printed {
        assert_eq!(p["json_dump"]["crashing_thread"]["frames"][1]["function"], "main");
    }
    (o, server)
}

#[test]
fn symbols_from_a_server_are_fetched_once_per_run_and_cached() {
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let (_, server) = process_with_a_symbol_server(&data, &env, &[]);
    assert_eq!(server.count("/test_app.sym"), 1, "one download for three crashes");
    assert!(env.path("symcache/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym").is_file());
}

#[test]
fn a_bounded_symbol_cache_starts_afresh_without_downloading_again() {
    let Some(data) = testdata() else { return };
    let env = TestEnv::new();
    let (o, server) = process_with_a_symbol_server(&data, &env, &["--symbol-cache-modules", "1"]);
    // each walk loads more than one module, so the in-memory cache starts afresh after each;
    // the symbols come back from the disk cache, not the server
    assert!(stderr(&o).contains("symbol cache started afresh 3 times"), "{}", stderr(&o));
    assert_eq!(server.count("/test_app.sym"), 1, "one download for three crashes");
}

#[test]
fn follow_keeps_consuming_until_sigterm() {
    let env = TestEnv::new();
    let queue = crashctl::queue::open(path(&env.queue()), true).unwrap();
    let id = put(&env, synth_dump());
    let store = store_arg(&env);
    let mut child = env
        .cmd(&["process", "--store", &store, "--queue", path(&env.queue()), "--follow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Published after the consumer started: only --follow picks it up.
    queue.publish(QueueName::Standard, &[Message::new(id.clone())]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while processed(&env, &id).is_none() || queue.depths().unwrap().iter().any(|d| d.pending + d.claimed > 0) {
        assert!(std::time::Instant::now() < deadline, "not processed within 60s");
        assert!(child.try_wait().unwrap().is_none(), "--follow exited on its own");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn the_readme_walks_dumps_again_only_with_symbols() {
    // Regression: the README's `reprocess --now` line had no symbols source, so it replaced
    // `mozilla::dom::Element::SetAttr` with `XUL`.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let walks: Vec<&str> = readme
        .lines()
        .filter(|l| l.trim_start().starts_with("crashctl "))
        .filter(|l| l.contains("reprocess") && l.contains("--now") || l.contains(" process "))
        .filter(|l| !l.contains("regenerate_signature"))
        .collect();
    assert!(!walks.is_empty());
    for line in walks {
        assert!(line.contains("--symbols-path") || line.contains("--symbols-url"), "{line}");
    }
}
