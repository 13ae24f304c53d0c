//! `crashctl reprocess`: against a fake Crash Stats API (a small HTTP server on 127.0.0.1 that
//! checks the token and the IDs like the real one, and fails on demand: 400, 403, 429, 5xx,
//! dropped connections), and locally against a store and queue in a temp dir.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crashctl::crash::{CrashId, ProcessedCrash, Throttle};
use crashctl::queue::{CrashQueue, DirQueue, QueueName};
use crashctl::store::{CrashStore, FsStore};
use serde_json::{json, Value};

use crate::common::*;

const TOKEN: &str = "tok3nS3cr3tValue0123456789abcdef";
const MASKED: &str = "tok3xxxxxxxxxxxxxxxxxxxxxxxxxxxx";

// ---- the fake Crash Stats API ----

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    form: Vec<(String, String)>,
    at: Instant,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn crash_ids(&self) -> Vec<String> {
        self.form.iter().filter(|(k, _)| k == "crash_ids").map(|(_, v)| v.clone()).collect()
    }
}

/// What the server does with a request.
enum Reply {
    Json(u16, Value, Vec<(&'static str, String)>),
    /// Reads the request, then closes the connection without answering.
    Drop,
}

/// Overrides the real behaviour for request number `n` (0-based, over the server's life).
type Fault = Box<dyn Fn(usize, &Request) -> Option<Reply> + Send + Sync>;

struct FakeCrashStats {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeCrashStats {
    fn start(fault: Fault) -> FakeCrashStats {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &reqs, &fault);
                }
            }
        });
        FakeCrashStats { addr, requests, stop, thread: Some(thread) }
    }

    fn working() -> FakeCrashStats {
        FakeCrashStats::start(Box::new(|_, _| None))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeCrashStats {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Request>>, fault: &Fault) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream);
    let Some(req) = read_request(&mut reader) else { return };
    let n = {
        let mut log = log.lock().unwrap();
        log.push(req.clone());
        log.len() - 1
    };
    let reply = fault(n, &req).unwrap_or_else(|| real_api(&req));
    let mut stream = reader.into_inner();
    match reply {
        Reply::Drop => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Reply::Json(code, body, headers) => {
            let body = body.to_string();
            let mut head = format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
        }
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let form = decode_form(&String::from_utf8(body).ok()?);
    Some(Request { method, path, headers, form, at: Instant::now() })
}

fn decode_form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// What Crash Stats does: token check (403, echoing what it got), every `crash_ids` must be a
/// valid `id` or `id:ruleset` (else 400 for the whole request).
fn real_api(req: &Request) -> Reply {
    if req.method != "POST" || req.path != "/api/Reprocessing/" {
        return Reply::Json(404, json!({"error": "not found"}), vec![]);
    }
    match req.header("Auth-Token") {
        Some(TOKEN) => {}
        other => return Reply::Json(403, json!({"error": format!("Invalid token {:?}", other.unwrap_or(""))}), vec![]),
    }
    let ids = req.crash_ids();
    if ids.is_empty() {
        return Reply::Json(400, json!({"error": "No crash_ids"}), vec![]);
    }
    for item in &ids {
        let (id, ruleset) = item.split_once(':').map_or((item.as_str(), None), |(a, b)| (a, Some(b)));
        if CrashId::parse_strict(id).is_err() || ruleset.is_some_and(|r| r != "default" && r != "regenerate_signature")
        {
            return Reply::Json(400, json!({"error": format!("Crash id {item} is not valid")}), vec![]);
        }
    }
    Reply::Json(200, json!(true), vec![])
}

fn status(code: u16) -> Option<Reply> {
    Some(Reply::Json(code, json!({"error": format!("status {code}")}), vec![]))
}

// ---- helpers ----

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|_| new_id(Throttle::Accept).to_string()).collect()
}

fn remote_cmd(env: &TestEnv, api: &FakeCrashStats, extra: &[&str]) -> std::process::Command {
    let url = api.url();
    let mut args = vec!["reprocess", "--host", &url, "--sleep", "0s", "--retry-base-delay", "1ms"];
    args.extend_from_slice(extra);
    let mut c = env.cmd(&args);
    c.env("CRASHCTL_STATE_DIR", env.path("state")).env_remove("CI");
    c
}

