//! `crashctl collect`: the real binary on 127.0.0.1 (port 0), driven by curl (an independent
//! client) and by raw sockets for the slow-client and shutdown cases. Also the shared helpers
//! (`Server`, `curl`, `multipart`) that the submit tests use.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;

/// How long a test waits for the server to say something before failing.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running `crashctl collect`, stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub addr: String,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub log: Vec<String>,
    pub spool: PathBuf,
}

impl Server {
    /// Starts `crashctl collect --listen 127.0.0.1:0 --spool <env spool> ARGS` and waits (with a
    /// deadline) for the `listening on http://ADDR` line.
    pub fn start(env: &TestEnv, args: &[&str]) -> Server {
        Server::start_with(env, args, &[])
    }

    pub fn start_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let spool = env.spool();
        let mut all = vec!["--spool", spool.to_str().unwrap()];
        all.extend_from_slice(args);
        Server::start_bare(env, &all, vars)
    }

    /// Starts `crashctl collect --listen 127.0.0.1:0 ARGS` (no `--spool`: for `--store`).
    pub fn start_bare(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Server {
        Server::start_cmd(env, env.cmd(&["collect", "--listen", "127.0.0.1:0"]), args, vars)
    }

    /// Starts the collector with its open-file limit (soft and hard) set to `nofile`.
    pub fn start_with_nofile(env: &TestEnv, args: &[&str], nofile: u64) -> Server {
        use std::os::unix::process::CommandExt;
        let spool = env.spool();
        let mut cmd = env.cmd(&["collect", "--listen", "127.0.0.1:0", "--spool", spool.to_str().unwrap()]);
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: nofile, rlim_max: nofile };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Server::start_cmd(env, cmd, args, &[])
    }

    fn start_cmd(env: &TestEnv, mut cmd: std::process::Command, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let spool = env.spool();
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped()).env_remove("CRASHCTL_BEARER_TOKEN");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn crashctl collect");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut server = Server { child, url: String::new(), addr: String::new(), lines: rx, log: Vec::new(), spool };
        let line = server.wait_for("listening on http://");
        server.url = line.trim().trim_start_matches("listening on ").to_string();
        server.addr = server.url.trim_start_matches("http://").to_string();
        server
    }

    /// The next stderr line containing `needle` (panics after the deadline).
    pub fn wait_for(&mut self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        if let Some(l) = self.log.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("collector never logged {needle:?}; log so far:\n{}", self.log.join("\n"));
    }

    pub fn submit_url(&self) -> String {
        format!("{}/submit", self.url)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn stop(&mut self) -> ExitStatus {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.log.push(line);
                }
                return status;
            }
            assert!(Instant::now() < end, "collector did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET path` over a plain socket: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        read_response(&mut s)
    }

    /// The value of a metric line (`name{labels}`), 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/__metrics__");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0.0)
    }

    /// Every crash in the spool.
    pub fn spooled(&self) -> Vec<crashctl::crash::Crash> {
        let spool = crashctl::spool::Spool::open(&self.spool, false).unwrap();
        spool.iter().map(|e| spool.load(&e.unwrap()).unwrap()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a whole HTTP/1.1 response (the server closes or sends Content-Length).
pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no response: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Is curl installed? (Prints why a test is skipped when not.)
pub fn have_curl() -> bool {
    let ok = std::process::Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        skip("curl is not installed");
    }
    ok
}

/// Runs `curl -sS ARGS` and returns (HTTP status, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let o = std::process::Command::new("curl").args(["-sS", "-w", "\n%{http_code}"]).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (
        code.trim().parse().unwrap_or_else(|_| panic!("curl: {out:?} {}", String::from_utf8_lossy(&o.stderr))),
        body.to_string(),
    )
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes a file in the test dir and returns its path as a string.
pub fn file(env: &TestEnv, name: &str, data: &[u8]) -> String {
    let p = env.path(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

/// Every file under `dir`, relative.
pub fn files_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn crash_id_of(body: &str) -> String {
    body.trim().strip_prefix("CrashID=bp-").unwrap_or_else(|| panic!("not accepted: {body:?}")).to_string()
}

#[test]
fn curl_multidump_is_spooled_with_metadata_and_private_annotations_removed() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let mut server = Server::start(&env, &[]);
    let main = file(&env, "main.dmp", b"MDMP main dump bytes");
    let browser = file(&env, "browser.dmp", b"MDMP browser dump");
    let (status, body) = curl(&[
        "-F",
        "ProductName=Firefox",
        "-F",
        "Version=140.0",
        "-F",
        "Email=someone@example.com",
        "-F",
        "TelemetryClientId=abc",
        "-F",
        &format!("upload_file_minidump=@{main}"),
        "-F",
        &format!("upload_file_minidump_browser=@{browser}"),
        "-F",
        &format!("../../etc/passwd=@{main}"),
        &server.submit_url(),
    ]);
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with('\n'), "answer ends with a newline: {body:?}");
    let id = crash_id_of(&body);
    let crashes = server.spooled();
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert_eq!(c.id.as_str(), id);
    assert_eq!(c.raw["ProductName"], "Firefox");
    assert!(!c.raw.contains_key("Email") && !c.raw.contains_key("TelemetryClientId"));
    let md = &c.raw["metadata"];
    let notes = md["collector_notes"].as_array().unwrap();
    assert!(notes.contains(&"Removed Email from raw crash.".into()), "{notes:?}");
    assert!(notes.contains(&"Removed TelemetryClientId from raw crash.".into()));
    assert_eq!(md["dump_checksums"]["upload_file_minidump"], sha256(b"MDMP main dump bytes"));
    assert_eq!(md["dump_checksums"]["upload_file_minidump_browser"], sha256(b"MDMP browser dump"));
    assert_eq!(md["payload"], "multipart");
    assert_eq!(md["payload_compressed"], "0");
    assert!(md["user_agent"].as_str().unwrap().starts_with("curl/"));
    assert_eq!(md["throttle_rule"], "accept_everything");
    assert_eq!(c.raw["uuid"], id.as_str());
    assert_eq!(c.raw["version"], 2);
    // the hostile dump name became a plain file name inside the crash directory
    let mut names: Vec<String> = c.dump_names().iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(names, ["etcpasswd", "upload_file_minidump", "upload_file_minidump_browser"]);
    for f in files_under(&env.spool()) {
        assert!(!f.contains(".."), "{f}");
    }
    assert!(!env.path("etc").exists());
    // payload_size is the body as sent, and the log line names the crash
    let line = server.wait_for(&id);
    assert!(line.contains(&format!("size={}", md["payload_size"])), "{line}");
    assert!(line.contains("dumps=upload_file_minidump,upload_file_minidump_browser,etcpasswd"), "{line}");
    assert!(line.contains("rule=accept_everything"), "{line}");
}

