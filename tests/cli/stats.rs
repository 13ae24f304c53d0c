//! `crashctl stats` on spools, queues and stores built with the library.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use crashctl::crash::{CrashId, Throttle};
use crashctl::queue::{CrashQueue, DirQueue, Message, QueueName};
use crashctl::spool::{Spool, SpoolEntry};
use crashctl::store::{CrashStore, FsStore};
use serde_json::{json, Value};

use crate::common::*;

fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 42).unwrap()
}

fn spool(env: &TestEnv) -> Spool {
    Spool::open(env.spool(), true).unwrap().without_fsync()
}

fn save(spool: &Spool, t: DateTime<Utc>) -> SpoolEntry {
    spool.save(&sample_crash(&new_id(Throttle::Accept)), t).unwrap()
}

/// Bytes of every file under the crash directories (counted here, independently of stats).
fn bytes_of(entries: &[&SpoolEntry]) -> u64 {
    entries
        .iter()
        .flat_map(|e| walkdir::WalkDir::new(&e.path).into_iter().filter_map(Result::ok))
        .filter(|f| f.file_type().is_file())
        .map(|f| f.metadata().unwrap().len())
        .sum()
}

fn stats_json(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["stats", "--format", "json"];
    all.extend_from_slice(args);
    let o = env.run(&all);
    assert_code(&o, 0);
    json(&o)
}

fn spool_arg(env: &TestEnv) -> String {
    env.spool().display().to_string()
}

fn age(v: &Value, scanned_at: &Value, field: &str) -> i64 {
    let t = |v: &Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    (t(scanned_at) - t(&v[field])).num_seconds()
}

#[test]
fn spool_counts_bytes_ages_and_hours() {
    let env = TestEnv::new();
    let s = spool(&env);
    let a = save(&s, at(20, 10, 15));
    let b = save(&s, at(20, 10, 16));
    let c = save(&s, at(20, 12, 0));
    let q = save(&s, at(20, 12, 1));
    s.quarantine(&q, "test").unwrap();
    let v = stats_json(&env, &["--spool", &spool_arg(&env)]);
    let sp = &v["spool"];
    assert_eq!(sp["path"], spool_arg(&env));
    assert_eq!(sp["crashes"], 3);
    assert_eq!(sp["files"], 6);
    assert_eq!(sp["bytes"], bytes_of(&[&a, &b, &c]));
    assert_eq!(sp["oldest"], "2026-11-20T10:15:00Z");
    assert_eq!(sp["newest"], "2026-11-20T12:00:00Z");
    assert_eq!(sp["oldest_age_seconds"], age(sp, &v["scanned_at"], "oldest"));
    assert_eq!(sp["newest_age_seconds"], age(sp, &v["scanned_at"], "newest"));
    assert_eq!(
        sp["per_hour"],
        json!([{"hour": "2026-11-20T10:00:00Z", "crashes": 2}, {"hour": "2026-11-20T12:00:00Z", "crashes": 1}])
    );
    assert_eq!(sp["quarantined"], 1);
    assert_eq!((sp["tmp_leftovers"].clone(), sp["trash_leftovers"].clone()), (json!(0), json!(0)));
    assert_eq!(sp["hot_spot_threshold"], 10_000);
    assert_eq!(sp["hot_spots"], json!([]));
    assert_eq!(v["problems"], json!([]));
    assert_eq!(v["problems_total"], 0);
    assert_eq!((v["queue"].clone(), v["store"].clone()), (Value::Null, Value::Null));
}