/// Runs `reprocess --host` with the token in the environment, JSON output and the IDs on stdin.
fn remote(env: &TestEnv, api: &FakeCrashStats, extra: &[&str], ids: &[String]) -> Output {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    run_with_stdin(remote_cmd(env, api, &args).env("CRASHSTATS_API_TOKEN", TOKEN), &ids.join("\n"))
}

fn run_with_stdin(cmd: &mut std::process::Command, input: &str) -> Output {
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The token never shows, in any output.
fn assert_token_hidden(o: &Output) {
    for (name, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(!text.contains(TOKEN), "{name} shows the token:\n{text}");
        assert!(!text.contains(&TOKEN[4..]), "{name} shows part of the token:\n{text}");
    }
}

fn sent_groups(reqs: &[Request]) -> Vec<Vec<String>> {
    reqs.iter().map(Request::crash_ids).collect()
}

fn groups_of(ids: &[String], size: usize) -> Vec<Vec<String>> {
    ids.chunks(size).map(|c| c.to_vec()).collect()
}

fn state_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(env.path("state")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

// ---- remote ----

#[test]
fn sends_groups_with_token_ruleset_and_form_fields() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    let list = ids(5);
    let input = vec![
        list[0].clone(),
        format!("bp-{}", list[1]),
        format!("https://crash-stats.mozilla.org/report/index/{}", list[2]),
        list[0].clone(),
        "not-a-crash-id".to_string(),
        list[3].clone(),
        list[4].clone(),
    ];
    let o = remote(&env, &api, &["--batch-size", "2", "--ruleset", "regenerate_signature"], &input);
    assert_code(&o, 2); // the invalid ID given; the valid ones were all sent
    assert_token_hidden(&o);
    let reqs = api.requests();
    let with_rs = |g: &[String]| g.iter().map(|id| format!("{id}:regenerate_signature")).collect::<Vec<_>>();
    let expected: Vec<Vec<String>> = list.chunks(2).map(with_rs).collect();
    assert_eq!(sent_groups(&reqs), expected, "groups of 2, in input order, deduplicated");
    for r in &reqs {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/Reprocessing/"));
        assert_eq!(r.header("Auth-Token"), Some(TOKEN));
        assert_eq!(r.header("Content-Type"), Some("application/x-www-form-urlencoded"));
        assert!(r.form.iter().all(|(k, _)| k == "crash_ids"), "only crash_ids fields: {:?}", r.form);
    }
    let v = json(&o);
    assert_eq!((v["ids"].as_u64(), v["groups"].as_u64(), v["accepted"].as_u64()), (Some(5), Some(3), Some(3)));
    assert_eq!(v["complete"], true);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["invalid"][0]["input"], "not-a-crash-id");
    assert!(stderr(&o).contains("not-a-crash-id"), "invalid input reported");
    assert!(stderr(&o).contains(MASKED), "the masked token is shown: {}", stderr(&o));
    assert!(state_files(&env).is_empty(), "a finished job leaves no state file");
}

#[test]
fn progress_lines_when_not_a_terminal_and_none_when_quiet() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    let list = ids(3);
    let o = run_with_stdin(
        remote_cmd(&env, &api, &["--batch-size", "1"]).env("CRASHSTATS_API_TOKEN", TOKEN),
        &list.join("\n"),
    );
    assert_code(&o, 0);
    for i in 1..=3 {
        assert!(stderr(&o).contains(&format!("({i}/3) ETA")), "{}", stderr(&o));
    }
    assert!(stdout(&o).contains("every group accepted"), "text summary: {}", stdout(&o));
    assert_token_hidden(&o);
    let o = run_with_stdin(
        remote_cmd(&env, &api, &["--batch-size", "1", "--quiet"]).env("CRASHSTATS_API_TOKEN", TOKEN),
        &list.join("\n"),
    );
    assert_code(&o, 0);
    assert!(!stderr(&o).contains("ETA"), "{}", stderr(&o));
    // CI=true silences progress, not the summary
    let o = run_with_stdin(
        remote_cmd(&env, &api, &["--batch-size", "1"]).env("CRASHSTATS_API_TOKEN", TOKEN).env("CI", "true"),
        &list.join("\n"),
    );
    assert_code(&o, 0);
    assert!(!stderr(&o).contains("ETA"), "{}", stderr(&o));
    assert!(stdout(&o).contains("every group accepted"), "text summary: {}", stdout(&o));
}

