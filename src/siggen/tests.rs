//! Tests of the whole generator: processed crash in, signature and notes out. Cases marked
//! "Upstream:" are ported from socorro-siggen's `tests/test_rules.py` and
//! `tests/test_signature_generator.py`; the `mozilla_lists` module runs them against Mozilla's
//! real lists from `../shared/testdata/siglists` when that folder exists.

use serde_json::{json, Value};

use super::rules::{CrashData, SigResult, SignatureRule};
use super::*;

/// A processed crash whose `json_dump` has these threads.
fn processed(os: &str, crashing_thread: Value, threads: Value) -> ProcessedCrash {
    let dump = json!({
        "crash_info": {"crashing_thread": crashing_thread, "type": "EXCEPTION_ACCESS_VIOLATION_READ"},
        "system_info": {"os": os},
        "threads": threads,
    });
    obj(json!({ "json_dump": dump, "mdsw_status_string": "OK" }))
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn frame(function: &str, module: &str) -> Value {
    json!({"function": function, "module": module, "module_offset": "0x0000000000001000", "offset": "0x00007ff600001000"})
}

/// A crash whose crashing thread has frames with these function names.
fn crash_with_functions(functions: &[&str]) -> ProcessedCrash {
    let frames: Vec<Value> = functions.iter().map(|f| frame(f, "libxul.so")).collect();
    processed("Linux", json!(0), json!([{ "frames": frames }]))
}

fn builtin() -> SignatureGenerator {
    SignatureGenerator::new(SigLists::builtin())
}

fn sign(raw: Value, processed: &ProcessedCrash) -> Signature {
    builtin().generate(&obj(raw), processed)
}

/// Upstream's FRAMES_FROM_JSON_DUMP (test_rules.py), with one function replaced by `frame1`.
fn frames_from_json_dump(frame1: &str, frame2: &str) -> Value {
    let mut frames = vec![
        json!({"function": "NtWaitForMultipleObjects", "module": "ntdll.dll", "module_offset": "0x2015d", "offset": "0x77ad015d"}),
        json!({"function": frame1, "module": "KERNELBASE.dll", "module_offset": "0x115f6", "offset": "0x775e15f6"}),
        json!({"function": frame2, "module": "kernel32.dll", "module_offset": "0x119f7", "offset": "0x766119f7"}),
        json!({"function": "RealMsgWaitForMultipleObjectsEx(void **fakeargs)", "module": "user32.dll", "module_offset": "0x20869", "offset": "0x77370869"}),
        json!({"function": "MsgWaitForMultipleObjects", "module": "user32.dll", "module_offset": "0x20b68", "offset": "0x77370b68"}),
    ];
    let flash = [
        (
            "F117835525________________________________________",
            "F_1152915508__________________________________",
            118,
            "0x36a13b",
        ),
        (
            "F_851861807_______________________________________",
            "F2166389______________________________________",
            552,
            "0x35faf5",
        ),
        (
            "F_851861807_______________________________________",
            "F_917831355___________________________________",
            488,
            "0x360a7b",
        ),
        (
            "F_851861807_______________________________________",
            "F1315696776________________________________",
            439,
            "0x35e2fd",
        ),
        (
            "F_766591945_______________________________________",
            "F_1428703866________________________________",
            203,
            "0x35bf21",
        ),
    ];
    frames.extend(flash.iter().map(|(file, function, line, off)| {
        json!({"file": file, "function": function, "line": line, "module": "NPSWF32_14_0_0_125.dll", "module_offset": off, "offset": "0x5e3aa13b"})
    }));
    json!({ "frames": frames })
}

const FLASH_TAIL: &str = "MsgWaitForMultipleObjects | F_1152915508__________________________________ | \
    F2166389______________________________________ | F_917831355___________________________________ | \
    F1315696776________________________________ | F_1428703866________________________________";

// Upstream: test_signature_generator.py test_empty_dicts. A missing crashing thread means
// thread 0 in siggen 2.x, so "EMPTY: no crashing thread identified" no longer happens.
#[test]
fn empty_crash_has_no_frame_data() {
    let sig = builtin().generate(&RawCrash::new(), &ProcessedCrash::new());
    assert_eq!(sig.signature, "EMPTY: no frame data available");
    assert_eq!(sig.notes, ["SignatureGenerationRule: CSignatureTool: no frame data for crashing thread (0)"]);
    assert_eq!(sig.proto_signature, "");
}

#[test]
fn empty_signatures_carry_the_stackwalker_status() {
    let mut p = ProcessedCrash::new();
    p.insert("mdsw_status_string".into(), json!("MissingThreadList"));
    let sig = builtin().generate(&RawCrash::new(), &p);
    assert_eq!(sig.signature, "EMPTY: no frame data available; MissingThreadList");

    let p = processed("Linux", json!(0), json!([{ "frames": [] }]));
    let sig = builtin().generate(&RawCrash::new(), &p);
    assert_eq!(sig.signature, "EMPTY: no frame data available; OK");
    assert_eq!(sig.notes, ["SignatureGenerationRule: CSignatureTool: no frame data for crashing thread (0)"]);
}

#[test]
fn without_a_crashing_thread_thread_zero_is_used() {
    let p = processed("Linux", Value::Null, json!([{ "frames": [frame("main", "app")] }]));
    assert_eq!(builtin().generate(&RawCrash::new(), &p).signature, "main");
}

#[test]
fn cpp_rust_and_module_frames_are_normalized() {
    let frames = json!([{ "frames": [
        {"function": "static void mozilla::dom::Foo<int>::Bar(int, char const*) const", "module": "xul.dll", "module_offset": "0x10"},
        {"function": "`anonymous namespace'::Baz(int)", "module": "xul.dll", "module_offset": "0x20"},
        {"function": "core::ptr::drop_in_place<alloc::vec::Vec<u8>>::h0123456789abcdef", "file": "/rustc/abc/library/core/src/ptr/mod.rs", "module": "xul.dll", "module_offset": "0x30"},
        {"file": "/build/src/dom/Foo.cpp", "line": 42, "module": "xul.dll", "module_offset": "0x40"},
        {"module": "XUL.dll", "module_offset": "0x0000000000000050"},
        {"offset": "0x00007ff600001234"},
    ]}]);
    let p = processed("Windows NT", json!(0), frames);
    let sig = builtin().generate(&RawCrash::new(), &p);
    assert_eq!(
        sig.proto_signature,
        "mozilla::dom::Foo<T>::Bar | (anonymous namespace)::Baz | core::ptr::drop_in_place<T> | Foo.cpp#42 | \
         xul.dll | @0x7ff600001234"
    );
    assert_eq!(sig.signature, "mozilla::dom::Foo<T>::Bar");
}

#[test]
fn prefix_frames_are_kept_and_irrelevant_frames_skipped() {
    let p = crash_with_functions(&["__GI_raise", "__GI_abort", "memcpy", "nsFoo::Bar(int)", "main"]);
    let sig = sign(json!({}), &p);
    assert_eq!(sig.signature, "memcpy | nsFoo::Bar");
    assert_eq!(sig.proto_signature, "__GI_raise | __GI_abort | memcpy | nsFoo::Bar | main");
    assert!(sig.notes.is_empty(), "{:?}", sig.notes);
}

#[test]
fn rust_panics_start_at_the_sentinel() {
    let mut p = crash_with_functions(&[
        "std::sys::unix::abort_internal",
        "std::process::abort",
        "rust_panic",
        "core::panicking::panic_fmt",
        "core::panicking::panic",
        "my_crate::parser::parse_header::h1234abcd",
        "main",
    ]);
    // Rust rules (the hash goes) apply to frames whose source file ends in `.rs`.
    p["json_dump"]["threads"][0]["frames"][5]["file"] = json!("/build/my_crate/src/parser.rs");
    assert_eq!(sign(json!({}), &p).signature, "my_crate::parser::parse_header");
}

#[test]
fn oom_small_and_large() {
    let p = crash_with_functions(&["mozalloc_handle_oom(unsigned long)", "moz_xmalloc", "nsFoo::Grow()"]);
    assert_eq!(sign(json!({"OOMAllocationSize": "17"}), &p).signature, "OOM | small");
    assert_eq!(sign(json!({"OOMAllocationSize": "262144"}), &p).signature, "OOM | small");
    assert_eq!(
        sign(json!({"OOMAllocationSize": "17000000"}), &p).signature,
        "OOM | large | mozalloc_handle_oom | moz_xmalloc | nsFoo::Grow"
    );
    // Upstream: TestOOMSignature.test_action_success (a fragment without a size)
    assert_eq!(sign(json!({}), &p).signature, "OOM | unknown | mozalloc_handle_oom | moz_xmalloc | nsFoo::Grow");
}

#[test]
fn oom_from_reason_and_last_error_value() {
    let mut p = crash_with_functions(&["nsFoo::Bar"]);
    p["json_dump"]["crash_info"]["type"] = json!("STATUS_NO_MEMORY");
    assert_eq!(sign(json!({}), &p).signature, "OOM | unknown | nsFoo::Bar");
    let mut p = crash_with_functions(&["nsFoo::Bar"]);
    p["json_dump"]["threads"][0]["last_error_value"] = json!("ERROR_COMMITMENT_LIMIT");
    assert_eq!(sign(json!({}), &p).signature, "OOM | unknown | nsFoo::Bar");
}

// Upstream: TestOOMSignature.test_predicate_js_large_allocation_failure, test_action_js_large_allocation_failure
#[test]
fn js_large_allocation_failures_are_large_ooms() {
    let p = crash_with_functions(&["js::AutoEnterOOMUnsafeRegion::crash"]);
    let sig = sign(json!({"JSLargeAllocationFailure": "Reporting", "OOMAllocationSize": "17"}), &p);
    assert_eq!(sig.signature, "OOM | large | js::AutoEnterOOMUnsafeRegion::crash");
    let p = crash_with_functions(&["foo"]);
    assert_eq!(sign(json!({"JSLargeAllocationFailure": "Reported"}), &p).signature, "foo");
}

#[test]
fn repeated_module_only_frames_merge() {
    let frames = json!([{ "frames": [
        {"function": "memcpy", "module": "libc.so.6"},
        {"module": "libfoo.so", "module_offset": "0x10", "offset": "0x1010"},
        {"module": "libfoo.so", "module_offset": "0x20", "offset": "0x1020"},
        {"module": "libbar.so", "module_offset": "0x30", "offset": "0x1030"},
    ]}]);
    let lists = SigLists::from_texts([("i", "zzz"), ("p", "memcpy\nlibfoo"), ("l", "")], "").unwrap();
    let sig = SignatureGenerator::new(lists).generate(&RawCrash::new(), &processed("Linux", json!(0), frames));
    assert_eq!(sig.signature, "memcpy | libfoo.so | libbar.so");
    assert_eq!(sig.proto_signature, "memcpy | libfoo.so | libfoo.so | libbar.so");
}

#[test]
fn java_exceptions_from_the_annotation() {
    let exception = json!({"exception": {"values": [{"stacktrace": {"frames": [
        {"module": "org.mozilla.fenix.ext.AddonManagerKt", "function": "getFenixAddons", "filename": "AddonManager.kt"}
    ], "type": "IOException", "module": "java.io"}}]}});
    let p = crash_with_functions(&["foo"]);
    let sig = sign(json!({ "JavaException": exception.to_string() }), &p);
    assert_eq!(
        sig.signature,
        "java.io.IOException: at org.mozilla.fenix.ext.AddonManagerKt.getFenixAddons(AddonManager.kt)"
    );
    assert_eq!(sig.proto_signature, "");
}

// Upstream: TestAbortSignature.test_action_success_remove_unwanted_parts and friends
#[test]
fn abort_messages() {
    let p = crash_with_functions(&["hello"]);
    let cases = [
        ("unknown", "Abort | unknown | hello"),
        ("[5392] ###!!! ABORT: foo bar line 42", "Abort | foo bar line 42 | hello"),
        (
            "[7616] ###!!! ABORT: unsafe destruction: file c:/builds/moz2_slave/m-rel-w32-00000000000000000000/build/src/dom/plugins/ipc/PluginModuleParent.cpp, line 777",
            "Abort | unsafe destruction | hello",
        ),
        ("[204] ###!!! ABORT: file ?, ", "Abort | hello"),
        ("[4648] ###!!! ABORT: file resource:///modules/sessionstore/SessionStore.jsm, line 1459", "Abort | hello"),
        ("unable to find a usable font (\u{5fae}\u{8f6f}\u{96c5}\u{9ed1})", "Abort | unable to find a usable font | hello"),
        ("\u{18a} unknown", "Abort | unknown | hello"),
    ];
    for (message, expected) in cases {
        assert_eq!(sign(json!({ "AbortMessage": message }), &p).signature, expected, "{message}");
    }
    let long = "a".repeat(81);
    assert_eq!(sign(json!({ "AbortMessage": long }), &p).signature, format!("Abort | {}... | hello", "a".repeat(77)));
    assert_eq!(sign(json!({ "AbortMessage": "" }), &p).signature, "hello");
}

#[test]
fn stack_overflow_and_bad_hardware() {
    let mut p = crash_with_functions(&["js::RunScript"]);
    p["json_dump"]["crash_info"]["type"] = json!("EXCEPTION_STACK_OVERFLOW");
    assert_eq!(sign(json!({}), &p).signature, "stackoverflow | js::RunScript");
    p["json_dump"]["crash_info"]["type"] = json!("EXCEPTION_IN_PAGE_ERROR_READ / STATUS_DEVICE_DATA_ERROR");
    assert_eq!(sign(json!({}), &p).signature, "bad hardware | js::RunScript");
}

// Upstream: TestSignatureWatchDogRule.test_action, with the thread-0 stack built from the
// built-in lists (see `mozilla_lists` for the upstream expectation).
#[test]
fn shutdown_hangs_are_signed_from_thread_zero() {
    let threads = json!([
        { "frames": [frame("nsThread::ProcessNextEvent(bool, bool*)", "xul.dll"), frame("main", "firefox.exe")] },
        { "frames": [frame("mozilla::(anonymous namespace)::RunWatchdog(void*)", "xul.dll")] },
    ]);
    let p = processed("Windows NT", json!(1), threads);
    let sig = sign(json!({}), &p);
    assert_eq!(sig.signature, "shutdownhang | nsThread::ProcessNextEvent");
    assert_eq!(sig.proto_signature, "nsThread::ProcessNextEvent | main");
}

#[test]
fn async_shutdown_timeouts() {
    let p = crash_with_functions(&["foo"]);
    let ast = json!({"phase": "profile-before-change", "conditions": [{"name": "b"}, "a"]}).to_string();
    let sig = sign(json!({ "AsyncShutdownTimeout": ast }), &p);
    assert_eq!(sig.signature, "AsyncShutdownTimeout | profile-before-change | a,b");
    assert_eq!(
        sig.notes,
        ["SignatureShutdownTimeout: Signature replaced with a Shutdown Timeout signature, was: \"foo\""]
    );

    let ast = json!({"phase": "x", "conditions": []}).to_string();
    assert_eq!(sign(json!({ "AsyncShutdownTimeout": ast }), &p).signature, "AsyncShutdownTimeout | x | (none)");
    let ast = json!({"conditions": [{"nom": 1}]}).to_string();
    let sig = sign(json!({ "AsyncShutdownTimeout": ast }), &p);
    assert_eq!(sig.signature, "AsyncShutdownTimeout | (unknown) | UNKNOWN");
    assert_eq!(sig.notes[0], "SignatureShutdownTimeout: Error parsing AsyncShutdownTimeout: 'name'");
    // Upstream: test_action_missing_valueerror
    let sig = sign(json!({ "AsyncShutdownTimeout": "{{{{" }), &p);
    assert_eq!(sig.signature, "AsyncShutdownTimeout | UNKNOWN");
    assert!(sig.notes[0].starts_with("SignatureShutdownTimeout: Error parsing AsyncShutdownTimeout: "));
    // Upstream: test_action_missing_keyerror, test_action_success_string_conditions
    let ast = json!({"no": "phase or condition"}).to_string();
    assert_eq!(sign(json!({ "AsyncShutdownTimeout": ast }), &p).signature, "AsyncShutdownTimeout | (unknown) | (none)");
    let ast = json!({"phase": "beginning", "conditions": ["A", "C", "B"]}).to_string();
    assert_eq!(sign(json!({ "AsyncShutdownTimeout": ast }), &p).signature, "AsyncShutdownTimeout | beginning | A,B,C");
    // Not an object: upstream's rule fails and the signature stays.
    let sig = sign(json!({ "AsyncShutdownTimeout": "[1]" }), &p);
    assert_eq!(sig.signature, "foo");
    assert_eq!(sig.notes, ["SignatureShutdownTimeout: Rule failed: 'list' object has no attribute 'get'"]);
}

// Upstream: TestSignatureIPCChannelError
#[test]
fn ipc_channel_errors_stomp_on_the_signature() {
    let p = crash_with_functions(&["foo"]);
    let sig = sign(json!({"ipc_channel_error": "ShutDownKill"}), &p);
    assert_eq!(sig.signature, "IPCError-content | ShutDownKill");
    assert_eq!(sig.notes, ["SignatureIPCChannelError: IPC Channel Error stomped on signature"]);

    let mut browser = p.clone();
    browser.insert("additional_minidumps".into(), json!(["upload_file_minidump_browser"]));
    assert_eq!(
        sign(json!({"ipc_channel_error": "ShutDownKill"}), &browser).signature,
        "IPCError-browser | ShutDownKill"
    );
    let long = "x".repeat(150);
    let sig = sign(json!({"IPCChannelError": long, "additional_minidumps": "browser"}), &p);
    assert_eq!(sig.signature, format!("IPCError-browser | {}", "x".repeat(100)));
}

#[test]
fn ipc_message_names_and_hangs() {
    let p = crash_with_functions(&["foo"]);
    // Upstream: TestSignatureIPCMessageName.test_action_success
    assert_eq!(sign(json!({"IPCMessageName": "foo, bar"}), &p).signature, "foo | IPC_Message_Name=foo, bar");
    // Upstream: TestHungProcess.test_action_success
    assert_eq!(sign(json!({"Hang": "ui"}), &p).signature, "hang: ui | foo");
    // MozCrashReason is not a signature rule in siggen 2.x.
    let reason = "MOZ_RELEASE_ASSERT(parentBuildID == childBuildID)";
    assert_eq!(sign(json!({ "MozCrashReason": reason }), &p).signature, "foo");
}

// Upstream: TestSignatureGenerationRule.test_java_stack_trace
#[test]
fn java_stack_traces_win_over_native_frames() {
    let p = crash_with_functions(&["foo"]);
    let trace = format!("   SomeJavaException: {}  \nat org.mozilla.lars.myInvention(larsFile.java)", "t".repeat(1000));
    let sig = sign(json!({ "JavaStackTrace": trace }), &p);
    assert_eq!(sig.signature, "SomeJavaException: at org.mozilla.lars.myInvention(larsFile.java)");
    assert_eq!(sig.proto_signature, "");
    assert_eq!(
        sig.notes,
        ["SignatureGenerationRule: JavaSignatureTool: dropped Java exception description due to length"]
    );
}

// Upstream: TestSigFixWhitespace.test_whitespace_fixing, TestSigTruncate
#[test]
fn whitespace_is_folded_and_long_signatures_are_cut() {
    let p = crash_with_functions(&["foo"]);
    let sig = sign(json!({"ipc_channel_error": " all \t good\u{a0}\n now "}), &p);
    assert_eq!(sig.signature, "IPCError-content | all good now");

    let long: Vec<String> = (0..40).map(|i| format!("memcpy{i:02}_{}", "x".repeat(20))).collect();
    let mut p = crash_with_functions(&long.iter().map(String::as_str).collect::<Vec<_>>());
    p["json_dump"]["threads"][0]["frames"][0]["function"] = json!("memcpy");
    let sig = sign(json!({}), &p);
    assert_eq!(sig.signature.chars().count(), 255);
    assert!(sig.signature.ends_with("..."), "{}", sig.signature);
    assert!(sig.notes.contains(&"SigTruncate: SigTrunc: signature truncated due to length".to_string()));
}

#[test]
fn inline_frames_come_before_their_frame() {
    let threads = json!([{ "frames": [
        {"function": "nsFoo::Outer()", "module": "xul.dll", "module_offset": "0x10",
         "inlines": [{"function": "memcpy", "file": "string.h", "line": 10},
                     {"function": "nsFoo::Inner(int)", "file": "/src/Foo.h", "line": 20}]},
    ]}]);
    let sig = builtin().generate(&RawCrash::new(), &processed("Windows NT", json!(0), threads));
    assert_eq!(sig.proto_signature, "memcpy | nsFoo::Inner | nsFoo::Outer");
    assert_eq!(sig.signature, "memcpy | nsFoo::Inner");
}

#[test]
fn the_generator_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<SignatureGenerator>();
    let generator = builtin();
    let p = crash_with_functions(&["memcpy", "nsFoo::Bar"]);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (g, p) = (generator.clone(), p.clone());
            std::thread::spawn(move || g.generate(&RawCrash::new(), &p).signature)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "memcpy | nsFoo::Bar");
    }
}

