//! Things every command shares: help (headings, examples), version, completions, man pages,
//! the error style, durations, formats, the config file.

use crate::common::*;

const COMMANDS: [&str; 15] = [
    "collect",
    "submit",
    "move",
    "process",
    "requeue",
    "stats",
    "reprocess",
    "search",
    "facet",
    "fetch",
    "signature",
    "demo",
    "generate",
    "completions",
    "man",
];

#[test]
fn help_and_version() {
    let env = TestEnv::new();
    let o = env.run(&["--help"]);
    assert_code(&o, 0);
    for sub in COMMANDS {
        assert!(stdout(&o).contains(sub), "--help lists {sub}");
    }
    let o = env.run(&["--version"]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("crashctl "), "{}", stdout(&o));
}

#[test]
fn every_command_has_examples_and_grouped_flags() {
    let env = TestEnv::new();
    for sub in COMMANDS {
        let o = env.cmd(&[sub, "--help"]).env("COLUMNS", "80").output().unwrap();
        assert_code(&o, 0);
        let help = stdout(&o);
        let examples = help.split_once("Example").map(|(_, e)| e).unwrap_or_else(|| panic!("{sub}: no Examples"));
        // every example is one whole command line (not wrapped in the middle)
        for line in examples.lines().skip(1).take_while(|l| !l.trim().is_empty()) {
            assert!(line.trim_start().starts_with("crashctl "), "{sub}: example line {line:?}");
        }
    }
    let o = env.run(&["move", "--help"]);
    let help = stdout(&o);
    for heading in ["Locations:", "Remote backends:", "Output:", "Tuning:"] {
        assert!(help.contains(heading), "move --help has {heading}\n{help}");
    }
    let (options, _) = help.split_once("Locations:").unwrap();
    assert!(!options.contains("--s3-endpoint-url"), "S3 flags are under Remote backends");
    // a command's own flags stay under Options, not under the heading of a group before them
    let help = stdout(&env.run(&["process", "--help"]));
    let (options, _) = help.split_once("Locations:").unwrap();
    assert!(options.contains("--follow") && options.contains("--dump"), "{help}");
    let o = env.run(&["reprocess", "--help"]);
    assert!(stdout(&o).contains("Processing:") && stdout(&o).contains("--symbol-cache-modules"));
}

#[test]
fn usage_errors_exit_2_in_the_one_error_style() {
    let env = TestEnv::new();
    for args in [&["no-such-command"][..], &["stats", "--no-such-flag"]] {
        let o = env.run(args);
        assert_code(&o, 2);
        assert!(stderr(&o).starts_with("crashctl: error: "), "{}", stderr(&o));
    }
    // an error of the command itself: the same style
    let o = env.run(&["stats", "--spool", "/no/such/dir"]);
    assert_code(&o, 2);
    assert!(stderr(&o).starts_with("crashctl: error: "), "{}", stderr(&o));
}

#[test]
fn completions_and_one_man_page_per_command() {
    let env = TestEnv::new();
    let o = env.run(&["completions", "bash"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("crashctl"));
    let o = env.run(&["man"]);
    assert_code(&o, 0);
    let man = stdout(&o);
    assert!(man.contains(".TH CRASHCTL 1"), "roff header: {man}");
    assert!(!man.contains(".TH CRASHCTL-MOVE"), "one page, not a concatenated stream");
    let dir = env.path("man1");
    let o = env.run(&["man", "--out", dir.to_str().unwrap()]);
    assert_code(&o, 0);
    for sub in COMMANDS {
        let page = std::fs::read_to_string(dir.join(format!("crashctl-{sub}.1")))
            .unwrap_or_else(|e| panic!("crashctl-{sub}.1: {e}"));
        assert!(page.contains(&format!(".TH CRASHCTL-{}", sub.to_uppercase())), "{sub}");
        assert!(page.contains(".SH EXAMPLES"), "{sub}: examples");
        assert!(!page.contains("EXTRA"), "{sub}: no EXTRA section");
    }
    assert!(std::fs::read_to_string(dir.join("crashctl.1")).unwrap().contains(".SH SUBCOMMANDS"));
    let o = env.run(&["man", "process"]);
    assert!(stdout(&o).contains(".TH CRASHCTL-PROCESS"), "{}", stdout(&o));
}

#[test]
fn every_duration_flag_takes_the_same_grammar() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.spool()).unwrap();
    let spool = env.spool().to_str().unwrap().to_string();
    // a bare number is seconds; units work everywhere
    for d in ["30", "30s", "5m", "2h"] {
        assert_code(&env.run(&["stats", "--spool", &spool, "--max-age", d]), 0);
        assert_code(&env.run(&["move", "--spool", &spool, "--dry-run", "--older-than", d]), 0);
    }
    let o = env.run(&["stats", "--spool", &spool, "--max-age", "soon"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("30s"), "says what a duration looks like: {}", stderr(&o));
}