#[test]
fn every_malformed_reason_over_http() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let server = Server::start(&env, &["--bearer-token", "tok3n"]);
    let url = server.submit_url();
    let good = file(&env, "good.bin", &multipart(&[("ProductName", None, None, b"Firefox")]));
    let mp = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
    let dump = file(&env, "d.dmp", b"MDMP");
    let garbage = file(&env, "garbage.bin", b"this is not multipart at all");
    let at = |p: &str| format!("@{p}");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no_content_type", vec!["-H".into(), "Content-Type:".into(), "--data-binary".into(), at(&good)]),
        ("wrong_content_type", vec!["-H".into(), "Content-Type: text/plain".into(), "--data-binary".into(), at(&good)]),
        (
            "no_boundary",
            vec!["-H".into(), "Content-Type: multipart/form-data".into(), "--data-binary".into(), at(&good)],
        ),
        (
            "no_content_length",
            vec![
                "-H".into(),
                mp.clone(),
                "-H".into(),
                "Transfer-Encoding: chunked".into(),
                "--data-binary".into(),
                at(&good),
            ],
        ),
        ("no_content_length", vec!["-H".into(), mp.clone(), "--data-binary".into(), "".into()]),
        (
            "bad_gzip",
            vec![
                "-H".into(),
                mp.clone(),
                "-H".into(),
                "Content-Encoding: gzip".into(),
                "--data-binary".into(),
                at(&good),
            ],
        ),
        ("invalid_json", vec!["-F".into(), "extra={nope;type=application/json".into()]),
        ("invalid_json_value", vec!["-F".into(), "extra=[1,2];type=application/json".into()]),
        ("invalid_dump_name", vec!["-F".into(), "P=x".into(), "-F".into(), format!("raw_crash=@{dump}")]),
        ("invalid_dump_name", vec!["-F".into(), "P=x".into(), "-F".into(), format!("../..=@{dump}")]),
        // issue 12, defects 2 and 3: `dump` is where upload_file_minidump is stored; `v1` a layout word
        (
            "dump_name_collision",
            vec![
                "-F".into(),
                "P=x".into(),
                "-F".into(),
                format!("upload_file_minidump=@{dump}"),
                "-F".into(),
                format!("dump=@{dump}"),
            ],
        ),
        ("invalid_dump_name", vec!["-F".into(), "P=x".into(), "-F".into(), format!("v1=@{dump}")]),
        ("invalid_payload_structure", vec!["-H".into(), mp.clone(), "--data-binary".into(), at(&garbage)]),
        ("no_annotations", vec!["-F".into(), format!("upload_file_minidump=@{dump}")]),
        (
            "invalid_uuid",
            vec![
                "-H".into(),
                "Authorization: Bearer tok3n".into(),
                "-F".into(),
                "P=x".into(),
                "-F".into(),
                "uuid=../../etc".into(),
            ],
        ),
    ];
    for (reason, args) in &cases {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push(&url);
        let (status, body) = curl(&a);
        assert_eq!((status, body.as_str()), (400, format!("Discarded=malformed_{reason}").as_str()), "{args:?}");
    }
    let (status, body) = curl(&["-F", "P=x", "-F", "uuid=de1bb258-cbbf-4589-a673-34f800160918", &url]);
    assert_eq!((status, body.as_str()), (401, "Discarded=unauthorized_uuid"));
    let (status, _) = curl(&[&url]);
    assert_eq!(status, 405, "GET /submit");
    assert!(server.spooled().is_empty());
    assert_eq!(server.metric("crashctl_collector_rejected_total{reason=\"malformed_no_content_length\"}"), 2.0);
    assert_eq!(server.metric("crashctl_collector_rejected_total{reason=\"unauthorized_uuid\"}"), 1.0);
}