#[test]
fn retries_dropped_connections_429_and_5xx_then_goes_on() {
    let env = TestEnv::new();
    let api = FakeCrashStats::start(Box::new(|n, _| match n {
        0 => Some(Reply::Drop),
        1 => status(500),
        2 => Some(Reply::Json(429, json!({"error": "slow down"}), vec![("Retry-After", "0".into())])),
        3 => status(503),
        _ => None,
    }));
    let list = ids(4);
    let o = remote(&env, &api, &["--batch-size", "2"], &list);
    assert_code(&o, 0);
    let sent = sent_groups(&api.requests());
    let g = groups_of(&list, 2);
    assert_eq!(sent, vec![g[0].clone(), g[0].clone(), g[0].clone(), g[0].clone(), g[0].clone(), g[1].clone()]);
    let v = json(&o);
    assert_eq!(v["retries"], 4);
    assert_eq!(v["accepted"], 2);
    let err = stderr(&o);
    assert!(err.contains("HTTP 500") && err.contains("HTTP 429: slow down") && err.contains("retry 4/5"), "{err}");
}

#[test]
fn retry_after_is_honoured() {
    let env = TestEnv::new();
    let api = FakeCrashStats::start(Box::new(|n, _| {
        (n == 0).then(|| Reply::Json(429, json!({"error": "rate limited"}), vec![("Retry-After", "1".into())]))
    }));
    let o = remote(&env, &api, &[], &ids(1));
    assert_code(&o, 0);
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(950), "waited {gap:?}, Retry-After said 1s (backoff alone: ~1ms)");
}

#[test]
fn gives_up_after_the_retries_and_keeps_the_rest_for_a_rerun() {
    let env = TestEnv::new();
    let api = FakeCrashStats::start(Box::new(|_, _| status(502)));
    let o = remote(&env, &api, &["--retries", "2"], &ids(3));
    assert_code(&o, 1);
    assert_eq!(api.requests().len(), 3, "one attempt and two retries");
    let v = json(&o);
    assert_eq!(v["failed"]["error_name"], "gave_up");
    assert_eq!(v["failed"]["index"], 1);
    assert_eq!(v["remaining"], 1);
}

#[test]
fn bad_request_names_the_group_and_a_rerun_sends_only_the_rest() {
    let env = TestEnv::new();
    // Group 3 is refused the first time only (as if the server had been fixed meanwhile).
    let api = FakeCrashStats::start(Box::new(|n, req| {
        (n == 2).then(|| {
            Reply::Json(400, json!({"error": format!("Crash id {} is not valid", req.crash_ids()[0])}), vec![])
        })
    }));
    let list = ids(9);
    let g = groups_of(&list, 2);
    let o = remote(&env, &api, &["--batch-size", "2"], &list);
    assert_code(&o, 1);
    assert_token_hidden(&o);
    assert_eq!(sent_groups(&api.requests()), g[..3].to_vec(), "stops at the refused group");
    let v = json(&o);
    assert_eq!(v["failed"]["index"], 3);
    assert_eq!(v["failed"]["status"], 400);
    assert_eq!(v["failed"]["ids"], json!(g[2]));
    assert!(v["failed"]["error"].as_str().unwrap().contains(&format!("Crash id {} is not valid", g[2][0])));
    let err = stderr(&o);
    assert!(err.contains("group 3/5 was not accepted") && err.contains(&g[2].join(" ")), "{err}");
    assert_eq!(state_files(&env).len(), 1, "the state stays for the rerun");

    let o = remote(&env, &api, &["--batch-size", "2", "--dry-run"], &list);
    assert_code(&o, 0);
    let would: Vec<u64> =
        json(&o)["would_send"].as_array().unwrap().iter().map(|g| g["index"].as_u64().unwrap()).collect();
    assert_eq!(would, vec![3, 4, 5], "a dry run shows what is left");
    assert_eq!(api.requests().len(), 3, "a dry run sends nothing");

    let o = remote(&env, &api, &["--batch-size", "2"], &list);
    assert_code(&o, 0);
    assert_eq!(sent_groups(&api.requests()[3..]), g[2..].to_vec(), "the rerun sends groups 3..5 only");
    let v = json(&o);
    assert_eq!((v["already_accepted"].as_u64(), v["accepted"].as_u64()), (Some(2), Some(3)));
    assert!(state_files(&env).is_empty());
}