#[test]
fn json_is_short_for_format_json() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.spool()).unwrap();
    let spool = env.spool().to_str().unwrap().to_string();
    let a = env.run(&["stats", "--spool", &spool, "--json"]);
    assert_code(&a, 0);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("--json gives JSON");
    assert!(v["spool"].is_object(), "{v}");
    // the old spelling of text stays as a hidden alias
    assert_code(&env.run(&["stats", "--spool", &spool, "--format", "table"]), 0);
    assert_code(&env.run(&["stats", "--spool", &spool, "--json", "--format", "text"]), 2);
}

#[test]
fn relative_config_paths_are_relative_to_the_config_file() {
    let env = TestEnv::new();
    let conf_dir = env.path("conf");
    std::fs::create_dir_all(conf_dir.join("data/spool")).unwrap();
    std::fs::write(conf_dir.join("crashctl.toml"), "spool = \"data/spool\"\n").unwrap();
    // run from the temp dir, with a relative --config path: the spool is conf/data/spool
    let o = env.run(&["stats", "--config", "conf/crashctl.toml", "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let path = v["spool"]["path"].as_str().unwrap_or_default().to_string();
    assert!(path.ends_with("conf/data/spool"), "{v}");
}

#[test]
fn quiet_and_verbose() {
    let env = TestEnv::new();
    let store = env.store().to_str().unwrap().to_string();
    let o = env.run(&["generate", "-n", "1", "--store", &store]);
    let id = stdout(&o).trim().to_string();
    let o = env.run(&["process", "--store", &store, "--no-save", &id]);
    assert!(stderr(&o).contains("processed 1 crashes"), "{}", stderr(&o));
    let o = env.run(&["process", "-q", "--store", &store, "--no-save", &id]);
    assert_code(&o, 0);
    assert_eq!(stderr(&o), "", "--quiet");
    let o = env.run(&["process", "-v", "--store", &store, "--no-save", &id]);
    assert!(stderr(&o).contains(&format!("crashctl: {id}:")), "-v: a line per crash: {}", stderr(&o));
    // move: which spool, store and queue; submit: each request and its answer
    let spool = env.spool().to_str().unwrap().to_string();
    let o = env.run(&["submit", "-v", &spool, "--from-store", &store, &id]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains(&format!("crashctl: crash 0 ({id}): HTTP 200 after 1 attempt")), "{}", stderr(&o));
    let queue = env.queue().to_str().unwrap().to_string();
    let o = env.run(&["move", "-v", "--spool", &spool, "--store", &store, "--queue", &queue]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains(&format!("crashctl: spool {spool}")), "{}", stderr(&o));
    assert!(stderr(&o).contains("batches of"), "{}", stderr(&o));
    let o = env.run(&["move", "--spool", &spool, "--store", &store, "--queue", &queue]);
    assert!(!stderr(&o).contains("batches of"), "no detail without -v: {}", stderr(&o));
    assert_code(&env.run(&["-q", "-v", "stats"]), 2);
}

#[test]
fn error_colour_only_on_a_terminal_and_never_with_no_color() {
    let env = TestEnv::new();
    let Some(coloured) = crate::stats::on_terminal(&env, &["stats", "--no-such-flag"], false) else { return };
    assert!(coloured.contains("crashctl: "), "{coloured}");
    assert!(coloured.contains('\x1b'), "colour on a terminal: {coloured:?}");
    let plain = crate::stats::on_terminal(&env, &["stats", "--no-such-flag"], true).unwrap();
    assert!(plain.contains("crashctl: error: "), "{plain}");
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    // the command's own errors: the same
    let plain = crate::stats::on_terminal(&env, &["stats", "--spool", "/no/such/dir"], true).unwrap();
    assert!(plain.contains("crashctl: error: ") && !plain.contains('\x1b'), "{plain:?}");
    let coloured = crate::stats::on_terminal(&env, &["stats", "--spool", "/no/such/dir"], false).unwrap();
    assert!(coloured.contains("\x1b[1;31merror:"), "{coloured:?}");
}

#[test]
fn reprocess_now_takes_the_processing_options_of_process() {
    let env = TestEnv::new();
    let store = env.store().to_str().unwrap().to_string();
    let o = env.run(&["generate", "-n", "1", "--store", &store]);
    let id = stdout(&o).trim().to_string();
    for cmd in [&["process"][..], &["reprocess", "--now"]] {
        let mut args = cmd.to_vec();
        args.extend(["--store", &store, "--no-save", "--symbol-cache-modules", "5", "--timeout", "30", &id]);
        assert_code(&env.run(&args), 0);
    }
}