#[test]
fn gzip_json_extra_and_the_decompressed_cap() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let server = Server::start(&env, &["--max-decompressed-size", "4K"]);
    let dump = vec![7u8; 3000];
    let body = multipart(&[
        ("extra", Some("extra.json"), Some("application/json"), br#"{"ProductName":"Firefox","Version":"1"}"#),
        ("BuildID", None, Some("text/plain; charset=utf-8"), b"20261126000000"),
        ("upload_file_minidump", Some("fakecrash.dump"), Some("application/octet-stream"), &dump),
    ]);
    let gz = gzip(&body);
    let path = file(&env, "body.gz", &gz);
    let mp = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
    let data = format!("@{path}");
    let (status, answer) =
        curl(&["-H", &mp, "-H", "Content-Encoding: gzip", "--data-binary", &data, &server.submit_url()]);
    assert_eq!(status, 200, "{answer}");
    let c = &server.spooled()[0];
    assert_eq!(c.id.as_str(), crash_id_of(&answer));
    assert_eq!(c.raw["ProductName"], "Firefox");
    assert_eq!(c.raw["BuildID"], "20261126000000");
    let md = &c.raw["metadata"];
    assert_eq!(md["payload"], "json");
    assert_eq!(md["payload_compressed"], "1");
    assert_eq!(md["payload_size"], gz.len());
    assert_eq!(
        md["collector_notes"],
        serde_json::json!(["includes annotations in both json-encoded extra and formdata parts"])
    );
    assert_eq!(md["dump_checksums"]["upload_file_minidump"], sha256(&dump));
    // a gzip bomb: small as sent, over the cap once inflated
    let bomb = gzip(&multipart(&[("P", None, None, b"x"), ("upload_file_minidump", Some("f"), None, &[0u8; 8192])]));
    let bomb_path = file(&env, "bomb.gz", &bomb);
    let data = format!("@{bomb_path}");
    let (status, answer) =
        curl(&["-H", &mp, "-H", "Content-Encoding: gzip", "--data-binary", &data, &server.submit_url()]);
    assert_eq!((status, answer.as_str()), (413, "Discarded=decompressed_too_large"));
    assert_eq!(server.spooled().len(), 1);
}

