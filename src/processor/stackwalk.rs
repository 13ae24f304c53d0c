//! In-process stackwalking: minidump + minidump-processor with ONE symbol provider (and so one
//! in-memory symbol cache) shared by every walk of a run, producing the same JSON as
//! `minidump-stackwalk --json` (see [`super::json_dump`]), with a per-dump timeout that can
//! abandon even a CPU-bound walk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use minidump::Minidump;
use minidump_processor::ProcessorOptions;
use minidump_unwind::symbols::{
    http_symbol_supplier, simple_symbol_supplier, MultiSymbolProvider, SymbolProvider, Symbolizer,
};
use serde_json::{Map, Value};

use super::json_dump::WalkedDump;
use crate::crash::RawCrash;

/// `mdsw_status_string` of a walk that worked.
pub const STATUS_OK: &str = "OK";
/// `mdsw_status_string` of a zero-byte dump (not walked).
pub const STATUS_EMPTY: &str = "EmptyMinidump";
/// `mdsw_status_string` of a walk abandoned after the timeout.
pub const STATUS_TIMEOUT: &str = "Timeout";
/// `mdsw_return_code` of a walk abandoned after the timeout (what `timeout(1)` returns).
pub const RETURN_CODE_TIMEOUT: i64 = 124;

/// Default bound on the modules whose symbols the in-memory cache holds (see
/// [`SymbolOptions::max_cached_modules`]).
pub const DEFAULT_MAX_CACHED_MODULES: u64 = 2000;

/// Raw-crash annotations minidump-stackwalk reads from its `--evil-json` file.
const EVIL_KEYS: [&str; 2] = ["ModuleSignatureInfo", "CPUMicrocodeVersion"];

/// Where symbols come from.
#[derive(Debug, Clone, Default)]
pub struct SymbolOptions {
    /// Local symbol directories (`<debug_file>/<DEBUG_ID>/<file>.sym`).
    pub paths: Vec<PathBuf>,
    /// Symbol servers (Tecken layout), tried in order.
    pub urls: Vec<String>,
    /// Where downloaded symbols are kept (default: `$TMPDIR/rust-minidump-cache`, as
    /// minidump-stackwalk does).
    pub cache: Option<PathBuf>,
    /// How long one symbol download may take.
    pub download_timeout: Duration,
    /// Bound on the in-memory symbol cache, in modules (found or not): once a walk leaves more
    /// than this many, the next walks start a fresh cache (the old one is freed when the walks
    /// using it finish). Without it a long `process --follow` keeps every module's symbols it
    /// ever loaded. `None`: no bound.
    pub max_cached_modules: Option<u64>,
}

/// What one walk produced: the fields the stackwalk rule copies into the processed crash.
#[derive(Debug)]
pub struct WalkResult {
    /// The walked dump, to be written as `minidump-stackwalk --json` does (`None` when the
    /// walk failed: then `json_dump` is an empty object).
    pub dump: Option<WalkedDump>,
    /// `OK`, `EmptyMinidump`, `Timeout` or the minidump error name (`MissingThreadList`...).
    pub status: String,
    /// What minidump-stackwalk would have exited with (0, 1; 124 for a timeout).
    pub return_code: i64,
    /// The error text when the walk failed.
    pub error: Option<String>,
}

impl WalkResult {
    pub fn success(&self) -> bool {
        self.status == STATUS_OK
    }

    fn failed(status: &str, return_code: i64, error: String) -> WalkResult {
        WalkResult { dump: None, status: status.to_string(), return_code, error: Some(error) }
    }

    /// A zero-byte dump.
    pub fn empty() -> WalkResult {
        WalkResult::failed(STATUS_EMPTY, 1, "the minidump is empty (0 bytes)".into())
    }
}

