//! `crashctl requeue`: IDs from arguments and stdin, stale claims (a live claim is left
//! alone), dead letters with --match, quarantine, unprocessed crashes, dry run.

use std::time::Duration;

use chrono::NaiveDate;
use crashctl::crash::{Crash, CrashId, RawCrash, Throttle};
use crashctl::queue::{CrashQueue, DirQueue, Message, QueueName};
use crashctl::store::{CrashStore, FsStore};

use crate::common::*;
use crate::move_::{drain_queue, minutes_ago, seed, spool, spooled};

fn requeue(env: &TestEnv, extra: &[&str]) -> std::process::Output {
    let q = env.queue();
    let mut args = vec!["requeue", "--queue", q.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    env.run(&args)
}

fn queue(env: &TestEnv) -> DirQueue {
    DirQueue::open(env.queue(), true).unwrap()
}

#[test]
fn ids_from_arguments_validated_and_deduplicated() {
    let env = TestEnv::new();
    let a = new_id(Throttle::Accept);
    let b = new_id(Throttle::Accept);
    let url = format!("https://crash-stats.mozilla.org/report/index/{a}");
    let bp = format!("bp-{b}");
    let args =
        [a.as_str(), &url, &bp, "not-a-crash-id", "--queue-name", "priority", "--ruleset", "regenerate_signature"];
    let o = requeue(&env, &args);
    assert_code(&o, 2); // one input was invalid (the valid ones were requeued all the same)
    let r = json(&o);
    assert_eq!(r["duplicates"], 1);
    assert_eq!(r["invalid"][0]["input"], "not-a-crash-id");
    assert_eq!(r["requeued"].as_array().unwrap().len(), 2);
    let expected = vec![format!("{a}:regenerate_signature"), format!("{b}:regenerate_signature")];
    assert_eq!(drain_queue(&env, QueueName::Priority), expected);
    assert!(drain_queue(&env, QueueName::Standard).is_empty());
}

#[test]
fn ids_from_stdin_default_to_standard() {
    let env = TestEnv::new();
    let ids: Vec<CrashId> = (0..3).map(|_| new_id(Throttle::Accept)).collect();
    let input = ids.iter().map(|i| format!("{i}\n")).collect::<String>();
    let q = env.queue();
    let o = env.run_stdin(&["requeue", "--queue", q.to_str().unwrap()], &input);
    assert_code(&o, 0);
    let text = stdout(&o);
    let listed: Vec<&str> = text.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(CrashId::as_str).collect::<Vec<_>>(), "text output: one ID per line");
    assert_eq!(drain_queue(&env, QueueName::Standard), ids.iter().map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn stale_requeues_expired_claims_but_not_a_live_one() {
    let env = TestEnv::new();
    let q = queue(&env);
    let (dead, alive) = (new_id(Throttle::Accept), new_id(Throttle::Accept));
    q.publish(QueueName::Standard, &[Message::new(dead.clone()), Message::new(alive.clone())]).unwrap();
    let dead_claim = q.claim(&[QueueName::Standard], Duration::ZERO).unwrap().unwrap();
    // a reader holding its claim (not expired) while requeue runs
    let live_claim = q.claim(&[QueueName::Standard], Duration::from_secs(300)).unwrap().unwrap();
    assert_eq!((&dead_claim.message.id, &live_claim.message.id), (&dead, &alive));
    let o = requeue(&env, &["--stale", "--dry-run"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["stale_expired"], 1);
    let o = requeue(&env, &["--stale"]);
    assert_code(&o, 0);
    let r = json(&o);
    assert_eq!(r["requeued"].as_array().unwrap().len(), 1);
    assert_eq!(r["requeued"][0]["body"], dead.as_str());
    q.ack(&live_claim).expect("the live reader still holds its claim");
    assert_eq!(drain_queue(&env, QueueName::Standard), vec![dead.to_string()]);
}

#[test]
fn failed_messages_requeued_by_error_text() {
    let env = TestEnv::new();
    let q = queue(&env);
    let (missing, broken) = (new_id(Throttle::Accept), new_id(Throttle::Accept));
    q.publish(QueueName::Reprocessing, &[Message::new(missing.clone()), Message::new(broken.clone())]).unwrap();
    let c1 = q.claim(&QueueName::ALL, Duration::from_secs(60)).unwrap().unwrap();
    q.fail(&c1, "no raw crash in the store").unwrap();
    let c2 = q.claim(&QueueName::ALL, Duration::from_secs(60)).unwrap().unwrap();
    q.fail(&c2, "stackwalker crashed").unwrap();
    let o = requeue(&env, &["--failed", "--match", "RAW CRASH", "--dry-run"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["requeued"][0]["body"], missing.as_str());
    assert_eq!(q.failed().unwrap().len(), 2, "dry run changes nothing");
    let o = requeue(&env, &["--failed", "--match", "raw crash"]);
    assert_code(&o, 0);
    let r = json(&o);
    assert_eq!(
        (r["requeued"][0]["body"].as_str(), r["requeued"][0]["to"].as_str()),
        (Some(missing.as_str()), Some("reprocessing"))
    );
    assert_eq!(q.failed().unwrap().len(), 1);
    assert_eq!(drain_queue(&env, QueueName::Reprocessing), vec![missing.to_string()]);
    // garbage in the dead letters is reported as invalid and left there
    std::fs::write(env.queue().join("standard/failed/00000000000000000001-1-0000000000"), "garbage").unwrap();
    let o = requeue(&env, &["--failed"]);
    assert_code(&o, 1);
    assert_eq!(json(&o)["invalid"][0]["input"], "garbage");
}

#[test]
fn quarantined_crashes_go_back_into_the_spool() {
    let env = TestEnv::new();
    let ids = seed(&env, 2, minutes_ago(10), Throttle::Accept);
    let s = spool(&env);
    for e in s.iter().map(Result::unwrap) {
        s.quarantine(&e, "raw crash is not JSON").unwrap();
    }
    assert!(spooled(&env).is_empty());
    let sp = env.spool();
    let unknown = new_id(Throttle::Accept);
    let o = env.run(&["requeue", "--quarantined", "--spool", sp.to_str().unwrap(), ids[0].as_str(), unknown.as_str()]);
    assert_code(&o, 1); // the unknown ID is not in quarantine
    assert_eq!(spooled(&env), vec![ids[0].clone()]);
    let o = env.run(&["requeue", "--quarantined", "--spool", sp.to_str().unwrap(), "--format", "json"]);
    assert_code(&o, 0);
    assert_eq!(json(&o)["requeued"][0]["to"], "spool");
    assert_eq!(spooled(&env).len(), 2);
    assert!(s.quarantined().unwrap().0.is_empty());
}

#[test]
fn unprocessed_crashes_of_a_day_or_a_range_are_queued() {
    let env = TestEnv::new();
    let store = FsStore::open(env.store(), true).unwrap();
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let put = |d, t| {
        let id = CrashId::generate(t, day(d));
        store.put_crash(&Crash::new(id.clone(), RawCrash::new())).unwrap();
        id
    };
    let (a, done, deferred, b) =
        (put(24, Throttle::Accept), put(24, Throttle::Accept), put(24, Throttle::Defer), put(25, Throttle::Accept));
    store.put_processed(&done, &RawCrash::new()).unwrap();
    let st = env.store();
    let o = requeue(&env, &["--unprocessed", "--store", st.to_str().unwrap(), "--date", "2026-11-24"]);
    assert_code(&o, 0);
    let r = json(&o);
    assert_eq!(r["requeued"].as_array().unwrap().len(), 1);
    assert_eq!(r["requeued"][0]["body"], a.as_str());
    assert_eq!(r["deferred_skipped"], 1);
    let args =
        ["--unprocessed", "--store", st.to_str().unwrap(), "--from", "2026-11-23", "--to", "2026-11-25", "--dry-run"];
    let o = requeue(&env, &args);
    let r = json(&o);
    let bodies: Vec<&str> = r["requeued"].as_array().unwrap().iter().map(|v| v["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec![a.as_str(), b.as_str()]);
    assert!(!bodies.contains(&deferred.as_str()));
    assert_eq!(drain_queue(&env, QueueName::Standard), vec![a.to_string()], "the dry run queued nothing");
}

#[test]
fn usage_errors() {
    let env = TestEnv::new();
    assert_code(&requeue(&env, &["--unprocessed"]), 2);
    assert_code(&requeue(&env, &["--stale", "--queue-name", "priority"]), 2);
    assert_code(&requeue(&env, &["--ruleset", "../x", "de1bb258-cbbf-4589-a673-34f800160918"]), 2);
    assert_code(&requeue(&env, &["--queue-name", "normal", "de1bb258-cbbf-4589-a673-34f800160918"]), 2);
}

#[test]
fn a_missing_queue_is_an_error_for_stale_and_failed_and_is_not_created() {
    // Regression: `requeue --stale --queue nosuchdir` created the directory and exited 0.
    let env = TestEnv::new();
    let missing = env.path("nosuchdir");
    for flag in ["--stale", "--failed"] {
        let o = env.run(&["requeue", flag, "--queue", &missing.display().to_string()]);
        assert_code(&o, 2);
        assert!(stderr(&o).contains("nosuchdir"), "{}", stderr(&o));
        assert!(!missing.exists(), "{flag} created the queue");
    }
}
