//! Processor tests on synthetic minidumps (minidump-synth) and, when present, the shared
//! testdata dumps.

use minidump_synth::{Exception, Memory, Module, SynthMinidump, SystemInfo, Thread};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use test_assembler::{Endian, Section};

use super::*;
use crate::crash::{DumpData, DumpName, RawCrash};
use crate::store::FsStore;

const ID: &str = "de1bb258-cbbf-4589-a673-34f800160918";

/// A Windows x86 dump: one thread that crashed (EXCEPTION_ACCESS_VIOLATION) at `eip`, inside
/// a module `app.exe` loaded at 0x400000.
fn synth_dump(eip: u32) -> Vec<u8> {
    let context = minidump_synth::x86_context(Endian::Little, eip, 0x1010);
    let stack = Memory::with_section(Section::with_endian(Endian::Little).append_repeated(0, 0x100), 0x1000);
    let thread = Thread::new(Endian::Little, 0x1234, &stack, &context);
    let mut system_info = SystemInfo::new(Endian::Little);
    system_info.platform_id = 2; // VER_PLATFORM_WIN32_NT
    system_info.number_of_processors = 4;
    let mut exception = Exception::new(Endian::Little);
    exception.thread_id = 0x1234;
    exception.exception_record.exception_code = 0xc0000005;
    exception.exception_record.exception_address = u64::from(eip);
    let name = minidump_synth::DumpString::new("c:\\app\\app.exe", Endian::Little);
    let module = Module::new(Endian::Little, 0x400000, 0x10000, &name, 0, 0, None);
    SynthMinidump::with_endian(Endian::Little)
        .add_thread(thread)
        .add_exception(exception)
        .add_system_info(system_info)
        .add_module(module)
        .add(name)
        .add(context)
        .add_memory(stack)
        .finish()
        .expect("synthetic minidump")
}

fn processor() -> Processor {
    let options = ProcessorOptions { timeout: Duration::from_secs(20), concurrency: 2, ..ProcessorOptions::default() };
    Processor::new(options).unwrap()
}

fn crash_with(dumps: &[(&str, Vec<u8>)]) -> Crash {
    let mut raw = RawCrash::new();
    raw.insert("ProductName".into(), "Firefox".into());
    raw.insert("Version".into(), "140.0.1".into());
    raw.insert("ReleaseChannel".into(), "release".into());
    raw.insert("BuildID".into(), "20250101000000".into());
    raw.insert("ProcessType".into(), "content".into());
    raw.insert("CrashTime".into(), "1735732800".into());
    raw.insert("StartupTime".into(), "1735732700".into());
    raw.insert("InstallTime".into(), "1735700000".into());
    raw.insert("submitted_timestamp".into(), "2025-01-01T12:00:10+00:00".into());
    raw.insert("metadata".into(), json!({"collector_notes": ["note"]}));
    let mut crash = Crash::new(CrashId::parse_lax(ID).unwrap(), raw);
    for (name, bytes) in dumps {
        crash.add_dump(DumpName::parse(name).unwrap(), DumpData::Bytes(bytes.clone().into()));
    }
    crash
}

use crate::testutil::testdata;