#[test]
fn another_job_does_not_reuse_a_state_file() {
    let env = TestEnv::new();
    let api = FakeCrashStats::start(Box::new(|n, _| (n == 1).then(|| status(400)).flatten()));
    let state = env.path("job.json");
    let state = state.to_str().unwrap();
    let list = ids(4);
    assert_code(&remote(&env, &api, &["--batch-size", "2", "--state", state], &list), 1);
    let o = remote(&env, &api, &["--batch-size", "2", "--state", state], &list[..3]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("belongs to another job"), "{}", stderr(&o));
    assert_eq!(api.requests().len(), 2);
}

#[test]
fn forbidden_stops_with_the_server_message_and_never_shows_the_token() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    // A wrong token (from ./.env); the server echoes it back in its error message.
    let wrong = "wr0ngT0kenValueABCDEFGHIJKLMNOP";
    std::fs::write(env.path(".env"), format!("# api\nCRASHSTATS_API_TOKEN={wrong}\n")).unwrap();
    let o = run_with_stdin(&mut remote_cmd(&env, &api, &["--format", "json"]), &ids(3).join("\n"));
    assert_code(&o, 1);
    assert_eq!(api.requests().len(), 1, "403 is not retried");
    assert_eq!(api.requests()[0].header("Auth-Token"), Some(wrong), "token read from .env");
    for text in [stdout(&o), stderr(&o)] {
        assert!(!text.contains(wrong) && !text.contains(&wrong[4..]), "token shown:\n{text}");
    }
    let v = json(&o);
    assert_eq!(v["failed"]["status"], 403);
    let masked = format!("{}{}", &wrong[..4], "x".repeat(wrong.len() - 4));
    let msg = v["failed"]["error"].as_str().unwrap();
    assert!(msg.contains(&format!("Invalid token \"{masked}\"")), "server message, masked: {msg}");
    assert!(stderr(&o).contains(&format!("using API token {masked}")), "{}", stderr(&o));
}

#[test]
fn token_flag_is_masked_in_errors_too() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    let o = run_with_stdin(&mut remote_cmd(&env, &api, &["--token", TOKEN, "--batch-size", "1"]), &ids(2).join("\n"));
    assert_code(&o, 0);
    assert_eq!(api.requests()[0].header("Auth-Token"), Some(TOKEN));
    assert_token_hidden(&o);
    // A host the client rejects, holding the token: the error must not echo it.
    let host = format!("http://user:{TOKEN}@127.0.0.1:1");
    let o = env
        .cmd(&["reprocess", "--host", &host, "--token", TOKEN, "de1bb258-cbbf-4589-a673-34f800160918"])
        .env("CRASHCTL_STATE_DIR", env.path("state"))
        .output()
        .unwrap();
    assert_code(&o, 2);
    assert_token_hidden(&o);
}