struct FailingRule;

impl SignatureRule for FailingRule {
    fn name(&self) -> &'static str {
        "BadRule"
    }
    fn action(&self, _: &SigLists, _: &CrashData<'_>, _: &mut SigResult) -> Result<(), String> {
        Err("cough".into())
    }
}

// Upstream: test_signature_generator.py test_failing_rule
#[test]
fn a_failing_rule_adds_a_note_and_the_pipeline_goes_on() {
    static FAILING: FailingRule = FailingRule;
    let rules: Vec<&'static dyn SignatureRule> = vec![&FAILING, &rules::SigFixWhitespace];
    let generator = SignatureGenerator::with_rules(SigLists::builtin(), rules);
    let result = generator.generate_detailed(&RawCrash::new(), &ProcessedCrash::new());
    assert_eq!(result.signature, "");
    assert_eq!(result.notes, ["BadRule: Rule failed: cough"]);
}

#[test]
fn the_debug_log_records_each_decision() {
    let p = crash_with_functions(&["__GI_raise", "memcpy", "nsFoo::Bar"]);
    let result = builtin().generate_detailed(&RawCrash::new(), &p);
    let log = result.debug_log.join("\n");
    assert!(log.contains("SignatureGenerationRule: irrelevant; ignoring: \"__GI_raise\""), "{log}");
    assert!(log.contains("SignatureGenerationRule: prefix; continue iterating: \"memcpy\""), "{log}");
    assert!(log.contains("SignatureGenerationRule: not a prefix; stop: \"nsFoo::Bar\""), "{log}");
    assert_eq!(result.normalized_frames, ["__GI_raise", "memcpy", "nsFoo::Bar"]);
}