#[test]
fn hot_spot_is_flagged_in_json_table_and_prometheus() {
    let env = TestEnv::new();
    let s = spool(&env);
    for _ in 0..3 {
        save(&s, at(20, 10, 15));
    }
    // Root: the day and .tmp (2); day, hour: 1; the minute: 3 crashes; crashes: 2 files.
    let v = stats_json(&env, &["--spool", &spool_arg(&env), "--hot-spot", "2"]);
    let minute = env.spool().join("20261120/10/15").display().to_string();
    assert_eq!(v["spool"]["hot_spots"], json!([{"path": minute, "entries": 3}]));
    assert_eq!(v["spool"]["hot_spot_threshold"], 2);
    let o = env.run(&["stats", "--spool", &spool_arg(&env), "--hot-spot", "2"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("!!! HOT SPOT: 1 directory over 2 entries"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("HOT SPOT     {minute} has 3 entries")), "{}", stdout(&o));
    let o = env.run(&["stats", "--spool", &spool_arg(&env), "--hot-spot", "2", "--format", "prometheus"]);
    let metrics = parse_exposition(&stdout(&o));
    assert!(metrics.contains(&("crashctl_spool_hot_spots".to_string(), 1.0)));
    assert!(metrics.contains(&("crashctl_spool_hot_spot_entries".to_string(), 3.0)));
}

#[test]
fn stray_file_and_invalid_id_are_problems_not_crashes() {
    let env = TestEnv::new();
    let s = spool(&env);
    let e = save(&s, at(20, 10, 15));
    std::fs::write(env.spool().join("stray.txt"), "x").unwrap();
    // the mover's bookkeeping is not a problem (regression: `.mover.lock` was reported as stray)
    std::fs::write(env.spool().join(".mover.lock"), "").unwrap();
    std::fs::create_dir_all(env.spool().join(".failures")).unwrap();
    std::fs::write(env.spool().join(".failures").join(e.id.as_str()), "1").unwrap();
    let bad = e.path.parent().unwrap().join("not-a-crash-id");
    std::fs::create_dir(&bad).unwrap();
    let o = env.run(&["stats", "--format", "json", "--spool", &spool_arg(&env)]);
    assert_code(&o, 0);
    let v = json(&o);
    assert_eq!(v["spool"]["crashes"], 1);
    assert_eq!(v["spool"]["bytes"], bytes_of(&[&e]));
    let stray = env.spool().join("stray.txt").display().to_string();
    let bad = bad.display().to_string();
    assert_eq!(
        v["problems"],
        json!([
            {"kind": "invalid_crash_id", "path": bad, "message": "directory name is not a crash ID"},
            {"kind": "stray_file", "path": stray, "message": "not part of the spool layout"},
        ]),
        "sorted by path"
    );
    assert_eq!(v["problems_total"], 2);
    assert!(stderr(&o).contains(&stray) && stderr(&o).contains(&bad), "{}", stderr(&o));
}

#[test]
fn queue_depths_with_an_expired_claim() {
    let env = TestEnv::new();
    let q = DirQueue::open(env.queue(), true).unwrap();
    let msg = || Message::new(new_id(Throttle::Accept));
    q.publish(QueueName::Priority, &[msg()]).unwrap();
    q.publish(QueueName::Standard, &[msg(), msg(), msg(), msg()]).unwrap();
    let std_only = [QueueName::Standard];
    q.claim(&std_only, Duration::ZERO).unwrap().unwrap();
    q.claim(&std_only, Duration::from_secs(3600)).unwrap().unwrap();
    let failed = q.claim(&std_only, Duration::from_secs(3600)).unwrap().unwrap();
    q.fail(&failed, "boom").unwrap();
    // The zero-visibility claim's deadline is "now" in ms: wait (bounded) until the queue itself
    // reports it expired, instead of sleeping past it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while q.depths().unwrap().iter().all(|d| d.claimed_expired == 0) {
        assert!(std::time::Instant::now() < deadline, "the zero-visibility claim never expired");
        std::thread::yield_now();
    }
    let v = stats_json(&env, &["--queue", &env.queue().display().to_string()]);
    assert_eq!(v["queue"]["location"], env.queue().display().to_string());
    assert_eq!(
        v["queue"]["queues"],
        json!([
            {"queue": "priority", "pending": 1, "claimed": 0, "claimed_expired": 0, "failed": 0},
            {"queue": "standard", "pending": 1, "claimed": 2, "claimed_expired": 1, "failed": 1},
            {"queue": "reprocessing", "pending": 0, "claimed": 0, "claimed_expired": 0, "failed": 0},
        ])
    );
    assert_eq!(v["spool"], Value::Null);
}