#[test]
fn a_synthetic_crash_gets_every_field_from_its_source() {
    let p = processor()
        .process_crash(&crash_with(&[("upload_file_minidump", synth_dump(0x401000))]), None, Ruleset::Default)
        .to_map();
    assert_eq!(p["uuid"], ID);
    assert_eq!(p["crash_id"], ID);
    assert_eq!(p["product"], "Firefox");
    assert_eq!(p["version"], "140.0.1");
    assert_eq!(p["major_version"], 140);
    assert_eq!(p["release_channel"], "release");
    assert_eq!(p["build"], "20250101000000");
    assert_eq!(p["process_type"], "content");
    assert_eq!(p["mdsw_status_string"], "OK");
    assert_eq!(p["success"], true);
    assert_eq!(p["os_name"], "Windows NT");
    assert_eq!(p["cpu_arch"], "x86");
    assert_eq!(p["cpu_count"], 4);
    assert_eq!(p["reason"], "EXCEPTION_ACCESS_VIOLATION");
    assert_eq!(p["crashing_thread"], 0);
    assert_eq!(p["thread_count"], 1);
    assert_eq!(p["json_dump"]["threads"][0]["frames"][0]["module"], "app.exe");
    assert_eq!(p["crash_time"], 1735732800);
    assert_eq!(p["uptime"], 100);
    assert_eq!(p["install_age"], 32800);
    assert_eq!(p["date_processed"], "2025-01-01T12:00:10+00:00");
    assert_eq!(p["collector_metadata"], json!({"collector_notes": ["note"]}));
    assert!(p["crash_report_keys"].as_array().unwrap().contains(&json!("upload_file_minidump")));
    assert!(p["crash_report_keys"].as_array().unwrap().contains(&json!("ProductName")));
    assert_eq!(p["additional_minidumps"], json!([]));
    assert!(p["started_datetime"].as_str().unwrap() <= p["completed_datetime"].as_str().unwrap());
    assert!(p.contains_key("signature") && p.contains_key("proto_signature"));
}

#[test]
fn other_minidumps_go_under_their_own_name() {
    let crash = crash_with(&[
        ("upload_file_minidump", synth_dump(0x401000)),
        ("upload_file_minidump_browser", synth_dump(0x402000)),
        ("memory_report", b"not a minidump".to_vec()),
    ]);
    let p = processor().process_crash(&crash, None, Ruleset::Default).to_map();
    assert_eq!(p["additional_minidumps"], json!(["upload_file_minidump_browser"]));
    assert_eq!(p["upload_file_minidump_browser"]["mdsw_status_string"], "OK");
    assert_eq!(p["upload_file_minidump_browser"]["json_dump"]["crash_info"]["address"], "0x00402000");
    assert!(!p.contains_key("memory_report"));
}

#[test]
fn an_empty_dump_is_not_walked() {
    let p =
        processor().process_crash(&crash_with(&[("upload_file_minidump", vec![])]), None, Ruleset::Default).to_map();
    assert_eq!(p["mdsw_status_string"], "EmptyMinidump");
    assert_eq!(p["success"], false);
    assert_eq!(p["json_dump"], json!({}));
    assert!(p["processor_notes"].as_str().unwrap().contains("EmptyMinidump"));
    assert!(p.contains_key("signature"));
}

#[test]
fn a_crash_without_a_minidump_is_still_processed() {
    let p = processor().process_crash(&crash_with(&[]), None, Ruleset::Default).to_map();
    assert_eq!(p["success"], false);
    assert!(p["processor_notes"].as_str().unwrap().contains("no upload_file_minidump"));
    assert_eq!(p["os_name"], "Unknown");
}

