use super::*;
use ::minidump::{Minidump, Module as _};
use chrono::TimeZone;
use minidump_processor::ProcessState;
use minidump_unwind::{simple_symbol_supplier, Symbolizer};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn walk(bytes: Vec<u8>, symbols: Option<&Path>) -> ProcessState {
    let dump = Minidump::read(bytes).expect("a valid minidump");
    let paths = symbols.map(|p| vec![p.to_path_buf()]).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(minidump_processor::process_minidump(&dump, &Symbolizer::new(simple_symbol_supplier(paths))))
        .expect("the dump walks")
}

#[test]
fn same_seed_same_crashes() {
    let a = Generator::new(Some(7), now()).submission();
    let b = Generator::new(Some(7), now()).submission();
    assert_eq!(a.annotations, b.annotations);
    assert_eq!(a.dumps, b.dumps);
}

#[test]
fn dumps_walk_with_symbols_to_the_scenario_frames() {
    let symdir = tempfile::tempdir().unwrap();
    assert_eq!(write_symbols(symdir.path()).unwrap(), 12, "4 modules with symbols on each of 3 OSes");
    let mut g = Generator::new(Some(42), now());
    let mut seen_os = std::collections::HashSet::new();
    let mut seen_scenarios = std::collections::HashSet::new();
    for _ in 0..40 {
        let sub = g.submission();
        seen_os.insert(format!("{:?}", sub.os));
        seen_scenarios.insert(sub.scenario);
        let scenario = SCENARIOS.iter().find(|s| s.name == sub.scenario).unwrap();
        let (name, bytes) = &sub.dumps[0];
        assert!(name.is_main());
        let state = walk(bytes.clone(), Some(symdir.path()));
        let crashing = state.requesting_thread.expect("the exception names the crashing thread");
        let frames = &state.threads[crashing].frames;
        assert!(frames.len() >= scenario.frames.len(), "{}: {} frames", sub.scenario, frames.len());
        for (frame, (key, func)) in frames.iter().zip(scenario.frames) {
            let module = catalog::modules(sub.os).iter().find(|m| m.key == *key).unwrap();
            assert_eq!(frame.module.as_ref().map(|m| m.code_file().into_owned()).as_deref(), Some(module.code_file));
            let expected = module.functions[*func];
            if module.symbols {
                assert_eq!(frame.function_name.as_deref(), Some(expected), "{}", sub.scenario);
            } else {
                assert_eq!(frame.function_name, None);
            }
        }
        assert!(state.exception_info.is_some());
    }
    assert_eq!(seen_os.len(), 3);
    assert!(seen_scenarios.len() >= 5, "{seen_scenarios:?}");
}

#[test]
fn annotations_and_ids() {
    let sub = Generator::new(Some(1), now()).submission();
    for key in ["ProductName", "Version", "ReleaseChannel", "BuildID", "CrashTime", "StartupTime"] {
        assert!(sub.annotations.contains_key(key), "{key}");
    }
    let crash = sub.into_crash(now());
    assert_eq!(crash.raw["uuid"], crash.id.as_str());
    assert_eq!(crash.id.date(), now().date_naive());
    assert!(crash.dump("upload_file_minidump").is_some());
}

#[test]
fn symbol_files_give_rust_functions_rs_sources() {
    assert_eq!(
        source_file("style::properties::cascade::cascade_rules::h91b0d2c4e6f8a1b3"),
        "/builds/worker/checkouts/gecko/style/properties/cascade.rs"
    );
    assert!(source_file("nsThread::ProcessNextEvent(bool, bool*)").ends_with("/nsThread.cpp"));
    assert!(source_file("mozalloc_abort").ends_with(".cpp"));
}

#[test]
fn padded_main_module_symbols_are_large_and_frames_still_resolve() {
    let symdir = tempfile::tempdir().unwrap();
    let size = 2u64 << 20;
    assert_eq!(write_symbols_sized(symdir.path(), size).unwrap(), 12);
    for os in Os::ALL {
        for m in catalog::modules(os).iter().filter(|m| m.symbols) {
            let stem = m.debug_file.strip_suffix(".pdb").unwrap_or(m.debug_file);
            let path = symdir.path().join(m.debug_file).join(synth::debug_id(m)).join(format!("{stem}.sym"));
            let text = std::fs::read_to_string(&path).unwrap();
            if m.key == MAIN_MODULE {
                assert!(text.len() as u64 >= size, "{}: {} bytes", m.debug_file, text.len());
                let funcs = text.lines().filter(|l| l.starts_with("FUNC ")).count();
                assert!(funcs > 5000, "{funcs} functions");
                assert!(text.lines().any(|l| l.starts_with("STACK CFI INIT ")));
                // names of realistic length: the padding averages tens of bytes, some over 100
                let long = text.lines().filter(|l| l.starts_with("FUNC ") && l.len() > 120).count();
                assert!(long > funcs / 20, "{long} of {funcs} long names");
            } else {
                assert!(text.len() < 10_000, "{} is not padded", m.debug_file);
            }
        }
    }
    // every crash still walks to its scenario's frames (in the main module among them)
    let mut g = Generator::new(Some(5), now());
    for _ in 0..6 {
        let sub = g.submission();
        let scenario = SCENARIOS.iter().find(|s| s.name == sub.scenario).unwrap();
        assert!(scenario.frames.iter().any(|(k, _)| *k == MAIN_MODULE), "{}", sub.scenario);
        let state = walk(sub.dumps[0].1.clone(), Some(symdir.path()));
        let frames = &state.threads[state.requesting_thread.unwrap()].frames;
        for (frame, (key, func)) in frames.iter().zip(scenario.frames) {
            let module = catalog::modules(sub.os).iter().find(|m| m.key == *key).unwrap();
            if module.symbols {
                assert_eq!(frame.function_name.as_deref(), Some(module.functions[*func]), "{}", sub.scenario);
            }
        }
    }
    assert!(write_symbols_sized(symdir.path(), MAX_PADDED_SIZE + 1).is_err());
}
