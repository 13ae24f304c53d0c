//! Realistic test crashes, built in code: annotations plus valid minidumps (minidump-synth)
//! that vary the OS, the threads, the modules and the crash reason, and Breakpad symbol files
//! that match them, so that processing shows real function names and signatures that group.
//! For load tests, sandboxes and `crashctl demo`. Deterministic for a given seed.

mod catalog;
mod os;
mod synth;

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::crash::{Crash, CrashId, DumpData, DumpName, RawCrash, Throttle};

pub use catalog::{Reason, SCENARIOS};
pub use os::Os;

/// A generated crash as a crash reporter would submit it: annotations and named dumps.
#[derive(Debug, Clone)]
pub struct Submission {
    pub annotations: RawCrash,
    pub dumps: Vec<(DumpName, Vec<u8>)>,
    /// Which scenario it came from (for tests and summaries).
    pub scenario: &'static str,
    pub os: Os,
}

impl Submission {
    /// The crash as it would be stored without a collector: the annotations plus `uuid` and
    /// `submitted_timestamp`, under a new crash ID for `received`.
    pub fn into_crash(self, received: DateTime<Utc>) -> Crash {
        let id = CrashId::generate(Throttle::Accept, received.date_naive());
        let mut raw = self.annotations;
        raw.insert("uuid".into(), Value::String(id.to_string()));
        raw.insert("submitted_timestamp".into(), Value::String(received.to_rfc3339()));
        let mut crash = Crash::new(id, raw);
        for (name, bytes) in self.dumps {
            crash.add_dump(name, DumpData::Bytes(bytes.into()));
        }
        crash
    }
}

/// Makes crashes.
pub struct Generator {
    rng: StdRng,
    now: DateTime<Utc>,
}

impl Generator {
    /// A generator; the same seed gives the same crashes (except for times, taken from `now`).
    pub fn new(seed: Option<u64>, now: DateTime<Utc>) -> Generator {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Generator { rng, now }
    }

    /// The next crash.
    pub fn submission(&mut self) -> Submission {
        let os = Os::ALL[self.rng.random_range(0..Os::ALL.len())];
        let scenario = self.pick_scenario();
        let threads = self.rng.random_range(1..=8usize);
        let crashing = self.rng.random_range(0..threads);
        let dump = synth::build(os, scenario, threads, crashing, &mut self.rng);
        let mut dumps = vec![(DumpName::main(), dump)];
        if self.rng.random_bool(0.1) {
            let report = format!(
                "{{\"version\":4,\"hasMozMallocUsableSize\":true,\"reports\":[],\"seed\":{}}}",
                self.rng.random::<u32>()
            );
            dumps.push((DumpName::parse("memory_report").expect("valid name"), report.into_bytes()));
        }
        Submission { annotations: self.annotations(scenario), dumps, scenario: scenario.name, os }
    }

    fn pick_scenario(&mut self) -> &'static catalog::Scenario {
        let total: u32 = SCENARIOS.iter().map(|s| s.weight).sum();
        let mut n = self.rng.random_range(0..total);
        for s in SCENARIOS {
            if n < s.weight {
                return s;
            }
            n -= s.weight;
        }
        &SCENARIOS[0]
    }

    fn annotations(&mut self, scenario: &catalog::Scenario) -> RawCrash {
        const RELEASES: &[(&str, &str)] =
            &[("145.0.2", "release"), ("146.0b7", "beta"), ("147.0a1", "nightly"), ("140.5.0esr", "esr")];
        let (version, channel) = RELEASES[self.rng.random_range(0..RELEASES.len())];
        let uptime = self.rng.random_range(3..200_000i64);
        let crash_time = self.now.timestamp() - self.rng.random_range(0..600i64);
        let build_age_days = self.rng.random_range(1..60i64);
        let build = (self.now - chrono::Duration::days(build_age_days)).format("%Y%m%d%H%M%S").to_string();
        let mut raw = RawCrash::new();
        let mut put = |k: &str, v: String| {
            raw.insert(k.to_string(), Value::String(v));
        };
        put("ProductName", "Firefox".into());
        put("Vendor", "Mozilla".into());
        put("Version", version.into());
        put("ReleaseChannel", channel.into());
        put("BuildID", build);
        put("CrashTime", crash_time.to_string());
        put("StartupTime", (crash_time - uptime).to_string());
        put("InstallTime", (crash_time - uptime - 86_400 * build_age_days).to_string());
        put("useragent_locale", "en-US".into());
        put("TotalPhysicalMemory", (self.rng.random_range(2..64u64) << 30).to_string());
        for (k, v) in scenario.annotations {
            put(k, (*v).to_string());
        }
        raw
    }
}