#[test]
fn redirects_are_not_followed_so_the_token_stays_here() {
    let env = TestEnv::new();
    let elsewhere = FakeCrashStats::working();
    let to = format!("{}/api/Reprocessing/", elsewhere.url());
    let api =
        FakeCrashStats::start(Box::new(move |_, _| Some(Reply::Json(307, json!({}), vec![("Location", to.clone())]))));
    let o = remote(&env, &api, &[], &ids(2));
    assert_code(&o, 1);
    assert_eq!(api.requests().len(), 1, "a redirect is not retried");
    assert!(elsewhere.requests().is_empty(), "the token was not sent to another server");
    let v = json(&o);
    assert_eq!(v["failed"]["status"], 307);
    assert!(v["failed"]["error"].as_str().unwrap().contains("redirected to"), "{v}");
}

#[test]
fn no_token_is_a_fatal_error_before_sending() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    let o = run_with_stdin(&mut remote_cmd(&env, &api, &[]), &ids(1).join("\n"));
    assert_code(&o, 2);
    assert!(stderr(&o).contains("no API token"), "{}", stderr(&o));
    assert!(api.requests().is_empty());
}

#[test]
fn more_than_10000_ids_need_allow_many() {
    let env = TestEnv::new();
    let api = FakeCrashStats::working();
    let list = ids(10_001);
    let o = remote(&env, &api, &[], &list);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--allow-many"), "{}", stderr(&o));
    let o = remote(&env, &api, &["--allow-many", "--dry-run"], &list);
    assert_code(&o, 0);
    assert_eq!(json(&o)["would_send"].as_array().unwrap().len(), 201);
    assert!(api.requests().is_empty());
}

#[test]
fn ctrl_c_stops_after_the_current_group_and_a_rerun_resumes() {
    let env = TestEnv::new();
    let pid = Arc::new(AtomicU32::new(0));
    let child_pid = pid.clone();
    // While answering group 2, the "user" presses Ctrl-C.
    let api = FakeCrashStats::start(Box::new(move |n, _| {
        if n == 1 {
            let deadline = Instant::now() + Duration::from_secs(10);
            while child_pid.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            // SAFETY: sending SIGINT to the crashctl child this test started.
            unsafe { libc::kill(child_pid.load(Ordering::SeqCst) as i32, libc::SIGINT) };
        }
        None
    }));
    let list = ids(5);
    let g = groups_of(&list, 1);
    let mut cmd = remote_cmd(&env, &api, &["--batch-size", "1", "--format", "json"]);
    cmd.env("CRASHSTATS_API_TOKEN", TOKEN).stdin(std::process::Stdio::piped());
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    pid.store(child.id(), Ordering::SeqCst);
    child.stdin.take().unwrap().write_all(list.join("\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 130);
    assert_eq!(sent_groups(&api.requests()), g[..2].to_vec(), "group 2 finished, nothing after it");
    let v = json(&o);
    assert_eq!((v["interrupted"].as_bool(), v["accepted"].as_u64()), (Some(true), Some(2)));

    let o = remote(&env, &api, &["--batch-size", "1"], &list);
    assert_code(&o, 0);
    assert_eq!(sent_groups(&api.requests()[2..]), g[2..].to_vec());
}

// ---- local ----

fn signed(sig: &str) -> ProcessedCrash {
    let mut p = ProcessedCrash::new();
    p.insert("signature".into(), sig.into());
    p
}

/// The bodies on the reprocessing queue.
fn reprocessing_bodies(env: &TestEnv) -> Vec<String> {
    let q = DirQueue::open(env.queue(), false).unwrap();
    let mut out = Vec::new();
    while let Some(c) = q.claim(&[QueueName::Reprocessing], Duration::from_secs(60)).unwrap() {
        out.push(c.message.body());
    }
    for other in [QueueName::Priority, QueueName::Standard] {
        assert!(q.claim(&[other], Duration::from_secs(60)).unwrap().is_none(), "nothing on {other}");
    }
    out
}

fn local(env: &TestEnv, extra: &[&str]) -> Output {
    let (store, queue) = (env.store(), env.queue());
    let mut args = vec!["reprocess", "--store", store.to_str().unwrap(), "--queue", queue.to_str().unwrap()];
    args.extend_from_slice(extra);
    env.run(&args)
}

#[test]
fn local_publishes_to_the_reprocessing_queue_with_the_ruleset() {
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let (a, b, absent) = (new_id(Throttle::Accept), new_id(Throttle::Accept), new_id(Throttle::Accept));
    store.put_crash(&sample_crash(&a)).unwrap();
    store.put_crash(&sample_crash(&b)).unwrap();
    let (sa, sb, sx) = (a.to_string(), format!("bp-{b}"), absent.to_string());
    let o = local(&env, &["--dry-run", &sa]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), sa);
    assert!(!env.queue().exists(), "a dry run needs no queue and makes none");
    let o = local(&env, &["--ruleset", "regenerate_signature", "--format", "json", &sa, &sb, &sx, &sa]);
    assert_code(&o, 1);
    let v = json(&o);
    assert_eq!(v["published"], 2);
    assert_eq!(v["missing"], json!([sx]));
    assert_eq!(
        reprocessing_bodies(&env),
        vec![format!("{a}:regenerate_signature"), format!("{b}:regenerate_signature")]
    );
    assert!(stderr(&o).contains(&sx), "the missing crash is named");

    let o = local(&env, &[&sa]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), sa, "text output: the IDs queued");
    assert_eq!(reprocessing_bodies(&env), vec![sa.clone()], "no ruleset: bare ID");
}