/// The stackwalker of a run: one symbol provider at a time, one runtime for its I/O.
pub struct Stackwalker {
    symbols: SymbolOptions,
    /// The current symbol provider (with its cache); replaced when the cache is full.
    provider: RwLock<Arc<MultiSymbolProvider>>,
    /// How many times the cache was full and replaced.
    renewals: AtomicU64,
    /// Walks abandoned at the timeout that are still running (their threads cannot be stopped).
    abandoned_running: Arc<AtomicI64>,
    /// Always `Some` until dropped (then shut down without blocking, so dropping a
    /// `Stackwalker` is safe even inside an async context).
    runtime: Option<tokio::runtime::Runtime>,
    timeout: Duration,
}

impl Drop for Stackwalker {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Stackwalker {
    /// Builds the symbol provider as minidump-stackwalk does (HTTP supplier with the local
    /// paths when there are URLs, else the local paths alone, else none).
    pub fn new(symbols: &SymbolOptions, timeout: Duration) -> anyhow::Result<Stackwalker> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("crashctl-symbols-io")
            .enable_all()
            .build()?;
        Ok(Stackwalker {
            symbols: symbols.clone(),
            provider: RwLock::new(Arc::new(provider(symbols))),
            renewals: AtomicU64::new(0),
            abandoned_running: Arc::default(),
            runtime: Some(runtime),
            timeout,
        })
    }

    /// How many times the symbol cache reached [`SymbolOptions::max_cached_modules`] and was
    /// replaced by a fresh one.
    pub fn cache_renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// Walks abandoned at the timeout whose threads are still running: a thread cannot be
    /// stopped from outside, so each holds a CPU (and its symbol cache) until its walk ends.
    pub fn abandoned_running(&self) -> u64 {
        self.abandoned_running.load(Ordering::SeqCst).max(0) as u64
    }

    /// Has this stackwalker any symbols source (a path or a URL)?
    pub fn has_sources(&self) -> bool {
        !self.symbols.paths.is_empty() || !self.symbols.urls.is_empty()
    }

    /// One line per symbols source that cannot be used: a path that is not a directory, a URL
    /// that is not `http(s)://host...` or whose host does not accept a connection (one try,
    /// bounded by [`SOURCE_CHECK_TIMEOUT`]).
    pub fn source_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for path in &self.symbols.paths {
            if !path.is_dir() {
                problems
                    .push(format!("--symbols-path {}: no such directory; its symbols are not used", path.display()));
            }
        }
        for url in &self.symbols.urls {
            if let Err(e) = reachable(url) {
                problems.push(format!("--symbols-url {url}: {e}; its symbols are not used"));
            }
        }
        problems
    }

    fn current_provider(&self) -> Arc<MultiSymbolProvider> {
        Arc::clone(&self.provider.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// After a walk with `used`: when its cache holds more modules than the bound, later
    /// walks get a fresh provider (once, however many walks notice it at the same time).
    fn renew_if_full(&self, used: &Arc<MultiSymbolProvider>) {
        let Some(max) = self.symbols.max_cached_modules else {
            return;
        };
        if used.pending_stats().symbols_processed <= max {
            return;
        }
        let mut current = self.provider.write().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&current, used) {
            *current = Arc::new(provider(&self.symbols));
            self.renewals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Walks one dump. Never panics the caller and never waits past the timeout: the walk runs
    /// on its own thread (its async parts on this run's runtime); a walk still running at the
    /// deadline is abandoned (its thread finishes, or not, on its own) and reported as `Timeout`.
    pub fn walk(&self, bytes: bytes::Bytes, raw: &RawCrash) -> WalkResult {
        if bytes.is_empty() {
            return WalkResult::empty();
        }
        let evil = evil_json(raw);
        let provider = self.current_provider();
        let timeout = self.timeout;
        let used = Arc::clone(&provider);
        let result = self.abandonable(move |handle| {
            handle.block_on(async {
                tokio::time::timeout(timeout, walk_bytes(bytes, &provider, evil.as_ref().map(|f| f.path())))
                    .await
                    .unwrap_or_else(|_| timed_out(timeout))
            })
        });
        self.renew_if_full(&used);
        result
    }

    /// Runs `work` on this caller's walker thread and waits for it at most the timeout (plus
    /// a short grace that lets an async timeout inside `work` report first); past that, the
    /// walker thread is abandoned (left to finish on its own; the caller gets a new one next
    /// time) and the result is `Timeout`. A panic in `work` becomes `UnknownError`.
    fn abandonable<F>(&self, work: F) -> WalkResult
    where
        F: FnOnce(&tokio::runtime::Handle) -> WalkResult + Send + 'static,
    {
        const RUNNING: u8 = 0;
        const DONE: u8 = 1;
        const ABANDONED: u8 = 2;
        let (tx, rx) = mpsc::sync_channel(1);
        let handle = self.runtime.as_ref().expect("the runtime lives as long as the stackwalker").handle().clone();
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (job_state, abandoned_running) = (Arc::clone(&state), Arc::clone(&self.abandoned_running));
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&handle)));
            if job_state.swap(DONE, Ordering::SeqCst) == ABANDONED {
                abandoned_running.fetch_sub(1, Ordering::SeqCst);
            }
            let _ = tx.send(result.unwrap_or_else(|p| panicked(&p)));
        });
        if let Err(e) = WALKER.with(|w| w.run(job)) {
            return WalkResult::failed("UnknownError", 1, format!("cannot start a stackwalk thread: {e}"));
        }
        rx.recv_timeout(self.timeout + Duration::from_millis(250)).unwrap_or_else(|_| {
            WALKER.with(WalkerThread::abandon);
            // counted before it is marked, so the walk's own decrement can never come first
            self.abandoned_running.fetch_add(1, Ordering::SeqCst);
            if state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                self.abandoned_running.fetch_sub(1, Ordering::SeqCst); // it finished just now
            }
            timed_out(self.timeout)
        })
    }
}

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Each thread that walks dumps hands them to its own long-lived walker thread (so the
    /// allocator's per-thread caches stay warm across walks), replaced when a walk is abandoned.
    static WALKER: WalkerThread = const { WalkerThread { jobs: std::cell::RefCell::new(None) } };
}

