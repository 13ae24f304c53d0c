//! One exit-code rule for every command: 0 ok or nothing to do, 1 some items failed, 2 usage
//! error or invalid input (after doing the valid items), 130 interrupted (see move_ and stats).

use crate::common::*;

const VALID_MISSING: &str = "de1bb258-cbbf-4589-a673-34f800160918";
const INVALID: &str = "not-a-crash-id";

/// A store with one generated crash; its ID.
fn store_with_one(env: &TestEnv) -> String {
    let o = env.run(&["generate", "-n", "1", "--seed", "7", "--store", env.store().to_str().unwrap()]);
    assert_code(&o, 0);
    stdout(&o).trim().to_string()
}

#[test]
fn invalid_crash_id_is_2_in_every_command_that_takes_ids() {
    let env = TestEnv::new();
    let id = store_with_one(&env);
    let store = env.store().to_str().unwrap().to_string();
    let queue = env.queue().to_str().unwrap().to_string();
    // the valid ID is still done; the invalid one makes it 2
    let o = env.run(&["process", "--store", &store, "--no-save", &id, INVALID]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains(INVALID), "names the bad input: {}", stderr(&o));
    assert!(stderr(&o).contains("processed 1 crashes"), "{}", stderr(&o));
    let o = env.run(&["reprocess", "--store", &store, "--queue", &queue, &id, INVALID]);
    assert_code(&o, 2);
    assert!(stdout(&o).contains(&id), "the valid ID was published: {}", stdout(&o));
    assert_code(&env.run(&["reprocess", "--store", &store, "--now", "--no-save", INVALID]), 2);
    assert_code(&env.run(&["reprocess", "--host", "http://127.0.0.1:9", INVALID]), 2);
    assert_code(&env.run(&["requeue", "--queue", &queue, &id, INVALID]), 2);
    // the Crash Stats commands refuse an invalid ID before any request (nothing listens on :9)
    assert_code(&env.run(&["fetch", "--host", "http://127.0.0.1:9", "--store", &store, INVALID]), 2);
    assert_code(&env.run(&["signature", "--host", "http://127.0.0.1:9", INVALID]), 2);
    let o = env.run(&["submit", "--from-store", &store, env.path("spool").to_str().unwrap(), INVALID]);
    assert_code(&o, 2);
}

#[test]
fn nothing_to_do_is_0_in_every_command() {
    let env = TestEnv::new();
    let store = env.store().to_str().unwrap().to_string();
    let queue = env.queue().to_str().unwrap().to_string();
    std::fs::create_dir_all(env.store()).unwrap();
    std::fs::create_dir_all(env.spool()).unwrap();
    let spool = env.spool().to_str().unwrap().to_string();
    // stdin is /dev/null: no IDs
    assert_code(&env.run(&["process", "--store", &store]), 0);
    assert_code(&env.run(&["reprocess", "--store", &store, "--queue", &queue]), 0);
    assert_code(&env.run(&["reprocess", "--host", "http://127.0.0.1:9"]), 0);
    assert_code(&env.run(&["fetch", "--host", "http://127.0.0.1:9", "--store", &store]), 0);
    assert_code(&env.run(&["signature", "--host", "http://127.0.0.1:9"]), 0);
    assert_code(&env.run(&["requeue", "--queue", &queue]), 0);
    assert_code(&env.run(&["submit", "--from-store", &store, &spool]), 0);
    assert_code(&env.run(&["move", "--spool", &spool, "--store", &store, "--queue", &queue]), 0);
    assert_code(&env.run(&["stats", "--spool", &spool]), 0);
    assert_code(&env.run(&["generate", "-n", "0", "--store", &store]), 0);
}

#[test]
fn some_items_failed_is_1() {
    let env = TestEnv::new();
    let id = store_with_one(&env);
    let store = env.store().to_str().unwrap().to_string();
    // a valid ID whose crash is not in the store
    assert_code(&env.run(&["process", "--store", &store, "--no-save", &id, VALID_MISSING]), 1);
    assert_code(&env.run(&["reprocess", "--store", &store, "--now", "--no-save", &id, VALID_MISSING]), 1);
    let queue = env.queue().to_str().unwrap().to_string();
    assert_code(&env.run(&["reprocess", "--store", &store, "--queue", &queue, &id, VALID_MISSING]), 1);
    // a collector that is not there: the crash failed
    let o = env.run(&["submit", "http://127.0.0.1:9", "--from-store", &store, "--retries", "0", "--timeout", "5"]);
    assert_code(&o, 1);
    // a stats threshold crossed
    let o = env.run(&["stats", "--store", &store, "--queue", &queue, "--max-backlog", "0"]);
    assert_code(&o, 1);
}

#[test]
fn usage_errors_are_2_in_every_command() {
    let env = TestEnv::new();
    for args in [
        &["collect", "--max-body-size", "25X"][..],
        &["submit"],
        &["move", "--older-than", "soon"],
        &["process", "--format", "prometheus"],
        &["requeue", "--ruleset", "../x", VALID_MISSING],
        &["stats", "--watch", "0"],
        &["reprocess", "--symbols-path", "x", VALID_MISSING],
        &["generate", "-n", "x"],
        &["demo", "--no-such-flag"],
        &["completions", "no-such-shell"],
        &["man", "no-such-command"],
    ] {
        let o = env.run(args);
        assert_code(&o, 2);
        let err = stderr(&o);
        assert!(err.starts_with("crashctl: error: "), "{args:?}: one error style: {err}");
        assert!(!err.contains('\x1b'), "no colour off a terminal: {err:?}");
    }
}