#[test]
fn reprocessing_keeps_the_old_notes_in_the_history() {
    let processor = processor();
    let crash = crash_with(&[("upload_file_minidump", vec![])]);
    let first = processor.process_crash(&crash, None, Ruleset::Default).to_map();
    let second = processor.process_crash(&crash, Some(&first), Ruleset::Default).to_map();
    let third = processor.process_crash(&crash, Some(&second), Ruleset::Default).to_map();
    let history = third["processor_history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["processor_notes"], first["processor_notes"]);
    assert_eq!(history[0]["completed_datetime"], first["completed_datetime"]);
    assert_eq!(history[1]["completed_datetime"], second["completed_datetime"]);
}

#[test]
fn regenerate_signature_keeps_the_rest_of_the_processed_crash() {
    let processor = processor();
    let crash = crash_with(&[("upload_file_minidump", synth_dump(0x401000))]);
    let mut first = processor.process_crash(&crash, None, Ruleset::Default).to_map();
    first.insert("signature".into(), "old | signature".into());
    let again = processor
        .process_crash(&Crash::new(crash.id.clone(), crash.raw.clone()), Some(&first), Ruleset::RegenerateSignature)
        .to_map();
    assert_eq!(again["json_dump"], first["json_dump"]);
    assert_ne!(again["signature"], "old | signature");
    assert!(again["processor_notes"].as_str().unwrap().contains("signature changed: old | signature ->"));
    assert_eq!(again["processor_history"].as_array().unwrap().len(), 1);
}

#[test]
fn process_ids_saves_reports_outcomes_and_errors_per_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path(), true).unwrap();
    store.put_crash(&crash_with(&[("upload_file_minidump", synth_dump(0x401000))])).unwrap();
    let missing = CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160919").unwrap();
    let jobs = vec![
        (CrashId::parse_lax(ID).unwrap(), None),
        (missing.clone(), None),
        (CrashId::parse_lax(ID).unwrap(), Some("no_such_ruleset".to_string())),
    ];
    let seen = std::sync::Mutex::new(Vec::new());
    let summary = processor().process_ids(&store, &jobs, &RunOptions::default(), &|o, p| {
        seen.lock().unwrap().push((o.clone(), p.is_some()));
    });
    assert_eq!((summary.ok, summary.error, summary.saved), (1, 2, 1));
    let seen = seen.into_inner().unwrap();
    let missing_outcome = seen.iter().find(|(o, _)| o.id == missing).unwrap();
    assert_eq!(missing_outcome.0.status, ProcessStatus::Error);
    assert!(!missing_outcome.1);
    assert!(seen.iter().any(|(o, _)| o.error.as_deref().unwrap_or("").contains("unknown ruleset")));
    let saved = store.get_processed(&CrashId::parse_lax(ID).unwrap()).unwrap().unwrap();
    assert_eq!(saved["mdsw_status_string"], "OK");
}

#[test]
fn real_dumps_are_symbolicated_and_corrupt_ones_named() {
    let Some(data) = testdata() else { return };
    let options = ProcessorOptions {
        symbols: SymbolOptions { paths: vec![data.join("symbols")], ..SymbolOptions::default() },
        ..ProcessorOptions::default()
    };
    let processor = Processor::new(options).unwrap();
    let p = processor.process_file(&data.join("minidumps/test.dmp"), None).unwrap().1.to_map();
    let functions: Vec<&str> = p["json_dump"]["crashing_thread"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["function"].as_str())
        .collect();
    assert!(functions.contains(&"main"), "{functions:?}");
    assert!(functions.iter().any(|f| f.contains("CrashFunction")), "{functions:?}");
    let (outcome, p) = processor.process_file(&data.join("minidumps/invalid-range.dmp"), None).unwrap();
    let p = p.to_map();
    assert_eq!(p["mdsw_status_string"], "MissingThreadList");
    assert_eq!(p["success"], false);
    assert_eq!(outcome.status, ProcessStatus::StackwalkFailed);
    assert!(p["signature"].is_string());
}

#[test]
fn a_full_symbol_cache_starts_afresh_and_walks_the_same() {
    let Some(data) = testdata() else { return };
    let dump = data.join("minidumps/test.dmp");
    let with = |max_cached_modules| {
        let symbols =
            SymbolOptions { paths: vec![data.join("symbols")], max_cached_modules, ..SymbolOptions::default() };
        Processor::new(ProcessorOptions { symbols, ..ProcessorOptions::default() }).unwrap()
    };
    let walk = |p: &Processor| p.process_file(&dump, None).unwrap().1.to_map()["json_dump"].clone();
    let unbounded = with(None);
    let reference = walk(&unbounded);
    assert_eq!(reference["crashing_thread"]["frames"][0]["missing_symbols"], false, "symbols were used");
    walk(&unbounded);
    assert_eq!(unbounded.symbol_cache_renewals(), 0);
    // the dump has more than one module: every walk fills a cache bounded at one
    let tiny = with(Some(1));
    for n in 1..=2 {
        assert_eq!(walk(&tiny), reference, "walk {n} with the bounded cache");
        assert_eq!(tiny.symbol_cache_renewals(), n);
    }
    let roomy = with(Some(10_000));
    walk(&roomy);
    walk(&roomy);
    assert_eq!(roomy.symbol_cache_renewals(), 0);
}