#[test]
fn store_per_day_with_raw_without_processed() {
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let ids: Vec<CrashId> = [24, 25, 25, 25].iter().map(|&d| CrashId::generate(Throttle::Accept, day(d))).collect();
    for id in &ids {
        store.put_crash(&sample_crash(id)).unwrap();
    }
    store.put_processed(&ids[1], &Default::default()).unwrap();
    store.put_processed(&ids[2], &Default::default()).unwrap();
    let v = stats_json(&env, &["--store", &env.store().display().to_string()]);
    let st = &v["store"];
    assert_eq!(st["location"], store.describe());
    assert_eq!(
        st["days"],
        json!([
            {"date": "2026-11-24", "raw": 1, "processed": 0, "raw_without_processed": 1},
            {"date": "2026-11-25", "raw": 3, "processed": 2, "raw_without_processed": 1},
        ])
    );
    assert_eq!((st["raw"].clone(), st["processed"].clone()), (json!(4), json!(2)));
    assert_eq!(st["raw_without_processed"], 2);
}

/// (metric name, value) of every sample; panics on a line that is not exposition format.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let line_re =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_]\w*="(\\.|[^"\\])*",?)*\})? (\S+)$"#).unwrap();
    let mut typed = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge", "{line}");
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let caps = line_re.captures(line).unwrap_or_else(|| panic!("not an exposition line: {line:?}"));
        let name = caps[1].to_string();
        assert!(typed.contains(&name), "{name} has a # TYPE line before its samples");
        let value: f64 = caps[5].parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.push((name, value));
    }
    samples
}