/// Writes Breakpad symbol files for every generated module that has symbols, in the symbol
/// store layout `<debug_file>/<DEBUG_ID>/<debug_file minus .pdb>.sym`. Returns how many.
pub fn write_symbols(dir: &Path) -> std::io::Result<usize> {
    write_symbols_sized(dir, 0)
}

/// [`write_symbols`], with each OS's main module (`xul`, which every generated crash has
/// frames in) padded to at least `main_size` bytes of FILE/FUNC/line/STACK CFI records for
/// functions no generated frame lands in, as production symbol files are (Firefox's `xul` is
/// hundreds of MB): what a processor pays to parse it shows. 0 writes the small files.
pub fn write_symbols_sized(dir: &Path, main_size: u64) -> std::io::Result<usize> {
    if main_size > MAX_PADDED_SIZE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("symbol size {main_size} is over the {MAX_PADDED_SIZE} bytes a generated module can hold"),
        ));
    }
    let mut n = 0;
    for os in Os::ALL {
        for m in catalog::modules(os).iter().filter(|m| m.symbols) {
            let stem = m.debug_file.strip_suffix(".pdb").unwrap_or(m.debug_file);
            let path = dir.join(m.debug_file).join(synth::debug_id(m)).join(format!("{stem}.sym"));
            let size = if m.key == MAIN_MODULE { main_size } else { 0 };
            crate::fsutil::write_atomic(&path, symbol_file_sized(os, m, size).as_bytes(), false)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The module every generated crash has frames in.
const MAIN_MODULE: &str = "xul";
/// Padding functions start here (past the catalog's functions) and are this far apart.
const PAD_START: u64 = 0x10000;
const PAD_SPACING: u64 = 0x40;
/// What fits in the main module's address range at about 300 bytes of records a function.
const MAX_PADDED_SIZE: u64 = 400 << 20;

fn symbol_file_sized(os: Os, m: &catalog::ModuleSpec, size: u64) -> String {
    let os_name = match os {
        Os::Windows => "windows",
        Os::Linux => "Linux",
        Os::Mac => "mac",
    };
    let mut s = format!("MODULE {os_name} x86_64 {} {}\n", synth::debug_id(m), m.debug_file);
    for (i, f) in m.functions.iter().enumerate() {
        let _ = writeln!(s, "FILE {i} {}", source_file(f));
    }
    let mut pad = (size > 0).then(|| Padding::new(m.functions.len(), m.size as u64));
    if let Some(p) = &pad {
        p.files(&mut s);
    }
    for (i, f) in m.functions.iter().enumerate() {
        let addr = catalog::FUNC_START + i as u64 * catalog::FUNC_SIZE;
        let _ = writeln!(s, "FUNC {addr:x} {:x} 0 {f}", catalog::FUNC_SIZE);
        // one line record for the whole function: frames get a file and a line
        let _ = writeln!(s, "{addr:x} {:x} {} {i}", catalog::FUNC_SIZE, 100 + 7 * i);
    }
    if let Some(p) = &mut pad {
        while (s.len() as u64) < size && p.function(&mut s) {}
    }
    s
}

/// Functions no generated frame lands in, with production-like records: a C++ or Rust name
/// of realistic length (30-250 bytes), four line records, and STACK CFI rules.
struct Padding {
    rng: StdRng,
    first_file: usize,
    next: u64,
    end: u64,
}

const PAD_FILES: usize = 4000;

impl Padding {
    fn new(catalog_functions: usize, module_size: u64) -> Padding {
        Padding { rng: StdRng::seed_from_u64(0x5eed), first_file: catalog_functions, next: PAD_START, end: module_size }
    }

    fn files(&self, s: &mut String) {
        const DIRS: &[&str] = &[
            "dom/base",
            "layout/generic",
            "js/src/jit",
            "netwerk/protocol/http",
            "gfx/layers/ipc",
            "xpcom/threads",
            "toolkit/components/glean",
            "media/libcubeb/src",
            "third_party/rust/wgpu-core/src",
        ];
        for k in 0..PAD_FILES {
            let dir = DIRS[k % DIRS.len()];
            let ext = if dir.contains("rust") { "rs" } else { "cpp" };
            let _ = writeln!(s, "FILE {} /builds/worker/checkouts/gecko/{dir}/Source{k}.{ext}", self.first_file + k);
        }
    }

    /// Appends one function; false when the module's address range is full.
    fn function(&mut self, s: &mut String) -> bool {
        const SIZE: u64 = PAD_SPACING - 0x10;
        let addr = self.next;
        if addr + PAD_SPACING > self.end {
            return false;
        }
        self.next += PAD_SPACING;
        let name = self.name();
        let _ = writeln!(s, "FUNC {addr:x} {SIZE:x} 0 {name}");
        let file = self.first_file + self.rng.random_range(0..PAD_FILES);
        let line = self.rng.random_range(1..5000u32);
        for k in 0..4u64 {
            let _ = writeln!(s, "{:x} {:x} {} {file}", addr + k * SIZE / 4, SIZE / 4, line + k as u32);
        }
        let _ = writeln!(s, "STACK CFI INIT {addr:x} {SIZE:x} .cfa: $rsp 8 + .ra: .cfa -8 + ^");
        let _ = writeln!(s, "STACK CFI {:x} .cfa: $rsp 16 + $rbp: .cfa -16 + ^", addr + 1);
        let _ = writeln!(s, "STACK CFI {:x} .cfa: $rbp 16 +", addr + 4);
        true
    }

    fn name(&mut self) -> String {
        const NS: &[&str] = &[
            "mozilla",
            "mozilla::dom",
            "mozilla::layers",
            "mozilla::net",
            "mozilla::gfx",
            "js",
            "js::jit",
            "mozilla::ipc",
            "mozilla::widget",
            "mozilla::image",
        ];
        const CLASSES: &[&str] = &[
            "HTMLMediaElement",
            "CanvasRenderingContext2D",
            "WebGLContext",
            "nsDocShell",
            "PresShell",
            "HttpChannelChild",
            "CompositorBridgeChild",
            "MacroAssembler",
            "BaselineCompiler",
            "ContentParent",
            "BrowserChild",
            "ImageContainer",
            "nsRefreshDriver",
            "ScriptLoader",
            "WorkerPrivate",
        ];
        const METHODS: &[&str] = &[
            "Init",
            "Shutdown",
            "HandleEvent",
            "OnStartRequest",
            "OnDataAvailable",
            "UpdateStyleSheet",
            "PaintFrame",
            "EnsureCapacity",
            "RecvAsyncMessage",
            "DispatchToMainThread",
            "MaybeNotify",
            "ComputeSize",
            "Flush",
            "Visit",
            "Trace",
        ];
        const PARAMS: &[&str] = &[
            "int",
            "bool",
            "unsigned long",
            "nsAtom*",
            "JSContext*",
            "nsTSubstring<char16_t> const&",
            "mozilla::ErrorResult&",
            "RefPtr<mozilla::dom::Promise>&&",
            "nsIPrincipal*",
            "mozilla::gfx::IntRectTyped<mozilla::gfx::UnknownUnits> const&",
            "JS::Handle<JS::Value>",
            "mozilla::Maybe<unsigned int> const&",
        ];
        const RUST: &[&str] = &[
            "style::properties::longhands",
            "wgpu_core::device::resource",
            "glean_core::metrics::event",
            "neqo_transport::connection",
            "webrender::renderer::gpu_cache",
            "gkrust_shared::panic_hook",
        ];
        let r = &mut self.rng;
        if r.random_bool(0.15) {
            let path = RUST[r.random_range(0..RUST.len())];
            let method = METHODS[r.random_range(0..METHODS.len())].to_ascii_lowercase();
            return format!("{path}::{method}_{}::h{:016x}", r.random_range(0..1000u32), r.random::<u64>());
        }
        let ns = NS[r.random_range(0..NS.len())];
        let class = CLASSES[r.random_range(0..CLASSES.len())];
        let method = METHODS[r.random_range(0..METHODS.len())];
        let params: Vec<&str> = (0..r.random_range(0..5)).map(|_| PARAMS[r.random_range(0..PARAMS.len())]).collect();
        format!("{ns}::{class}::{method}{}({})", r.random_range(0..100u32), params.join(", "))
    }
}

/// A plausible source file for a function: Rust functions (ending in `::h<16 hex>`) get a
/// `.rs` path from their module path, so signature generation treats them as Rust.
fn source_file(function: &str) -> String {
    let is_rust = function
        .rsplit_once("::h")
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let path: Vec<&str> = function.split('(').next().unwrap_or(function).split("::").collect();
    if is_rust {
        // core::panicking::panic_fmt::h... -> library/core/src/panicking.rs
        let dirs = &path[..path.len().saturating_sub(2)];
        return format!("/builds/worker/checkouts/gecko/{}.rs", dirs.join("/"));
    }
    let class = path.iter().rev().nth(1).copied().unwrap_or("main");
    format!("/builds/worker/checkouts/gecko/src/{}.cpp", class.trim_start_matches('(').replace(' ', "_"))
}

#[cfg(test)]
mod tests;