/// The same upstream cases against Mozilla's lists (`../shared/testdata/siglists`).
mod mozilla_lists {
    use super::*;

    fn generator() -> Option<SignatureGenerator> {
        let dir = crate::testutil::testdata_with(&["siglists"])?.join("siglists");
        Some(SignatureGenerator::new(SigLists::load(&dir).expect("Mozilla's lists load")))
    }

    #[test]
    fn every_list_entry_compiles_and_loads() {
        let Some(g) = generator() else { return };
        let lists = g.lists();
        assert!(lists.irrelevant.len() > 200, "{}", lists.irrelevant.len());
        assert!(lists.prefix.len() > 200, "{}", lists.prefix.len());
        assert!(lists.sentinels.contains("_purecall"));
        // Python escapes that the regex crate reads differently.
        assert!(lists.prefix.is_match("<name omitted>"));
        assert!(lists.irrelevant.is_match("<env_logger::Logger as log::Log>::log::{{closure}}"));
        assert!(lists.irrelevant.is_match("@0x7ff600001234"));
        assert!(!lists.irrelevant.is_match("@0x0"));
    }

    // Upstream: TestSignatureGenerationRule.test_c_stack_trace
    #[test]
    fn c_stack_trace() {
        let Some(g) = generator() else { return };
        let threads =
            json!([frames_from_json_dump("WaitForMultipleObjectsEx", "WaitForMultipleObjectsExImplementation")]);
        let sig = g.generate(&RawCrash::new(), &processed("Windows NT", json!(0), threads));
        assert_eq!(sig.signature, "MsgWaitForMultipleObjects | F_1152915508__________________________________");
        let expected = format!(
            "NtWaitForMultipleObjects | WaitForMultipleObjectsEx | WaitForMultipleObjectsExImplementation | \
             RealMsgWaitForMultipleObjectsEx | {FLASH_TAIL}"
        );
        assert_eq!(sig.proto_signature, expected);
        assert!(sig.notes.is_empty(), "{:?}", sig.notes);
    }

