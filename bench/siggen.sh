#!/usr/bin/env bash
# Signature generation: crashctl's Rust port vs Mozilla's Python siggen (PyPI `siggen`).
#
# Builds a deterministic corpus of synthetic processed crashes (C++/Rust/module-only/offset-only
# frames, inline frames, unloaded modules, OOM/abort/shutdown-timeout/IPC/hang/Java
# annotations), signs it with both implementations using the same lists, compares every
# signature, proto_signature and note, and prints crashes/s for both and the ratio.
#
# Usage: bench/siggen.sh [N_CRASHES] [REPEAT]     (defaults: 5000 crashes, signed 3 times)
# Equal work: both sides sign the same corpus REPEAT times, each in one process, timing only
# the signing (lists loaded and corpus parsed before the clock starts, on both sides).
# Exit status 1 when any signature, proto_signature or note differs.
# Needs: python3 with venv (siggen is installed into $WORK/venv from PyPI on first run), cargo,
# the lists in ../shared/testdata/siglists.
set -euo pipefail
N=${1:-5000}
REPEAT=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LISTS=${SIGGEN_LISTS:-$ROOT/../shared/testdata/siglists}
WORK=${SIGGEN_WORK:-${TMPDIR:-/tmp}/crashctl-siggen-bench}
mkdir -p "$WORK"
[ -d "$LISTS" ] || { echo "no signature lists at $LISTS" >&2; exit 2; }

if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q 'siggen==2.2.20241029'
fi
PY="$WORK/venv/bin/python"

# 1. The corpus (JSON Lines of {"raw": {}, "processed": {...}}).
"$PY" - "$N" "$WORK/corpus.jsonl" "$LISTS" <<'PY'
import json, random, re, sys
n, out, lists = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(20261126)

