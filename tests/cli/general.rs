//! Things every command shares: help, version, completions, man page, exit codes.

use crate::common::*;

#[test]
fn help_and_version() {
    let env = TestEnv::new();
    let o = env.run(&["--help"]);
    assert_code(&o, 0);
    for sub in ["collect", "submit", "move", "process", "requeue", "stats", "reprocess"] {
        assert!(stdout(&o).contains(sub), "--help lists {sub}");
        let o = env.run(&[sub, "--help"]);
        assert_code(&o, 0);
    }
    let o = env.run(&["--version"]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("crashctl "), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    assert_code(&env.run(&["no-such-command"]), 2);
    assert_code(&env.run(&["stats", "--no-such-flag"]), 2);
}

#[test]
fn completions_and_man_page() {
    let env = TestEnv::new();
    let o = env.run(&["completions", "bash"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("crashctl"));
    let o = env.run(&["man"]);
    assert_code(&o, 0);
    let man = stdout(&o);
    assert!(man.contains(".TH crashctl"), "roff header");
    assert!(man.contains("crashctl-move"), "a page per subcommand");
}