    // Upstream: TestSignatureGenerationRule.test_action_2_with_templates
    #[test]
    fn templates() {
        let Some(g) = generator() else { return };
        let threads = json!([frames_from_json_dump(
            "Alpha<Bravo<Charlie>, Delta>::Echo<Foxtrot>",
            "WaitForMultipleObjectsExImplementation"
        )]);
        let sig = g.generate(&RawCrash::new(), &processed("Windows NT", json!(0), threads));
        assert_eq!(sig.signature, "Alpha<T>::Echo<T>");
        let expected = format!(
            "NtWaitForMultipleObjects | Alpha<T>::Echo<T> | WaitForMultipleObjectsExImplementation | \
             RealMsgWaitForMultipleObjectsEx | {FLASH_TAIL}"
        );
        assert_eq!(sig.proto_signature, expected);
    }

    // Upstream: TestSignatureGenerationRule.test_action_2_with_templates_and_special_case
    #[test]
    fn templates_and_special_case() {
        let Some(g) = generator() else { return };
        let threads =
            json!([frames_from_json_dump("<name omitted>", "IPC::ParamTraits<mozilla::net::NetAddr>::Write")]);
        let sig = g.generate(&RawCrash::new(), &processed("Windows NT", json!(0), threads));
        // Upstream's test (lists of its time) stopped after the ParamTraits frame; today's lists
        // make every `IPC::` frame a prefix, so the walk goes on to the first Flash frame.
        assert_eq!(
            sig.signature,
            "<name omitted> | IPC::ParamTraits<mozilla::net::NetAddr>::Write | MsgWaitForMultipleObjects | \
             F_1152915508__________________________________"
        );
    }