/// A multipart body of exactly `size` bytes (one annotation and one padded dump).
fn body_of_size(size: usize) -> Vec<u8> {
    let empty = multipart(&[
        ("ProductName", None, None, b"Firefox"),
        ("upload_file_minidump", Some("f"), Some("application/octet-stream"), b""),
    ]);
    let pad = vec![b'x'; size - empty.len()];
    let body = multipart(&[
        ("ProductName", None, None, b"Firefox"),
        ("upload_file_minidump", Some("f"), Some("application/octet-stream"), &pad),
    ]);
    assert_eq!(body.len(), size);
    body
}

#[test]
fn body_limit_25_mib_accepted_one_more_byte_413() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let mp = format!("Content-Type: multipart/form-data; boundary={BOUNDARY}");
    let limit = 25 * 1024 * 1024;
    let at_limit = file(&env, "limit.bin", &body_of_size(limit));
    let data = format!("@{at_limit}");
    let (status, body) = curl(&["-H", &mp, "--data-binary", &data, &server.submit_url()]);
    assert_eq!(status, 200, "25 MiB is accepted: {body}");
    std::fs::remove_file(&at_limit).unwrap();
    let over = file(&env, "over.bin", &body_of_size(limit + 1));
    let data = format!("@{over}");
    let (status, body) = curl(&["-H", &mp, "--data-binary", &data, &server.submit_url()]);
    assert_eq!((status, body.as_str()), (413, ""), "25 MiB + 1 byte is refused");
    assert_eq!(server.spooled().len(), 1);
    assert_eq!(server.metric("crashctl_collector_rejected_total{reason=\"too_large\"}"), 1.0);
}

#[test]
fn throttle_rules_from_a_file() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let rules = file(
        &env,
        "rules.toml",
        b"[[rule]]\nname = \"no_thunderbird\"\nkey = \"ProductName\"\nequals = \"Thunderbird\"\nresult = \"reject\"\n\
          [[rule]]\nname = \"later\"\nkey = \"ReleaseChannel\"\none_of = [\"esr\"]\nresult = \"defer\"\n\
          [[rule]]\nname = \"pretend\"\nkey = \"HangID\"\nresult = \"fakeaccept\"\n\
          [[rule]]\nname = \"firefox\"\nkey = \"ProductName\"\nequals = \"Firefox\"\nresult = \"accept\"\n",
    );
    let server = Server::start(&env, &["--throttle-rules", &rules]);
    let url = server.submit_url();
    let send = |fields: &[&str]| {
        let mut a = Vec::new();
        for f in fields {
            a.extend(["-F", f]);
        }
        a.push(&url);
        curl(&a)
    };
    assert_eq!(send(&["ProductName=Thunderbird"]), (200, "Discarded=rule_no_thunderbird".into()));
    assert_eq!(send(&["ProductName=Other"]), (200, "Discarded=rule_NO_MATCH".into()));
    let fake = crash_id_of(&send(&["ProductName=Firefox", "HangID=1"]).1);
    assert_eq!(&fake[29..30], "3", "fake-accepted IDs carry digit 3");
    let deferred = crash_id_of(&send(&["ProductName=Firefox", "ReleaseChannel=esr"]).1);
    assert_eq!(&deferred[29..30], "1");
    let accepted = crash_id_of(&send(&["ProductName=Firefox"]).1);
    assert_eq!(&accepted[29..30], "0");
    let mut ids: Vec<String> = server.spooled().iter().map(|c| c.id.to_string()).collect();
    ids.sort();
    let mut want = vec![deferred.clone(), accepted];
    want.sort();
    assert_eq!(ids, want, "deferred crashes are saved, fake-accepted ones are not");
    let c = server.spooled().into_iter().find(|c| c.id.as_str() == deferred).unwrap();
    assert_eq!(c.raw["metadata"]["throttle_rule"], "later");
    assert_eq!(server.metric("crashctl_collector_throttled_total{rule=\"pretend\",result=\"fakeaccept\"}"), 1.0);
    assert_eq!(server.metric("crashctl_collector_rejected_total{reason=\"rule_no_thunderbird\"}"), 1.0);
    // a broken rules file stops the collector before it listens
    let bad = file(&env, "bad.toml", b"[[rule]]\nname = \"x\"\nkey = \"*\"\nresult = \"perhaps\"\n");
    let o = env.run(&["collect", "--listen", "127.0.0.1:0", "--spool", "s2", "--throttle-rules", &bad]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));
}