#[test]
fn prometheus_output_has_the_documented_metrics() {
    let env = TestEnv::new();
    let s = spool(&env);
    save(&s, at(20, 10, 15));
    DirQueue::open(env.queue(), true)
        .unwrap()
        .publish(QueueName::Standard, &[Message::new(new_id(Throttle::Accept))])
        .unwrap();
    FsStore::open(env.store(), true).unwrap().put_crash(&sample_crash(&new_id(Throttle::Accept))).unwrap();
    let (sp, q, st) = (spool_arg(&env), env.queue().display().to_string(), env.store().display().to_string());
    let o = env.run(&["stats", "--format", "prometheus", "--spool", &sp, "--queue", &q, "--store", &st]);
    assert_code(&o, 0);
    let samples = parse_exposition(&stdout(&o));
    let names: std::collections::BTreeSet<&str> = samples.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "crashctl_scan_timestamp_seconds",
        "crashctl_scan_duration_seconds",
        "crashctl_spool_crashes",
        "crashctl_spool_bytes",
        "crashctl_spool_files",
        "crashctl_spool_oldest_timestamp_seconds",
        "crashctl_spool_oldest_age_seconds",
        "crashctl_spool_newest_timestamp_seconds",
        "crashctl_spool_quarantined",
        "crashctl_spool_leftovers",
        "crashctl_spool_hot_spots",
        "crashctl_queue_messages",
        "crashctl_store_raw_crashes",
        "crashctl_store_processed_crashes",
        "crashctl_store_raw_without_processed_crashes",
        "crashctl_problems",
    ] {
        assert!(names.contains(name), "{name} missing from\n{}", stdout(&o));
    }
    assert!(samples.contains(&("crashctl_spool_crashes".to_string(), 1.0)));
    assert_eq!(samples.iter().filter(|(n, _)| n == "crashctl_queue_messages").count(), 12, "3 queues x 4 states");
    let oldest = at(20, 10, 15).timestamp() as f64 - 42.0;
    assert!(samples.contains(&("crashctl_spool_oldest_timestamp_seconds".to_string(), oldest)));
    assert!(stdout(&o).contains(r#"crashctl_queue_messages{queue="standard",state="pending"} 1"#), "{}", stdout(&o));
}

#[test]
fn thresholds_exit_1_with_a_reason() {
    let env = TestEnv::new();
    let s = spool(&env);
    let now = Utc::now();
    save(&s, now - chrono::Duration::hours(2));
    save(&s, now);
    let sp = spool_arg(&env);
    let run = |extra: &[&str]| {
        let mut args = vec!["stats", "--format", "json", "--spool", &sp];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    assert_code(&run(&["--max-backlog", "2", "--max-age", "3h"]), 0);
    let o = run(&["--max-backlog", "1"]);
    assert_code(&o, 1);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("holds 2 crashes (--max-backlog 1)"), "{}", stderr(&o));
    assert_eq!(json(&o)["spool"]["crashes"], 2, "the data is still printed");
    let o = run(&["--max-age", "1h"]);
    assert_code(&o, 1);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-age 1h"), "{}", stderr(&o));
    // Regression: a crossed threshold was only on stderr, not in the JSON.
    let t = &json(&o)["thresholds"];
    assert_eq!(t["max_age_seconds"], 3600);
    assert!(t["crossed"][0].as_str().unwrap().contains("--max-age 1h"), "{t}");
    assert_eq!(json(&run(&["--max-backlog", "2"]))["thresholds"]["crossed"], json!([]));
}

#[test]
fn an_unreadable_section_is_a_problem_and_the_others_are_still_shown() {
    // Regression: `stats --spool s --queue missing --store st` printed nothing but the error.
    let env = TestEnv::new();
    save(&spool(&env), Utc::now());
    FsStore::open(env.store(), true).unwrap();
    let (sp, st) = (spool_arg(&env), env.store().display().to_string());
    let missing = env.path("missing").display().to_string();
    let o = env.run(&["stats", "--spool", &sp, "--queue", &missing, "--store", &st]);
    assert_code(&o, 2);
    let out = stdout(&o);
    for needle in ["!!! UNAVAILABLE queue ", "Spool ", "waiting      1 crashes", "Store ", "Problems: 1"] {
        assert!(out.contains(needle), "{needle:?} in\n{out}");
    }
    assert!(out.contains(&missing), "{out}");
    let o = env.run(&["stats", "--format", "json", "--spool", &sp, "--queue", &missing, "--store", &st]);
    assert_code(&o, 2);
    let v = json(&o);
    assert_eq!(v["spool"]["crashes"], 1);
    assert_eq!(v["store"]["raw"], 0);
    assert_eq!(v["queue"], Value::Null);
    assert_eq!(v["problems"][0]["kind"], "unavailable");
    assert_eq!(v["problems"][0]["path"], missing.as_str());
    assert!(!Path::new(&missing).exists(), "stats creates nothing");
}

#[test]
fn histogram_shows_empty_hours_and_the_minutes_of_a_young_spool() {
    // Regression: hours without crashes were left out, so a gap did not show; a spool written
    // seconds ago said "58s ago" from minute-precision timestamps.
    let env = TestEnv::new();
    let s = spool(&env);
    let now = Utc::now();
    save(&s, now - chrono::Duration::minutes(3));
    save(&s, now);
    let sp = spool_arg(&env);
    let out = stdout(&env.run(&["stats", "--spool", &sp]));
    assert!(out.contains("received per minute (UTC)"), "{out}");
    let minute = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M ").to_string();
    let empty = now - chrono::Duration::minutes(2);
    let row = out.lines().find(|l| l.contains(&minute(empty))).unwrap_or_else(|| panic!("{out}"));
    assert!(row.trim_end().ends_with(" 0"), "an empty minute shows as 0: {row}");
    assert!(out.contains("(under a minute ago)") || out.contains("(1m ago)"), "{out}");
    assert!(!out.lines().any(|l| l.contains("s ago")), "no seconds: {out}");

    save(&s, now - chrono::Duration::hours(3));
    let out = stdout(&env.run(&["stats", "--spool", &sp]));
    assert!(out.contains("received per hour (UTC)"), "{out}");
    let hour = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:00 ").to_string();
    for gap in [1, 2] {
        let row = out
            .lines()
            .find(|l| l.contains(&hour(now - chrono::Duration::hours(gap))))
            .unwrap_or_else(|| panic!("{out}"));
        if gap == 2 || chrono::Timelike::minute(&now) >= 3 {
            assert!(row.trim_end().ends_with(" 0"), "an empty hour shows as 0: {row}");
        }
    }
}

#[test]
fn missing_directories_exit_2_naming_them() {
    let env = TestEnv::new();
    for flag in ["--spool", "--queue", "--store"] {
        let missing = env.path(&format!("missing{flag}"));
        let o = env.run(&["stats", flag, &missing.display().to_string()]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains(&missing.display().to_string()), "{}", stderr(&o));
    }
}

#[test]
fn without_locations_uses_the_default_directories_that_exist() {
    let env = TestEnv::new();
    let o = env.run(&["stats"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("nothing to show"), "{}", stderr(&o));
    let s = Spool::open(env.path("crashctl-data/spool"), true).unwrap().without_fsync();
    save(&s, at(20, 10, 15));
    let v = stats_json(&env, &[]);
    assert_eq!(v["spool"]["path"], "crashctl-data/spool");
    assert_eq!(v["spool"]["crashes"], 1);
    assert_eq!((v["queue"].clone(), v["store"].clone()), (Value::Null, Value::Null));
    // A location from the environment replaces the defaults altogether.
    DirQueue::open(env.queue(), true).unwrap();
    let o = env.cmd(&["stats", "--format", "json"]).env("CRASHCTL_QUEUE", env.queue()).output().unwrap();
    assert_code(&o, 0);
    let v = json(&o);
    assert_eq!(v["spool"], Value::Null);
    assert_eq!(v["queue"]["queues"].as_array().unwrap().len(), 3);
}

#[test]
fn table_shows_every_section() {
    let env = TestEnv::new();
    save(&spool(&env), at(20, 10, 15));
    DirQueue::open(env.queue(), true).unwrap();
    FsStore::open(env.store(), true).unwrap();
    let (sp, q, st) = (spool_arg(&env), env.queue().display().to_string(), env.store().display().to_string());
    let o = env.run(&["stats", "--spool", &sp, "--queue", &q, "--store", &st]);
    assert_code(&o, 0);
    let out = stdout(&o);
    // a spool from days ago: the histogram is per day, up to today
    let today = Utc::now().format("%Y-%m-%d ").to_string();
    for needle in ["Spool ", "waiting      1 crashes", "2026-11-20 ", &today, "Queues ", "standard", "Store ", "total"]
    {
        assert!(out.contains(needle), "{needle:?} in\n{out}");
    }
}

#[test]
fn watch_reports_arrivals_and_stops_on_sigint_with_130() {
    use std::io::BufRead;
    let env = TestEnv::new();
    let s = spool(&env);
    let gone = save(&s, at(20, 10, 15));
    let sp = spool_arg(&env);
    let mut child = env
        .cmd(&["stats", "--watch", "1s", "--json", "--spool", &sp])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["spool"]["crashes"], 1);
    assert!(first.get("rates").is_none(), "no rates before a second scan");
    save(&s, at(20, 10, 16));
    s.remove(&gone).unwrap();
    // Each redraw is one JSON line; read them until both changes have been seen (or give up).
    let (mut arrived, mut drained) = (0, 0);
    for _ in 0..30 {
        let v: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        arrived += v["rates"]["spool_arrived"].as_u64().unwrap();
        drained += v["rates"]["spool_drained"].as_u64().unwrap();
        if arrived + drained == 2 {
            break;
        }
    }
    assert_eq!((arrived, drained), (1, 1));
    // SAFETY: sending SIGINT to our own child process, which is still running.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

/// Runs `crashctl ARGS` on a pseudo-terminal (util-linux `script`), returning what it printed.
pub fn on_terminal(env: &TestEnv, args: &[&str], no_color: bool) -> Option<String> {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        skip("`script` (util-linux) is not installed, no pseudo-terminal to test colors on");
        return None;
    }
    let line = std::iter::once(BIN).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &line, "/dev/null"]).current_dir(env.dir.path()).env_remove("CI");
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    let o = c.output().expect("run script");
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Asserts that every match of `line` on `screen` (from [`on_terminal`]) starts a line of its
/// own, and that the line above it is no stale progress bar (one left drawn, not cleared);
/// returns how many matches there are.
pub fn assert_never_after_a_bar(screen: &str, line: &regex::Regex) -> usize {
    let bar = regex::Regex::new(r"\[[=> ]{30}\]").unwrap();
    let starts: Vec<usize> = line.find_iter(screen).map(|m| m.start()).collect();
    for &i in &starts {
        let before = &screen[..i];
        let tail: String = before.chars().rev().take(100).collect::<Vec<_>>().into_iter().rev().collect();
        assert!(
            before.is_empty() || before.ends_with('\n') || before.ends_with("\x1b[2K"),
            "a line printed after a bar line that was not cleared: {tail:?}"
        );
        // what is still shown on the line above (after the last clear of it)
        let above = before.trim_end_matches(['\r', '\n']).rsplit('\n').next().unwrap_or("");
        let shown = above.rsplit("\x1b[2K").next().unwrap_or("");
        assert!(!bar.is_match(shown), "a stale progress bar was left above a line: {tail:?}");
    }
    starts.len()
}