    // Upstream: TestSignatureGenerationRule.test_lower_case_modules
    #[test]
    fn lower_case_modules() {
        let Some(g) = generator() else { return };
        let frames = json!([{"frames": [
            {"offset": "0x5e39bf21"}, {"offset": "0x5e39bf21"}, {"offset": "0x5e39bf21"},
            {"module": "USER2.dll", "module_offset": "0x20869", "offset": "0x77370869"},
        ]}]);
        let sig = g.generate(&RawCrash::new(), &processed("Windows NT", json!(0), frames));
        assert_eq!(sig.signature, "user2.dll");
        assert_eq!(sig.proto_signature, "@0x5e39bf21 | @0x5e39bf21 | @0x5e39bf21 | user2.dll");
    }

    // Upstream: TestSignatureWatchDogRule.test_action
    #[test]
    fn shutdown_hang() {
        let Some(g) = generator() else { return };
        let hung = frames_from_json_dump("WaitForMultipleObjectsEx", "WaitForMultipleObjectsExImplementation");
        let watchdog = json!({"frames": [frame("mozilla::(anonymous namespace)::RunWatchdog(void*)", "xul.dll")]});
        let sig = g.generate(&RawCrash::new(), &processed("Windows NT", json!(1), json!([hung, watchdog])));
        assert_eq!(
            sig.signature,
            "shutdownhang | MsgWaitForMultipleObjects | F_1152915508__________________________________"
        );
        assert!(sig.notes.is_empty(), "{:?}", sig.notes);
    }