/// Seeded mutations of valid dumps: truncations, bit flips, random bytes.
fn mutations(base: &[u8], seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = vec![Vec::new(), base[..base.len().min(32)].to_vec()];
    for i in 0..count {
        let mut m = base.to_vec();
        match i % 3 {
            0 => m.truncate(rng.random_range(0..base.len())),
            1 => {
                for _ in 0..rng.random_range(1..16) {
                    let at = rng.random_range(0..m.len());
                    m[at] ^= 1 << rng.random_range(0..8);
                }
            }
            _ => {
                let keep = rng.random_range(0..64.min(m.len()));
                for b in &mut m[keep..] {
                    *b = rng.random();
                }
            }
        }
        out.push(m);
    }
    out
}

#[test]
fn hostile_dumps_always_give_a_processed_crash() {
    let processor = processor();
    let mut bases = vec![synth_dump(0x401000)];
    if let Some(data) = testdata() {
        for name in ["test.dmp", "linux-mini.dmp", "simple-crashpad.dmp"] {
            bases.push(std::fs::read(data.join("minidumps").join(name)).unwrap());
        }
    }
    for (i, base) in bases.iter().enumerate() {
        for dump in mutations(base, i as u64, 60) {
            let p = processor
                .process_crash(&crash_with(&[("upload_file_minidump", dump)]), None, Ruleset::Default)
                .to_map();
            let status = p["mdsw_status_string"].as_str().expect("a stackwalker status");
            assert!(!status.is_empty());
            assert_eq!(p["success"], Value::Bool(status == "OK"));
            assert!(p["signature"].is_string());
        }
    }
}

#[test]
fn extreme_crash_times_do_not_overflow_the_dates_rule() {
    // Regression (found by tests/cli/faults/fuzz.rs): `CrashTime - StartupTime` overflowed i64
    // for edge values, so the dates rule panicked (debug) or wrapped (release).
    let mut crash = crash_with(&[]);
    crash.raw.insert("CrashTime".into(), "-9223372036854775808".into());
    crash.raw.insert("StartupTime".into(), "1".into());
    crash.raw.insert("InstallTime".into(), "9223372036854775807".into());
    let p = processor().process_crash(&crash, None, Ruleset::Default).to_map();
    assert!(!p["processor_notes"].as_str().unwrap().contains("panicked"), "{}", p["processor_notes"]);
    assert_eq!(p["uptime"], 0);
    assert_eq!(p["install_age"], i64::MIN);
    assert_eq!(p["crash_time"], i64::MIN);
}

#[test]
fn the_truncate_rule_cuts_every_long_stack_and_flags_the_crashing_thread() {
    let processor = processor();
    let crash = crash_with(&[]);
    let frames: Vec<Value> = (0..600).map(|i| json!({"frame": i})).collect();
    let mut previous = ProcessedCrash::new();
    let thread = json!({"frames": frames});
    previous
        .insert("json_dump".into(), json!({"threads": [thread.clone(), {"frames": []}], "crashing_thread": thread}));
    let tools = &processor.tools;
    let mut cx = rules::CrashContext { crash: &crash, processed: previous, json_dump: None, notes: vec![], tools };
    let rule: Vec<Box<dyn rules::ProcessorRule>> = vec![Box::new(rules::TruncateStacks)];
    rules::run_rules("default", &rule, &mut cx);
    let dump = &cx.processed["json_dump"];
    assert_eq!(dump["threads"][0]["frames"].as_array().unwrap().len(), 500);
    assert_eq!(dump["threads"][0]["frames"][250], json!({"truncated": {"msg": "101 frames truncated"}}));
    assert_eq!(dump["crashing_thread"]["frames"].as_array().unwrap().len(), 500);
    assert_eq!(cx.processed["truncated"], true);
    assert!(cx.notes.is_empty());
}

#[tokio::test]
async fn a_processor_can_be_made_and_dropped_in_async_code() {
    // Regression: dropping a tokio runtime inside an async context panics.
    let processor = tokio::task::spawn_blocking(processor).await.unwrap();
    drop(processor);
}
