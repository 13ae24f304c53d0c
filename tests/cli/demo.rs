//! `crashctl demo`: the whole local pipeline in one command.

use crate::common::*;
use crashctl::store::{CrashStore, FsStore};

#[test]
fn demo_runs_the_whole_pipeline_in_its_own_folder() {
    let env = TestEnv::new();
    let o = env.run(&["demo", "--dir", "walk", "-n", "6", "--quiet"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    for step in ["crashctl generate", "crashctl collect", "crashctl submit", "crashctl move", "crashctl process"] {
        assert!(out.contains(&format!("$ {step} ")), "shows `{step}`:\n{out}");
    }
    let store = FsStore::open(env.path("walk/store"), false).unwrap();
    let day = store.list_dates().unwrap();
    assert_eq!(day.len(), 1);
    let raw = store.list_raw(day[0]).unwrap().ids;
    assert_eq!(raw.len(), 6, "every submitted crash reached the store");
    for id in &raw {
        let p = store.get_processed(id).unwrap().expect("processed");
        assert_eq!(p["success"], true, "{id}");
        assert!(p["signature"].as_str().is_some_and(|s| !s.is_empty() && !s.starts_with("EMPTY")), "{id}");
    }
    let counted: u64 = out
        .split("Signatures (crashes grouped by what crashed)")
        .nth(1)
        .expect("signature table")
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, 6);
    // the command the demo suggests at the end works as printed (regression: it lacked --all)
    let hint = out.lines().find(|l| l.trim_start().starts_with("crashctl reprocess")).expect("a reprocess hint");
    let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let o = env.run(&args);
    assert_code(&o, 0);
}

#[test]
fn demo_refuses_a_folder_that_is_not_empty() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("busy")).unwrap();
    std::fs::write(env.path("busy/file"), "x").unwrap();
    let o = env.run(&["demo", "--dir", "busy"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("busy"), "{}", stderr(&o));
}