    #[test]
    fn rust_panic_and_mutex_sentinels() {
        let Some(g) = generator() else { return };
        let p = crash_with_functions(&[
            "std::panicking::rust_panic_with_hook",
            "std::panicking::begin_panic_handler::{{closure}}",
            "core::panicking::panic_fmt",
            "core::panicking::panic",
            "core::option::Option<T>::unwrap",
            "style::stylist::Stylist::rebuild",
            "geckoservo::glue::Servo_StyleSet_FlushStyleSheets",
        ]);
        assert_eq!(g.generate(&RawCrash::new(), &p).signature, "style::stylist::Stylist::rebuild");
    }

    #[test]
    fn line_numbers_and_sentinels() {
        let Some(g) = generator() else { return };
        let mut p = crash_with_functions(&["js_Interpret", "main"]);
        p["json_dump"]["threads"][0]["frames"][0]["line"] = json!(42);
        assert_eq!(g.generate(&RawCrash::new(), &p).signature, "js_Interpret:42");
        let p = crash_with_functions(&["KiUserExceptionDispatcher", "_purecall", "mozilla::dom::Foo::Bar()", "main"]);
        // `_purecall` is also a prefix: the walk goes on to the next frame.
        assert_eq!(g.generate(&RawCrash::new(), &p).signature, "_purecall | mozilla::dom::Foo::Bar");
    }