struct WalkerThread {
    jobs: std::cell::RefCell<Option<mpsc::Sender<Job>>>,
}

impl WalkerThread {
    fn run(&self, job: Job) -> std::io::Result<()> {
        let mut jobs = self.jobs.borrow_mut();
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("crashctl-stackwalk".into()).spawn(move || {
            for job in rx {
                job();
            }
        })?;
        tx.send(job).expect("the new walker thread is waiting");
        *jobs = Some(tx);
        Ok(())
    }

    /// Forgets the walker thread (it exits after its current job, if that ever ends).
    fn abandon(&self) {
        self.jobs.borrow_mut().take();
    }
}

/// How long [`Stackwalker::source_problems`] waits for a symbol server to accept a connection.
pub const SOURCE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Can a connection be opened to the host of `url`?
fn reachable(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let host = parsed.host_str().ok_or("no host in the URL")?;
    let port = parsed.port_or_known_default().ok_or("no port for this scheme")?;
    let addrs: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, SOURCE_CHECK_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {host}:{port} ({e})"),
        }
    }
    Err(last)
}

fn provider(symbols: &SymbolOptions) -> MultiSymbolProvider {
    let mut provider = MultiSymbolProvider::new();
    if !symbols.urls.is_empty() {
        let cache = symbols.cache.clone().unwrap_or_else(|| std::env::temp_dir().join("rust-minidump-cache"));
        let supplier = http_symbol_supplier(
            symbols.paths.clone(),
            symbols.urls.clone(),
            cache,
            std::env::temp_dir(),
            symbols.download_timeout,
        );
        provider.add(Box::new(Symbolizer::new(supplier)));
    } else if !symbols.paths.is_empty() {
        provider.add(Box::new(Symbolizer::new(simple_symbol_supplier(symbols.paths.clone()))));
    }
    provider
}

