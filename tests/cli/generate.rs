//! `crashctl generate`.

use crate::common::*;
use crashctl::crash::CrashId;
use crashctl::store::{CrashStore, FsStore};

#[test]
fn generates_crashes_into_a_store_with_symbols() {
    let env = TestEnv::new();
    let store = env.store();
    let syms = env.path("symbols");
    let o = env.run(&[
        "generate",
        "-n",
        "5",
        "--seed",
        "3",
        "--store",
        store.to_str().unwrap(),
        "--symbols",
        syms.to_str().unwrap(),
    ]);
    assert_code(&o, 0);
    let ids: Vec<CrashId> = stdout(&o).lines().map(|l| CrashId::parse_strict(l).unwrap()).collect();
    assert_eq!(ids.len(), 5);
    let s = FsStore::open(&store, false).unwrap();
    for id in &ids {
        let c = s.get_crash(id).unwrap();
        assert_eq!(c.raw["uuid"], id.as_str());
        let dump = c.dump("upload_file_minidump").expect("main dump");
        let bytes = dump.data.read().unwrap();
        assert_eq!(&bytes[..4], b"MDMP");
    }
    let sym_files = walkdir::WalkDir::new(&syms)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sym"))
        .count();
    assert_eq!(sym_files, 12);
}

#[test]
fn json_output_names_scenarios() {
    let env = TestEnv::new();
    let o = env.run(&["generate", "-n", "3", "--store", env.store().to_str().unwrap(), "--format", "json"]);
    assert_code(&o, 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3);
    for l in lines {
        assert!(l["scenario"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(CrashId::parse_strict(l["crash_id"].as_str().unwrap()).is_ok());
    }
}

#[test]
fn symbols_size_pads_the_main_module_and_processing_still_names_its_frames() {
    let env = TestEnv::new();
    let store = env.store();
    let syms = env.path("symbols");
    let (store_s, syms_s) = (store.to_str().unwrap(), syms.to_str().unwrap());
    let o = env.run(&[
        "generate",
        "-n",
        "3",
        "--seed",
        "4",
        "--store",
        store_s,
        "--symbols",
        syms_s,
        "--symbols-size",
        "3M",
    ]);
    assert_code(&o, 0);
    let sizes: Vec<(String, u64)> = walkdir::WalkDir::new(&syms)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sym"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .collect();
    assert_eq!(sizes.len(), 12);
    let big: Vec<&(String, u64)> = sizes.iter().filter(|(_, len)| *len >= 3 << 20).collect();
    assert_eq!(big.len(), 3, "one main module per OS is padded: {sizes:?}");
    assert!(big.iter().all(|(name, _)| name.to_lowercase().contains("xul")), "{sizes:?}");
    let ids: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let mut args = vec!["process", "--store", store_s, "--symbols-path", syms_s, "--format", "json", "--"];
    args.extend(ids.iter().map(String::as_str));
    let p = env.run(&args);
    assert_code(&p, 0);
    let s = FsStore::open(&store, false).unwrap();
    for id in &ids {
        let processed = s.get_processed(&CrashId::parse_strict(id).unwrap()).unwrap().expect("saved");
        let dump = &processed["json_dump"];
        let crashing = dump["crash_info"]["crashing_thread"].as_u64().unwrap() as usize;
        let frames = dump["threads"][crashing]["frames"].as_array().unwrap();
        let xul: Vec<_> =
            frames.iter().filter(|f| f["module"].as_str().is_some_and(|m| m.to_lowercase().contains("xul"))).collect();
        assert!(!xul.is_empty(), "{id}: no frame in the main module");
        for f in xul {
            assert!(f["function"].as_str().is_some_and(|n| !n.is_empty()), "{id}: unsymbolized {f}");
        }
    }
    // --symbols-size needs --symbols
    assert_code(&env.run(&["generate", "-n", "1", "--store", store_s, "--symbols-size", "1M"]), 2);
}

#[test]
fn the_pipe_example_of_the_help_works_by_design() {
    // Regression: the example failed 2 runs of 5 with "store ./crashes: no such directory" (the
    // reader opened the store before the writer of the pipe had made it).
    let help = stdout(&TestEnv::new().run(&["generate", "--help"]));
    let example = help.lines().map(str::trim).find(|l| l.contains("| crashctl process")).expect("a pipe example");
    let line = example.replace("crashctl ", &format!("{BIN} "));
    for _ in 0..3 {
        let env = TestEnv::new();
        let o = std::process::Command::new("sh").arg("-c").arg(&line).current_dir(env.dir.path()).output().unwrap();
        assert_code(&o, 0);
        assert!(stderr(&o).contains("processed 20 crashes"), "{}", stderr(&o));
    }
    // by design: a process reading IDs from a pipe opens the store only once they are all in
    let env = TestEnv::new();
    let store = env.store().display().to_string();
    let mut child = env
        .cmd(&["process", "--store", &store])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = new_id(crashctl::crash::Throttle::Accept);
    FsStore::open(env.store(), true).unwrap().put_crash(&sample_crash(&id)).unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{id}").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 0);
    assert!(FsStore::open(env.store(), false).unwrap().get_processed(&id).unwrap().is_some());
}

#[test]
fn crash_ids_never_share_a_line_with_the_progress_bar_on_a_terminal() {
    // Regression (issue 16): generate drew no bar; its ID lines go through the bar now.
    let env = TestEnv::new();
    let store = env.store().display().to_string();
    let Some(screen) = crate::stats::on_terminal(&env, &["generate", "-n", "200", "--store", &store], true) else {
        return;
    };
    assert!(screen.contains("/200 crashes ["), "a progress bar on a terminal: {screen}");
    let ids = regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{6}[0-9]{6}").unwrap();
    assert_eq!(crate::stats::assert_never_after_a_bar(&screen, &ids), 200, "{screen}");
}