#[test]
fn hot_spots_are_red_on_a_terminal_unless_no_color() {
    let env = TestEnv::new();
    let s = spool(&env);
    for _ in 0..3 {
        save(&s, at(20, 10, 15));
    }
    let spool = spool_arg(&env);
    let args = ["stats", "--spool", spool.as_str(), "--hot-spot", "2"];
    let Some(colored) = on_terminal(&env, &args, false) else { return };
    assert!(colored.contains("\x1b[1;31m"), "red on a terminal:\n{colored}");
    let plain = on_terminal(&env, &args, true).unwrap();
    assert!(plain.contains("HOT SPOT"), "{plain}");
    assert!(!plain.contains("\x1b[1;31m"), "NO_COLOR turns colors off:\n{plain}");
}

/// `GET path` on 127.0.0.1:port: (status line, body).
fn http_get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

#[test]
fn serve_answers_metrics_and_a_self_contained_page() {
    use std::io::BufRead;
    let env = TestEnv::new();
    let s = spool(&env);
    for _ in 0..3 {
        save(&s, Utc::now());
    }
    DirQueue::open(env.queue(), true)
        .unwrap()
        .publish(QueueName::Standard, &[Message::new(new_id(Throttle::Accept))])
        .unwrap();
    FsStore::open(env.store(), true).unwrap();
    let (sp, q, st) = (spool_arg(&env), env.queue().display().to_string(), env.store().display().to_string());
    let expected =
        stdout(&env.run(&["stats", "--format", "prometheus", "--spool", &sp, "--queue", &q, "--store", &st]));
    let mut child = env
        .cmd(&[
            "stats",
            "--serve",
            "127.0.0.1:0",
            "--watch",
            "1",
            "--hot-spot",
            "2",
            "--spool",
            &sp,
            "--queue",
            &q,
            "--store",
            &st,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server says where it listens");
    let addr =
        line.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("{line}")).to_string();
    // the first scan may still be running: wait for it, bounded
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (status, body) = http_get(&addr, "/metrics").unwrap();
        if status.contains("200") {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "no scan within 30 s: {status}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let families = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    let mut served = families(&metrics);
    // the hot-spot threshold differs: the entries family only has samples here
    served.remove("crashctl_spool_hot_spot_entries");
    let mut asked = families(&expected);
    asked.remove("crashctl_spool_hot_spot_entries");
    assert_eq!(served, asked, "the families of --format prometheus");
    assert!(parse_exposition(&metrics).contains(&("crashctl_spool_crashes".to_string(), 3.0)), "{metrics}");

    let (status, page) = http_get(&addr, "/").unwrap();
    assert!(status.contains("200"), "{status}");
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"1\">"), "redraws itself: {page}");
    for needle in
        ["Backlog", "Arrival and drain (per minute)", "Oldest waiting crash", "Queue depth", "Hot directories"]
    {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    assert!(page.contains("1 pending, 0 claimed, 0 failed"), "the standard queue: {page}");
    assert!(page.matches("<svg").count() >= 4, "{page}");
    assert!(!page.contains("<script") && !page.contains("src="), "no external assets: {page}");
    assert!(page.contains("spool backlog<b>3</b>"), "{page}");
    assert!(http_get(&addr, "/nope").unwrap().0.contains("404"));
    // SAFETY: sending SIGINT to our own child process, which is still running.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(std::time::Instant::now() < deadline, "the server did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
}