/// The raw crash as minidump-stackwalk's `--evil-json` file, only when it holds something
/// the stackwalker reads (so the common case writes no file).
fn evil_json(raw: &RawCrash) -> Option<tempfile::NamedTempFile> {
    let picked: Map<String, Value> =
        EVIL_KEYS.iter().filter_map(|k| raw.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
    if picked.is_empty() {
        return None;
    }
    let mut file = tempfile::NamedTempFile::new().ok()?;
    serde_json::to_writer(&mut file, &picked).ok()?;
    Some(file)
}

async fn walk_bytes(bytes: bytes::Bytes, provider: &MultiSymbolProvider, evil: Option<&std::path::Path>) -> WalkResult {
    let walk = super::stages::timer(super::stages::Stage::Walk);
    let dump = match Minidump::read(bytes) {
        Ok(dump) => dump,
        Err(e) => return WalkResult::failed(e.name(), 1, format!("error reading dump: {e}")),
    };
    let mut options = ProcessorOptions::stable_basic();
    options.evil_json = evil;
    let state = minidump_processor::process_minidump_with_options(&dump, provider, options).await;
    drop(walk);
    let _t = super::stages::timer(super::stages::Stage::WalkedDump);
    match state {
        Ok(state) => match WalkedDump::new(state) {
            Ok(dump) => WalkResult { dump: Some(dump), status: STATUS_OK.into(), return_code: 0, error: None },
            Err(e) => WalkResult::failed("UnknownError", 1, format!("cannot write the JSON: {e}")),
        },
        Err(e) => WalkResult::failed(e.name(), 1, format!("error processing dump: {e}")),
    }
}

fn timed_out(timeout: Duration) -> WalkResult {
    let t = humantime::format_duration(timeout);
    WalkResult::failed(STATUS_TIMEOUT, RETURN_CODE_TIMEOUT, format!("stackwalk timed out after {t}; abandoned"))
}

fn panicked(payload: &Box<dyn std::any::Any + Send>) -> WalkResult {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    WalkResult::failed("UnknownError", 101, format!("the stackwalker panicked: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_that_never_yields_is_abandoned_at_the_timeout() {
        // Regression: a CPU-bound walk cannot be stopped by an async timeout alone.
        let walker = Stackwalker::new(&SymbolOptions::default(), Duration::from_millis(100)).unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let result = walker.abandonable(move |_| {
            let _ = release_rx.recv(); // blocks this thread until the test releases it
            WalkResult::empty()
        });
        assert_eq!(result.status, STATUS_TIMEOUT);
        assert_eq!(result.return_code, RETURN_CODE_TIMEOUT);
        assert!(result.error.unwrap().contains("timed out after 100ms"));
        assert_eq!(walker.abandoned_running(), 1, "the abandoned walk is still running");
        release_tx.send(()).unwrap();
        // once it ends on its own it is no longer counted
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while walker.abandoned_running() != 0 {
            assert!(std::time::Instant::now() < deadline, "the released walk was never uncounted");
            std::thread::sleep(Duration::from_millis(5));
        }
        // a walk that finishes in time is never counted
        assert_eq!(walker.abandonable(|_| WalkResult::empty()).status, STATUS_EMPTY);
        assert_eq!(walker.abandoned_running(), 0);
    }

    #[test]
    fn a_panicking_walk_is_an_error_result() {
        let walker = Stackwalker::new(&SymbolOptions::default(), Duration::from_secs(30)).unwrap();
        let result = walker.abandonable(|_| panic!("bad dump"));
        assert_eq!(result.status, "UnknownError");
        assert!(result.error.unwrap().contains("bad dump"));
    }

    #[test]
    fn evil_json_only_when_the_raw_crash_has_what_the_stackwalker_reads() {
        let mut raw = RawCrash::new();
        raw.insert("ProductName".into(), "Firefox".into());
        assert!(evil_json(&raw).is_none());
        raw.insert("CPUMicrocodeVersion".into(), "0xf0".into());
        let file = evil_json(&raw).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
        assert_eq!(written, serde_json::json!({"CPUMicrocodeVersion": "0xf0"}));
    }
}