def literal_entries(name):
    # List entries that are plain names (no regex syntax) make frames the lists match.
    entries = []
    for line in open(f"{lists}/{name}.txt", encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and re.fullmatch(r"[A-Za-z0-9_:~<>, ]+", line):
            entries.append(line)
    return entries

IRRELEVANT, PREFIX, SENTINELS = (literal_entries(n) for n in
    ("irrelevant_signature_re", "prefix_signature_re", "signature_sentinels"))
FUNCTIONS = [
    "f( *s , &n)", "operator()(s,t,u)", "::(anonymous namespace)::f3(s,t,u)",
    "mozilla::layers::BasicImageLayer::Paint(mozilla::gfx::DrawTarget*, mozilla::gfx::PointTyped<mozilla::gfx::UnknownUnits, float> const&, mozilla::layers::Layer*)",
    "void nsDocumentViewer::DestroyPresShell()", "bool CCGraphBuilder::BuildGraph(class js::SliceBudget& const)",
    "Alpha<Bravo<Charlie>, Delta>::Echo<Foxtrot>", "thread_start<unsigned int (__cdecl*)(void* __ptr64)>",
    "class JSObject* DoCallback<JSObject*>(class JS::CallbackTracer*, class JSObject**, const char*)",
    "JS::Heap<JSObject*>::operator JSObject* const &()", "JSObject::allocKindForTenure const",
    "mozilla::jni::GlobalRef<mozilla::jni::Object>::operator=(mozilla::jni::Ref<mozilla::jni::Object, _jobject*> const&)&",
    "mozilla::Maybe<unsigned long>::value() const &", "`anonymous namespace'::foo", "ShutdownWorkThreads::$_52::__invoke",
    "<name omitted>", "<unknown in libxul.so>", "IPC::ParamTraits<nsTSubstring<char> >::Write(IPC::Message *,nsTSubstring<char> const &)",
    "nsXPConnect::InitStatics() [clone .cold.638]", "js::jit::MaybeEnterJit(JSContext*, js::RunState&)",
    "static void * Allocator<MozJemallocBase>::malloc(unsigned __int64)", "js_Interpret",
    "mozilla::(anonymous namespace)::RunWatchdog(void*)", "NS_ABORT_OOM(unsigned long)",
    "mozalloc_handle_oom(unsigned long)", "nsThread::ProcessNextEvent(bool, bool*)",
    "[thunk]:CShellItem::QueryInterface`adjustor{12}' (_GUID const&, void**)",
    "sandbox::TargetNtCreateFile( *, void * *, unsigned long)", "fn  with\ttabs\u00a0and unicode \u018a",
    "f<3>(s,t,u)", "Foo<bar", "a)b(c", "operator<", "", "x" * 300, "\u00fcn\u00efc\u00f6d\u00e9::f\u00fcnc(int) const",
    "mozilla::dom::Foo::Bar(int)  [clone .isra.234] [clone .cold.687]", "js::RunScript(JSContext*, js::RunState&) const&",
]
RUST_FUNCTIONS = [
    "expect_failed::h7f635057bfba806a", "expect_failed::h7f6350::blah",
    "static void servo_arc::Arc<style::gecko_properties::ComputedValues>::drop_slow<style::gecko_properties::ComputedValues>()",
    "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute", "core::panicking::panic_fmt",
    "core::option::Option<T>::unwrap", "style::stylist::Stylist::rebuild::h0123abcd", "panic", "begin_panic_fmt",
    "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop::h99", "std::panicking::begin_panic<&str>",
    "std::panicking::begin_panic::{{closure}}", "core::ptr::drop_in_place<alloc::vec::Vec<u8>>::h0123456789abcdef",
]
MODULES = ["xul.dll", "ntdll.dll", "KERNELBASE.dll", "[module]]", "LIBXUL.SO", "libxul.so", "XUL", "libc.so.6", "[vdso]", "[stack]",
           "firefox.exe", "libsystem_kernel.dylib", "NPSWF32_14_0_0_125.dll", "Foo.DLL", None]
FILES = ["hg:hg.mozilla.org/mozilla-central:dom/base/Foo.cpp:abc123",
         "git:github.com/rust-lang/rust:src/libstd/panicking.rs:91856ed52c58aa5ba66a015354d1cc69e9779bdf",
         "git:github.com/rust-lang/rust:src/libcore/panicking.rs:abc", "/build/servo/components/style/stylist.rs",
         "c:\\build\\src\\foo.cpp", "/build/src/Foo.h", "relative/thing.rs", "source/", "\\a\\b\\c\\source", None]

def hexaddr(width=16):
    return "0x" + format(rnd.getrandbits(40), f"0{width}x")

def function():
    r = rnd.random()
    if r < 0.25: return rnd.choice(IRRELEVANT)
    if r < 0.45: return rnd.choice(PREFIX)
    if r < 0.48: return rnd.choice(SENTINELS)
    if r < 0.62: return rnd.choice(RUST_FUNCTIONS)
    return rnd.choice(FUNCTIONS)

def frame():
    kind = rnd.random()
    f = {"offset": hexaddr(rnd.choice([8, 16]))}
    module = rnd.choice(MODULES)
    if module is not None and rnd.random() < 0.9:
        f["module"] = module
        f["module_offset"] = hexaddr()
    if kind < 0.6:
        f["function"] = function()
        if rnd.random() < 0.6:
            f["file"] = rnd.choice(FILES)
            f["line"] = rnd.choice([0, 23, 1459, None])
    elif kind < 0.7:
        f["file"] = rnd.choice(FILES)
        f["line"] = rnd.choice([0, 42, None])
    elif kind < 0.75:
        f.pop("module", None); f.pop("module_offset", None)
        f["unloaded_modules"] = [rnd.choice([{"module": "gone.dll", "offsets": [hexaddr()]}, {"module": "x.so"}, {}])]
    elif kind < 0.8:
        f.pop("module", None); f.pop("module_offset", None)
        if rnd.random() < 0.3: f.pop("offset")
    if rnd.random() < 0.15:
        f["inlines"] = [{"function": function(), "file": rnd.choice(FILES), "line": rnd.choice([7, None])}
                        for _ in range(rnd.randint(0, 3))]
    return f

def thread():
    t = {"frames": [frame() for _ in range(rnd.choice([0, 1, 3, 8, 20, 45, 60]))]}
    if rnd.random() < 0.1: t["last_error_value"] = rnd.choice(["ERROR_COMMITMENT_LIMIT", "ERROR_SUCCESS"])
    return t

ABORTS = ["unknown", "[5392] ###!!! ABORT: foo bar line 42", "[204] ###!!! ABORT: file ?, ",
          "[7616] ###!!! ABORT: unsafe destruction: file c:/build/src/Foo.cpp, line 777",
          "unable to find a usable font (\u5fae\u8f6f\u96c5\u9ed1)", "a" * 81, "\u018a unknown\ttab", ""]
ASTS = [json.dumps({"phase": "profile-before-change", "conditions": [{"name": "b"}, "a"]}),
        json.dumps({"phase": 3, "conditions": []}), json.dumps({"conditions": [{"nom": 1}]}), "{{{{",
        json.dumps({"phase": "x", "conditions": "ab"}), json.dumps({"phase": "x", "conditions": [1, "2"]})]

def crash():
    threads = [thread() for _ in range(rnd.randint(0, 3))]
    dump = {"crash_info": {"crashing_thread": rnd.choice([0, 1, 2, None, "1", -1, 7]),
                           "type": rnd.choice(["EXCEPTION_ACCESS_VIOLATION_READ", "EXCEPTION_STACK_OVERFLOW",
                                               "STATUS_NO_MEMORY", "EXCEPTION_IN_PAGE_ERROR_READ / STATUS_DEVICE_DATA_ERROR",
                                               "SIGSEGV /SEGV_MAPERR"])},
            "system_info": {"os": rnd.choice(["Windows NT", "Linux", "Mac OS X"])},
            "threads": threads}
    p = {"json_dump": dump, "mdsw_status_string": rnd.choice(["OK", "OK", "MissingThreadList", None])}
    if rnd.random() < 0.03: p.pop("json_dump")
    extras = {
        "oom_allocation_size": lambda: rnd.choice(["17", "262144", "262145", "17000000", 0, "junk"]),
        "js_large_allocation_failure": lambda: rnd.choice(["Reporting", "Reported"]),
        "abort_message": lambda: rnd.choice(ABORTS),
        "async_shutdown_timeout": lambda: rnd.choice(ASTS),
        "ipc_channel_error": lambda: rnd.choice(["ShutDownKill", "ipc" * 50, "", "\u00e9" * 120]),
        "ipc_message_name": lambda: rnd.choice(["PContent::Msg_Foo", ""]),
        "hang": lambda: rnd.choice(["ui", "1"]),
        "additional_minidumps": lambda: rnd.choice([["upload_file_minidump_browser"], ["upload_file_minidump_content"], []]),
        "java_stack_trace": lambda: rnd.choice(["SomeJavaException: totally made up  \nat org.mozilla.lars.myInvention(larsFile.java:666)",
                                                "java.lang.IllegalArgumentException: view AbsoluteLayout@4054b560\n\tat a.b(C.java:1)", ""]),
        "java_exception": lambda: rnd.choice([{"exception": {"values": [{"stacktrace": {"frames": [{"module": "a.b", "function": "c", "filename": "D.kt"}], "type": "IOException", "module": "java.io"}}]}}, {}]),
    }
    for key, value in extras.items():
        if rnd.random() < (0.01 if key.startswith("java") else 0.06):
            p[key] = value()
    return {"raw": {}, "processed": p}

with open(out, "w") as f:
    for _ in range(n):
        f.write(json.dumps(crash()) + "\n")
PY

# 2. Python siggen (the watchdog rule re-signs with the same lists as the main rule).
"$PY" - "$WORK/corpus.jsonl" "$LISTS" "$WORK/python.jsonl" "$REPEAT" 2> >(tee "$WORK/python.time" >&2) <<'PY'
import json, sys, time
from siggen import rules
from siggen.generator import SignatureGenerator
from siggen.utils import convert_to_crash_data
corpus, lists, out, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
crashes = [json.loads(line) for line in open(corpus)]
t0 = time.perf_counter()
gen = SignatureGenerator(signature_list_dir=lists)
for rule in gen.pipeline:
    if isinstance(rule, rules.SignatureRunWatchDog):
        rule.signature_generation_rule = rules.SignatureGenerationRule(signature_list_dir=lists)
t1 = time.perf_counter()
for _ in range(repeat):
    results = [gen.generate(convert_to_crash_data(c["processed"])) for c in crashes]
t2 = time.perf_counter()
with open(out, "w") as f:
    for r in results:
        f.write(json.dumps({"signature": r.signature, "proto_signature": r.extra.get("proto_signature", ""), "notes": r.notes}) + "\n")
n = len(crashes) * repeat
print(f"python: lists loaded in {(t1 - t0) * 1e3:.1f} ms; {n} signatures in {t2 - t1:.3f} s = {n / (t2 - t1):.0f} crashes/s", file=sys.stderr)
PY


# 3. The Rust port (optimized build of the library tests; CARGO_PROFILE= for a debug build).
cd "$ROOT"
CARGO_PROFILE=${CARGO_PROFILE---release}
SIGGEN_CORPUS="$WORK/corpus.jsonl" SIGGEN_LISTS="$LISTS" SIGGEN_OUT="$WORK/rust.jsonl" SIGGEN_REPEAT="$REPEAT" \
  cargo test $CARGO_PROFILE -q --lib siggen::tests::corpus_from_env -- --ignored --nocapture 2>&1 \
  | grep -E '^rust:' | tee "$WORK/rust.time" >&2

# 4. Compare.
"$PY" - "$WORK/python.jsonl" "$WORK/rust.jsonl" <<'PY'
import json, re, sys
py = [json.loads(l) for l in open(sys.argv[1])]
rs = [json.loads(l) for l in open(sys.argv[2])]
assert len(py) == len(rs), (len(py), len(rs))
# Known, documented difference: the JSON parser's error text inside one note.
JSON_ERR = re.compile(r"(Error parsing AsyncShutdownTimeout: ).*")
def known(r):
    return dict(r, notes=[JSON_ERR.sub(r"\1<json error>", n) for n in r["notes"]])
diffs = [(i, p, r) for i, (p, r) in enumerate(zip(py, rs)) if known(p) != known(r)]
json_notes = sum(1 for p, r in zip(py, rs) if p != r and known(p) == known(r))
kinds = {k: sum(1 for _, p, r in diffs if p[k] != r[k]) for k in ("signature", "proto_signature", "notes")}
print(f"compared {len(py)} crashes: {len(py) - len(diffs)} identical (signature, proto_signature, notes); "
      f"{json_notes} differ only in the JSON parser's error text; differences: {kinds}")
for i, p, r in diffs[:5]:
    print(f"--- crash {i}\n python: {p}\n rust:   {r}")
py_time = open(sys.argv[1].replace("python.jsonl", "python.time")).read()
rs_time = open(sys.argv[1].replace("python.jsonl", "rust.time")).read()
rate = lambda t: float(re.search(r"= (\d+) crashes/s", t).group(1))
with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
print(f"python siggen: {rate(py_time):.0f} crashes/s; crashctl: {rate(rs_time):.0f} crashes/s; ratio {rate(rs_time) / rate(py_time):.1f}x (same corpus, same repeats, one process each; load average {load})")
sys.exit(1 if diffs else 0)
PY