#[test]
fn local_selects_by_date_and_signature() {
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let other_day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let on_day: Vec<CrashId> = (0..3).map(|_| CrashId::generate(Throttle::Accept, day)).collect();
    let later = CrashId::generate(Throttle::Accept, other_day);
    for (id, sig) in on_day.iter().zip(["OOM | small", "js::GC | Foo", "OOM | large"]).chain([(&later, "OOM | small")])
    {
        store.put_crash(&sample_crash(id)).unwrap();
        store.put_processed(id, &signed(sig)).unwrap();
    }
    let bodies_sorted = |env: &TestEnv| {
        let mut b = reprocessing_bodies(env);
        b.sort();
        b
    };
    let sorted = |ids: &[&CrashId]| {
        let mut v: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        v.sort();
        v
    };

    assert_code(&local(&env, &["--date", "2026-11-20"]), 0);
    assert_eq!(bodies_sorted(&env), sorted(&on_day.iter().collect::<Vec<_>>()));

    let o = local(&env, &["--date", "2026-11-20", "--signature", "OOM |", "--format", "json"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["not_matching"], 1);
    assert_eq!(bodies_sorted(&env), sorted(&[&on_day[0], &on_day[2]]));

    assert_code(&local(&env, &["--signature", "OOM | small"]), 0);
    assert_eq!(bodies_sorted(&env), sorted(&[&on_day[0], &later]), "alone, --signature searches every processed crash");

    let o = local(&env, &["--signature", "OOM", "--dry-run"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).lines().count(), 3);
    let o = local(&env, &["--all", "--dry-run"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).lines().count(), 4, "--all: every processed crash");
    assert!(reprocessing_bodies(&env).is_empty(), "a dry run publishes nothing");
}

#[test]
fn local_rejects_unknown_rulesets() {
    let env = TestEnv::new();
    let o = local(&env, &["--ruleset", "regen", new_id(Throttle::Accept).as_ref()]);
    assert_code(&o, 2);
}

#[test]
fn local_now_processes_and_reports_changed_signatures() {
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let (a, b) = (new_id(Throttle::Accept), new_id(Throttle::Accept));
    store.put_crash(&sample_crash(&a)).unwrap();
    store.put_crash(&sample_crash(&b)).unwrap();
    let (sa, sb) = (a.to_string(), b.to_string());
    let signature = |id: &CrashId| store.get_processed(id).unwrap().unwrap()["signature"].as_str().unwrap().to_string();
    // b gets the signature the processor gives it today; a has a stale one.
    assert_code(&local(&env, &["--now", &sb]), 0);
    store.put_processed(&a, &signed("OLD | stale::signature")).unwrap();

    let o = local(&env, &["--now", "--changed", "--format", "json", &sa, &sb]);
    assert_code(&o, 0);
    let new = signature(&a);
    assert_ne!(new, "OLD | stale::signature");
    let v = json(&o);
    assert_eq!(v["changed"], json!([{"id": sa, "old_signature": "OLD | stale::signature", "new_signature": new}]));
    assert_eq!(v["summary"]["saved"], 2);

    store.put_processed(&a, &signed("OLD | stale::signature")).unwrap();
    let o = local(&env, &["--now", "--changed", "--no-save", "--ruleset", "default", &sa, &sb]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains(&format!("{sa}  OLD | stale::signature -> {new}")), "{}", stdout(&o));
    assert!(!stdout(&o).contains(&sb), "b did not change: {}", stdout(&o));
    assert_eq!(signature(&a), "OLD | stale::signature", "--no-save leaves the store as it was");
    assert!(!env.queue().exists(), "--now queues nothing");
}

/// The question engineers ask after editing the signature lists: which signatures change?
#[test]
fn local_now_changed_after_a_signature_list_edit() {
    use crashctl::siggen::lists::*;
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let now = chrono::Utc::now();
    let crash = crashctl::generate::Generator::new(Some(7), now).submission().into_crash(now);
    let id = crash.id.to_string();
    store.put_crash(&crash).unwrap();
    let symbols = env.path("symbols");
    crashctl::generate::write_symbols(&symbols).unwrap();
    let symbols = symbols.to_str().unwrap();

    assert_code(&local(&env, &["--now", "--symbols-path", symbols, &id]), 0);
    let before = store.get_processed(&crash.id).unwrap().unwrap()["signature"].as_str().unwrap().to_string();
    let first_frame = before.split(" | ").next().unwrap().to_string();

    // The engineer marks the first frame irrelevant.
    let lists = env.path("siglists");
    std::fs::create_dir_all(&lists).unwrap();
    let irrelevant = format!("{BUILTIN_IRRELEVANT}\n{}\n", regex::escape(&first_frame));
    for (file, text) in [
        (IRRELEVANT_FILE, irrelevant.as_str()),
        (PREFIX_FILE, BUILTIN_PREFIX),
        (LINE_NUMBERS_FILE, BUILTIN_LINE_NUMBERS),
        (SENTINELS_FILE, BUILTIN_SENTINELS),
    ] {
        std::fs::write(lists.join(file), text).unwrap();
    }
    let lists = lists.to_str().unwrap();
    let args = ["--now", "--changed", "--ruleset", "regenerate_signature", "--siglists", lists, "--format", "json"];
    let o = local(&env, &[&args[..], &["--no-save", &id]].concat());
    assert_code(&o, 0);
    let v = json(&o);
    let changed = v["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{v}");
    assert_eq!(changed[0]["old_signature"], before.as_str());
    let after = changed[0]["new_signature"].as_str().unwrap();
    assert!(!after.starts_with(&first_frame), "{before} -> {after}");
    assert_eq!(v["summary"]["saved"], 0, "--no-save");
}

#[test]
fn an_error_never_lands_on_the_progress_bar_on_a_terminal() {
    // An error ending a run while its bar is drawn: the bar is cleared first, never left above
    // (or under) the error line. (Issue 16: every line printed while a bar may be drawn.)
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let id = new_id(Throttle::Accept);
    store.put_crash(&sample_crash(&id)).unwrap();
    DirQueue::open(env.queue(), true).unwrap();
    // the queue's folder for messages being written is a file: publishing fails
    std::fs::write(env.queue().join(".tmp"), "").unwrap();
    let (s, q, i) = (env.store().display().to_string(), env.queue().display().to_string(), id.to_string());
    let args = ["reprocess", "--store", s.as_str(), "--queue", q.as_str(), i.as_str()];
    let Some(screen) = crate::stats::on_terminal(&env, &args, true) else { return };
    assert!(screen.contains(" crashes ["), "a progress bar was drawn: {screen}");
    let error = regex::Regex::new("crashctl: error: ").unwrap();
    assert_eq!(crate::stats::assert_never_after_a_bar(&screen, &error), 1, "{screen}");
}