    #[test]
    fn oom_abort_through_mozilla_lists() {
        let Some(g) = generator() else { return };
        let p = crash_with_functions(&[
            "__GI_raise",
            "__GI_abort",
            "mozalloc_abort",
            "mozalloc_handle_oom(unsigned long)",
            "moz_xmalloc",
            "nsTArray_base<T>::EnsureCapacity",
            "mozilla::dom::Foo::Bar()",
        ]);
        let raw = obj(json!({"OOMAllocationSize": "1048576"}));
        let sig = g.generate(&raw, &p).signature;
        // The allocator frames are irrelevant in Mozilla's lists; the size makes it an OOM.
        assert_eq!(sig, "OOM | large | mozilla::dom::Foo::Bar");
    }
}

/// Signs every crash of a JSON Lines corpus (`{"raw": {...}, "processed": {...}}` a line) from
/// `SIGGEN_CORPUS` with the lists in `SIGGEN_LISTS` and writes `{"signature", "proto_signature",
/// "notes"}` lines to `SIGGEN_OUT`: the Rust side of `bench/siggen.sh`, which compares the output
/// with Python siggen's and times both. Ignored unless run explicitly.
#[test]
#[ignore]
fn corpus_from_env() {
    use std::io::{BufRead, Write};
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("set {name}"));
    let (corpus, lists, out) = (var("SIGGEN_CORPUS"), var("SIGGEN_LISTS"), var("SIGGEN_OUT"));
    let repeat: usize = std::env::var("SIGGEN_REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(1);
    let started = std::time::Instant::now();
    let generator = SignatureGenerator::new(SigLists::load(std::path::Path::new(&lists)).unwrap());
    let load_time = started.elapsed();
    let crashes: Vec<(RawCrash, ProcessedCrash)> = std::io::BufReader::new(std::fs::File::open(corpus).unwrap())
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
            (obj(v["raw"].clone()), obj(v["processed"].clone()))
        })
        .collect();
    let started = std::time::Instant::now();
    let mut results = Vec::with_capacity(crashes.len());
    for _ in 0..repeat {
        results = crashes.iter().map(|(raw, processed)| generator.generate(raw, processed)).collect();
    }
    let elapsed = started.elapsed();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for sig in results {
        let line = json!({"signature": sig.signature, "proto_signature": sig.proto_signature, "notes": sig.notes});
        writeln!(w, "{line}").unwrap();
    }
    let n = crashes.len() * repeat;
    eprintln!(
        "rust: lists loaded in {:.1} ms; {n} signatures in {:.3} s = {:.0} crashes/s",
        load_time.as_secs_f64() * 1e3,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

/// Real dumps from `../shared/testdata`, walked in-process as the processor does (the JSON of
/// `minidump-stackwalk --json`), signed with Mozilla's lists. The expected values were produced
/// by Python siggen 2.2.20241029 from the same JSON (see `docs/signatures.md`).
mod real_dumps {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The testdata, when it has the dumps and the signature lists these tests read.
    fn testdata() -> Option<PathBuf> {
        crate::testutil::testdata_with(&["minidumps", "siglists"])
    }

    /// The stackwalker JSON of a test dump, symbolicated from the test symbols.
    fn json_dump(testdata: &Path, dump: &str) -> Value {
        let dump = minidump::Minidump::read_path(testdata.join("minidumps").join(dump)).unwrap();
        let supplier = minidump_unwind::simple_symbol_supplier(vec![testdata.join("symbols")]);
        let provider = minidump_unwind::Symbolizer::new(supplier);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let state = runtime.block_on(minidump_processor::process_minidump(&dump, &provider)).unwrap();
        let mut out = Vec::new();
        state.print_json(&mut out, false).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn sign_dump(testdata: &Path, dump: &str) -> Signature {
        let lists = SigLists::load(&testdata.join("siglists")).unwrap();
        let processed = obj(json!({"json_dump": json_dump(testdata, dump), "mdsw_status_string": "OK"}));
        if let Ok(path) = std::env::var("SIGGEN_WRITE_PROCESSED") {
            std::fs::write(format!("{path}.{dump}.json"), Value::Object(processed.clone()).to_string()).unwrap();
        }
        SignatureGenerator::new(lists).generate(&RawCrash::new(), &processed)
    }

    #[test]
    fn inline_frames_from_a_real_macos_dump() {
        let Some(testdata) = testdata() else { return };
        let sig = sign_dump(&testdata, "pipeline-inlines-macos-segv.dmp");
        assert_eq!(sig.signature, "sadness_generator::raise_segfault");
        // The first two frames are inline frames of one physical frame; Rust generics collapse.
        assert_eq!(
            sig.proto_signature,
            "core::ptr::write_volatile::<T> | sadness_generator::raise_segfault | crash_client::real_main::{closure#1} | \
             crash_client::real_main | crash_client::main | <fn as core::ops::function::FnOnce<>>::call_once | \
             std::sys_common::backtrace::__rust_begin_short_backtrace::<T> | std::rt::lang_start::<T>::{closure#0} | \
             core::ops::function::impls::<T>::call_once | std::panicking::try::do_call | std::panicking::try | \
             std::panic::catch_unwind | std::rt::lang_start_internal::{{closure}} | std::panicking::try::do_call | \
             std::panicking::try | std::panic::catch_unwind | std::rt::lang_start_internal | main | libdyld.dylib | \
             libdyld.dylib"
        );
        assert!(sig.notes.is_empty(), "{:?}", sig.notes);
    }

    #[test]
    fn a_real_windows_dump() {
        let Some(testdata) = testdata() else { return };
        let sig = sign_dump(&testdata, "test.dmp");
        assert_eq!(sig.signature, "(anonymous namespace)::CrashFunction");
        assert_eq!(
            sig.proto_signature,
            "(anonymous namespace)::CrashFunction | main | __tmainCRTStartup | kernel32.dll"
        );
        assert!(sig.notes.is_empty(), "{:?}", sig.notes);
    }
}