#[test]
fn health_version_metrics_and_a_failing_spool() {
    if !have_curl() {
        return;
    }
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    assert_eq!(server.get("/__lbheartbeat__").0, 200);
    let (status, body) = server.get("/__heartbeat__");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap(), serde_json::json!({"errors": []}));
    let (status, body) = server.get("/__version__");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let dump = format!("upload_file_minidump=@{}", file(&env, "d.dmp", b"MDMP"));
    let (status, answer) = curl(&["-F", "ProductName=Firefox", "-F", &dump, &server.submit_url()]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(server.metric("crashctl_collector_accepted_total"), 1.0);
    assert_eq!(server.metric("crashctl_collector_save_seconds_count"), 1.0);
    assert!(server.metric("crashctl_collector_received_bytes_total") > 100.0);
    assert_eq!(server.metric("crashctl_collector_throttled_total{rule=\"accept_everything\",result=\"accept\"}"), 1.0);
    // storage breaks: the heartbeat says so, a crash gets 500 and nothing is left behind
    let tmp = env.spool().join(".tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::write(&tmp, "a file where the temp directory belongs").unwrap();
    let (status, body) = server.get("/__heartbeat__");
    assert_eq!(status, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{body}");
    let (status, answer) = curl(&["-F", "ProductName=Firefox", &server.submit_url()]);
    assert_eq!((status, answer.as_str()), (500, ""));
    assert_eq!(server.spooled().len(), 1);
    assert_eq!(server.metric("crashctl_collector_save_errors_total"), 3.0, "a failed save is retried");
}

/// Sends the request line, headers and the first part of a multipart body, leaving `rest` unsent.
fn start_slow_upload(addr: &str) -> (TcpStream, Vec<u8>) {
    let body = multipart(&[
        ("ProductName", None, None, b"Firefox"),
        ("upload_file_minidump", Some("f"), Some("application/octet-stream"), b"MDMP slow"),
    ]);
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (first, rest) = body.split_at(40);
    s.write_all(first).unwrap();
    s.flush().unwrap();
    (s, rest.to_vec())
}

/// Polls (with the deadline) until the collector is handling `n` submissions.
fn wait_in_flight(server: &Server, n: f64) {
    let end = Instant::now() + DEADLINE;
    while server.metric("crashctl_collector_requests_in_flight") != n {
        assert!(Instant::now() < end, "never saw {n} requests in flight");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight() {
    let env = TestEnv::new();
    let mut server = Server::start(&env, &[]);
    let (mut s, rest) = start_slow_upload(&server.addr);
    wait_in_flight(&server, 1.0);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.pid(), libc::SIGTERM) };
    let line = server.wait_for("shutting down");
    assert!(line.contains("finishing 1 requests in flight"), "{line}");
    s.write_all(&rest).unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 200, "{body}");
    let id = crash_id_of(&body);
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(server.spooled().iter().map(|c| c.id.to_string()).collect::<Vec<_>>(), vec![id]);
    assert!(server.log.iter().any(|l| l == "stopped"), "{:?}", server.log);
}

#[test]
fn a_slow_client_gets_408() {
    let env = TestEnv::new();
    let mut server = Server::start(&env, &["--read-timeout", "1s"]);
    let (mut s, _rest) = start_slow_upload(&server.addr);
    let (status, _) = read_response(&mut s);
    assert_eq!(status, 408);
    server.wait_for("crash - timeout");
    assert!(server.spooled().is_empty());
}

#[test]
fn a_client_trickling_its_body_gets_408_at_the_body_deadline() {
    // Regression: a byte every 200 ms never trips the per-piece --read-timeout, and used to
    // hold the connection for as long as the client liked; --body-timeout bounds the whole body.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let env = TestEnv::new();
    let mut server = Server::start(&env, &["--read-timeout", "1s", "--body-timeout", "2s"]);
    let dump = vec![b'M'; 100_000]; // 100,000 bytes at 5 a second: far longer than the test's DEADLINE
    let body = multipart(&[
        ("ProductName", None, None, b"Firefox"),
        ("upload_file_minidump", Some("f"), None, dump.as_slice()),
    ]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let (mut w, stop) = (s.try_clone().unwrap(), Arc::clone(&stop));
        std::thread::spawn(move || {
            for byte in body.chunks(1) {
                if stop.load(Ordering::SeqCst) || w.write_all(byte).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let (status, _) = read_response(&mut s);
    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    assert_eq!(status, 408);
    server.wait_for("crash - timeout");
    assert!(server.spooled().is_empty());
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    // Regression (slowloris): a request line and half the headers, then silence, used to hold
    // the connection open forever; the header read timeout (= --read-timeout) now closes it.
    use std::io::{Read, Write};
    let env = TestEnv::new();
    let server = Server::start(&env, &["--read-timeout", "1s"]);
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"POST /submit HTTP/1.1\r\nHost: collector\r\nContent-Type: multipart/form-data; bo").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let closed = match s.read_to_end(&mut buf) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "the collector closed the stalled connection (it answered {:?})", String::from_utf8_lossy(&buf));
}

/// Waits (bounded) until the peer closes `s`: true when it did (EOF or reset), false when it
/// was still open at `within`.
pub fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    let end = Instant::now() + within;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) if Instant::now() < end => continue,
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// `GET /__lbheartbeat__` on a new connection; `None` when nothing came back within `within`.
pub fn heartbeat_within(addr: &str, within: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(within)).unwrap();
    write!(s, "GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).split(' ').nth(1).and_then(|c| c.parse().ok())
}

/// Polls the heartbeat until it answers 200 (bounded by `DEADLINE`).
pub fn wait_heartbeat_ok(addr: &str) {
    let end = Instant::now() + DEADLINE;
    while heartbeat_within(addr, Duration::from_secs(5)) != Some(200) {
        assert!(Instant::now() < end, "the heartbeat never answered 200 again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_and_partial_connections_are_closed_after_the_header_timeout_whatever_the_protocol() {
    // Issue 12, defect 1: a socket that sent nothing, or only `P` (the start of an HTTP/2
    // preface, which hyper waited for with no timeout), stayed open for minutes.
    let env = TestEnv::new();
    let server = Server::start(&env, &["--read-timeout", "1s"]);
    let opened = Instant::now();
    let sends: [&[u8]; 4] = [b"", b"P", b"PRI * HTTP/2.0\r\n", b"GET /__lbheartbeat__ HT"];
    let mut socks: Vec<TcpStream> = sends
        .iter()
        .map(|bytes| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(bytes).unwrap();
            s
        })
        .collect();
    // and a keep-alive connection gone idle after one answered request
    let mut keep = TcpStream::connect(&server.addr).unwrap();
    keep.write_all(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 17];
    keep.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
    socks.push(keep);
    for (i, s) in socks.iter_mut().enumerate() {
        assert!(closed_within(s, Duration::from_secs(20)), "connection {i} still open after 20 s");
    }
    assert!(opened.elapsed() >= Duration::from_millis(900), "closed by the timeout, not at once");
    assert_eq!(heartbeat_within(&server.addr, Duration::from_secs(10)), Some(200));
}

#[test]
fn past_max_connections_a_new_connection_gets_503_not_a_stall() {
    let env = TestEnv::new();
    let mut server = Server::start(&env, &["--read-timeout", "60s", "--max-connections", "3"]);
    server.wait_for("serving at most 3 connections");
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    assert_eq!(heartbeat_within(&server.addr, Duration::from_secs(10)), Some(503), "answered at once, not stalled");
    drop(idle);
    wait_heartbeat_ok(&server.addr);
}

#[test]
fn with_ulimit_64_eighty_idle_sockets_do_not_stop_the_collector() {
    // Issue 12, defect 1 as reported: `ulimit -n 64` and 80 idle sockets made the collector
    // stop answering submissions and the heartbeat.
    let env = TestEnv::new();
    let mut server = Server::start_with_nofile(&env, &["--read-timeout", "2s"], 64);
    let line = server.wait_for("serving at most");
    assert!(line.contains("at most 16 connections"), "{line}");
    let idle: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    let answered = heartbeat_within(&server.addr, Duration::from_secs(10));
    assert!(matches!(answered, Some(200 | 503)), "answered, not stalled: {answered:?}");
    // the idle ones are closed after the header timeout: the collector serves again while
    // the test still holds every socket open
    wait_heartbeat_ok(&server.addr);
    let body = multipart(&[("ProductName", None, None, b"Firefox")]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "POST /submit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("CrashID=bp-"), "{text}");
    drop(idle);
}
