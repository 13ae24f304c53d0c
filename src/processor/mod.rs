//! The processor stage: stackwalk a crash's minidumps in-process (the same JSON as
//! `minidump-stackwalk --json`), derive the processed-crash fields through a pipeline of small
//! rules, sign it, and save it.
//!
//! # Library entry point (used by `crashctl process` and `crashctl reprocess --now`)
//!
//! ```no_run
//! use crashctl::processor::{Processed, Processor, ProcessorOptions, RunOptions, Outcome};
//! use crashctl::crash::CrashId;
//! # fn demo(store: &dyn crashctl::store::CrashStore, ids: Vec<CrashId>) -> anyhow::Result<()> {
//! // One Processor per run: it owns the ONE symbol provider/cache and the signature lists.
//! let processor = Processor::new(ProcessorOptions::default())?;
//! let jobs: Vec<(CrashId, Option<String>)> = ids.into_iter().map(|id| (id, Some("regenerate_signature".into()))).collect();
//! let run = RunOptions { save: true, ..RunOptions::default() }; // progress + stop flag inside
//! let summary = processor.process_ids(store, &jobs, &run, &|outcome: &Outcome, _processed: Option<&Processed>| {
//!     println!("{} {:?} -> {:?} ({})", outcome.id, outcome.old_signature, outcome.signature, outcome.status);
//! });
//! assert_eq!(summary.total(), jobs.len() as u64);
//! # Ok(()) }
//! ```
//!
//! - [`Processor::new`]`(ProcessorOptions) -> anyhow::Result<Processor>`: symbols (paths,
//!   URLs, cache), `siglists` folder (else `SigLists::builtin()`), per-dump `timeout`,
//!   `concurrency` (worker threads of a batch).
//! - [`Processor::process_ids`]`(&self, &dyn CrashStore, &[(CrashId, Option<String>)], &RunOptions, sink)
//!   -> ProcessReport`: processes each crash with its ruleset (`None` = `default`; a name from a
//!   queue message is checked here), saves (with one `store.sync()` at the end) unless
//!   `RunOptions::save` is false, reports each [`Outcome`] (id, ruleset, status, old signature, new
//!   signature, saved, error) and the [`Processed`] crash to `sink` as it finishes (from worker
//!   threads, in completion order), ticks `RunOptions::progress`, and stops taking new crashes
//!   once `RunOptions::stop` is set (`ProcessReport::interrupted`).
//! - [`Processor::consume_queue`]: the same over a [`CrashQueue`] (priority, standard, then
//!   reprocessing), acking after the save is durable, dead-lettering crashes that cannot be
//!   processed at all.
//! - [`Processor::process_crash`] (one in-memory [`Crash`]) and [`Processor::process_file`]
//!   (a minidump file and optional annotations, no store).
//!
//! A [`Processed`] crash keeps the main dump's `json_dump` as JSON text, written straight from
//! the walk by [`json_dump`] (the same bytes as `minidump-stackwalk --json`) and saved with
//! [`CrashStore::put_processed_json`]: the bulk of a processed crash is never a `Value`.
//!
//! `Processor` owns a small tokio runtime for symbol downloads and blocks while it works: from
//! async code, call it inside `tokio::task::spawn_blocking` (dropping it anywhere is fine).
//!
//! Rules and fields: see `docs/processing.md` and [`rules`].

pub mod human;
pub mod json_dump;
pub mod rules;
pub mod stackwalk;

mod batch;
mod processed;
mod render;
pub mod stages;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::crash::{Crash, CrashId, DumpData, DumpName, ProcessedCrash, RawCrash, Throttle};
use crate::progress::{NoProgress, Progress};
use crate::siggen::{SigLists, SignatureGenerator};
use crate::store::CrashStore;

pub use human::HumanOptions;
pub use processed::Processed;
pub use rules::Ruleset;
pub use stackwalk::{SymbolOptions, DEFAULT_MAX_CACHED_MODULES};

use rules::{CrashContext, Tools};
use stackwalk::Stackwalker;

/// Per-dump stackwalk timeout by default (Socorro's production kill timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How a processor is set up for a run.
#[derive(Debug, Clone)]
pub struct ProcessorOptions {
    pub symbols: SymbolOptions,
    /// A folder of Socorro signature lists; `None` uses `SigLists::builtin()`.
    pub siglists: Option<PathBuf>,
    /// How long one dump may take to stackwalk before it is abandoned.
    pub timeout: Duration,
    /// Crashes processed at once.
    pub concurrency: usize,
}

impl Default for ProcessorOptions {
    fn default() -> Self {
        ProcessorOptions {
            symbols: SymbolOptions {
                download_timeout: Duration::from_secs(120),
                max_cached_modules: Some(DEFAULT_MAX_CACHED_MODULES),
                ..SymbolOptions::default()
            },
            siglists: None,
            timeout: DEFAULT_TIMEOUT,
            concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// How a batch runs.
#[derive(Clone)]
pub struct RunOptions {
    /// Write processed crashes to the store.
    pub save: bool,
    pub progress: Arc<dyn Progress>,
    /// Set (e.g. by SIGINT) to stop taking new crashes.
    pub stop: Arc<AtomicBool>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { save: true, progress: Arc::new(NoProgress), stop: Arc::new(AtomicBool::new(false)) }
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ProcessReport {
    pub ok: u64,
    pub stackwalk_failed: u64,
    pub timeout: u64,
    pub error: u64,
    pub saved: u64,
    /// Stopped by the stop flag before the end.
    pub interrupted: bool,
    pub elapsed_secs: f64,
    /// An error that stopped the run itself (a queue or store that stopped working).
    pub fatal: Option<String>,
}

impl ProcessReport {
    pub fn total(&self) -> u64 {
        self.ok + self.stackwalk_failed + self.timeout + self.error
    }

    /// Crashes that failed (timeouts and errors).
    pub fn failed(&self) -> u64 {
        self.timeout + self.error
    }

    pub fn per_second(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.total() as f64 / self.elapsed_secs
        } else {
            0.0
        }
    }

    pub(super) fn add(&mut self, o: &Outcome) {
        match o.status {
            ProcessStatus::Ok => self.ok += 1,
            ProcessStatus::StackwalkFailed => self.stackwalk_failed += 1,
            ProcessStatus::Timeout => self.timeout += 1,
            ProcessStatus::Error => self.error += 1,
        }
        self.saved += u64::from(o.saved);
    }
}

/// What became of one crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    /// Processed; the stackwalk worked (or was not part of the ruleset).
    Ok,
    /// Processed, but the main dump could not be walked (empty, corrupt, missing):
    /// `mdsw_status_string` says why. Not a failure of the run.
    StackwalkFailed,
    /// Processed, but the stackwalk was abandoned after the timeout. A failure.
    Timeout,
    /// Not processed at all (no raw crash, unknown ruleset, store error). A failure.
    Error,
}

impl ProcessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Ok => "ok",
            ProcessStatus::StackwalkFailed => "stackwalk_failed",
            ProcessStatus::Timeout => "timeout",
            ProcessStatus::Error => "error",
        }
    }

    /// Does this count as a failed crash (exit code 1)?
    pub fn is_failure(self) -> bool {
        matches!(self, ProcessStatus::Timeout | ProcessStatus::Error)
    }
}

impl std::fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One crash's result, as reported to the caller.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub id: CrashId,
    pub ruleset: String,
    pub status: ProcessStatus,
    /// The signature of the processed crash that was there before, if any.
    pub old_signature: Option<String>,
    pub signature: Option<String>,
    /// Was the processed crash written to the store?
    pub saved: bool,
    /// Why the crash could not be processed (status `error`).
    pub error: Option<String>,
    /// Something the caller should tell before trusting the result: a crash processed with
    /// symbols before whose signature this run (with no symbols source) made worse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Outcome {
    fn error(id: &CrashId, ruleset: &str, error: String) -> Outcome {
        Outcome {
            id: id.clone(),
            ruleset: ruleset.to_string(),
            status: ProcessStatus::Error,
            old_signature: None,
            signature: None,
            saved: false,
            error: Some(error),
            warning: None,
        }
    }
}

/// The processor of a run: shared stackwalker (one symbol cache) and signature generator.
pub struct Processor {
    tools: Tools,
    concurrency: usize,
    max_dump_size: u64,
}

/// Largest dump file `process --dump` reads (`--max-dump-size`): far above real dumps (at
/// most ~25 MB), far below what `/dev/zero` or a sparse file would make it allocate.
pub const DEFAULT_MAX_DUMP_SIZE: u64 = 256 * 1024 * 1024;

impl Processor {
    /// How many times the symbol cache was full and started afresh (see
    /// [`SymbolOptions::max_cached_modules`]).
    pub fn symbol_cache_renewals(&self) -> u64 {
        self.tools.stackwalker.cache_renewals()
    }

    /// Stackwalks abandoned at the timeout that are still running (see
    /// [`Stackwalker::abandoned_running`](stackwalk::Stackwalker::abandoned_running)).
    pub fn abandoned_walks_running(&self) -> u64 {
        self.tools.stackwalker.abandoned_running()
    }

    pub fn new(options: ProcessorOptions) -> anyhow::Result<Processor> {
        let lists = match &options.siglists {
            Some(dir) => {
                SigLists::load(dir).with_context(|| format!("loading signature lists from {}", dir.display()))?
            }
            None => SigLists::builtin(),
        };
        let tools = Tools {
            stackwalker: Stackwalker::new(&options.symbols, options.timeout)?,
            signer: SignatureGenerator::new(lists),
        };
        Ok(Processor { tools, concurrency: options.concurrency.max(1), max_dump_size: DEFAULT_MAX_DUMP_SIZE })
    }

    /// Sets the largest dump file [`Processor::process_file`] reads.
    pub fn with_max_dump_size(mut self, bytes: u64) -> Processor {
        self.max_dump_size = bytes;
        self
    }

    /// Processes one crash in memory. `previous` is the crash's existing processed crash: its
    /// notes go to `processor_history`, and `regenerate_signature` starts from it.
    pub fn process_crash(&self, crash: &Crash, previous: Option<&ProcessedCrash>, ruleset: Ruleset) -> Processed {
        let started = now();
        let base = match previous {
            Some(old) if ruleset.needs_processed() => old.clone(),
            _ => ProcessedCrash::new(),
        };
        let mut cx = CrashContext { crash, processed: base, json_dump: None, notes: Vec::new(), tools: &self.tools };
        let rules = stages::timer(stages::Stage::Rules);
        ruleset.run(&mut cx);
        drop(rules);
        let mut processed = cx.processed;
        // The walked dump replaces its view.
        let mut line_offsets = Vec::new();
        let json_dump = cx.json_dump.map(|walked| {
            processed.remove("json_dump");
            line_offsets = walked.line_offsets();
            let _t = stages::timer(stages::Stage::Output);
            let json = walked.to_json();
            let _f = stages::timer(stages::Stage::Free);
            drop(walked);
            json
        });
        processed.insert("processor_history".into(), history(previous));
        processed.insert("processor_notes".into(), cx.notes.join("\n").into());
        processed.insert("started_datetime".into(), started.into());
        processed.insert("completed_datetime".into(), now().into());
        Processed { fields: processed, json_dump, line_offsets }
    }

    /// Processes a minidump file (and optional annotations JSON) with no store; the crash ID
    /// is the annotations' `uuid` when valid, else a new one.
    pub fn process_file(&self, dump: &Path, annotations: Option<&Path>) -> anyhow::Result<(Outcome, Processed)> {
        let raw: RawCrash = match annotations {
            Some(path) => {
                let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_slice(&text).with_context(|| format!("{}: not a JSON object", path.display()))?
            }
            None => RawCrash::new(),
        };
        // a regular file of at most --max-dump-size: not a directory, device or link
        let bytes = crate::fsutil::read_regular(dump, self.max_dump_size)
            .and_then(|b| b.ok_or_else(|| std::io::ErrorKind::NotFound.into()))
            .with_context(|| format!("dump {}", dump.display()))?;
        let given = raw.get("uuid").and_then(Value::as_str).and_then(|s| CrashId::parse_lax(s).ok());
        let id_given = given.is_some();
        let id = given.unwrap_or_else(|| CrashId::generate(Throttle::Accept, Utc::now().date_naive()));
        let unknown = unknown_dump_fields(&raw, id_given);
        let mut crash = Crash::new(id, raw);
        crash.add_dump(DumpName::main(), DumpData::Bytes(bytes.into()));
        let mut processed = self.process_crash(&crash, None, Ruleset::Default);
        // a lone dump has no crash ID, submission or crash time unless the annotations give
        // them: what the rules derived from the stand-in ID is not shown as if it were known
        if unknown.contains(&"crash_time") {
            if let Some(Value::String(notes)) = processed.fields.get_mut("processor_notes") {
                *notes = notes
                    .lines()
                    .map(|l| {
                        if l.starts_with("CrashTime is missing") {
                            "no CrashTime and no submitted_timestamp in the annotations: crash_time is unknown"
                        } else {
                            l
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        for key in unknown {
            processed.fields.insert(key.into(), Value::Null);
        }
        let outcome = outcome_of(&crash.id, Ruleset::Default, None, &processed, false);
        Ok((outcome, processed))
    }

    /// Where this processor looks for symbols, and what is wrong with it: a `--symbols-path`
    /// that is not a directory, a `--symbols-url` whose host cannot be reached (one line each;
    /// the run can go on without them). Checks each URL with one bounded connection.
    pub fn symbol_source_problems(&self) -> Vec<String> {
        self.tools.stackwalker.source_problems()
    }

    /// Does this processor have any symbols source (paths or URLs)?
    pub fn has_symbols(&self) -> bool {
        self.tools.stackwalker.has_sources()
    }

    /// Loads, processes and (when `save`) saves one stored crash.
    pub fn process_stored(
        &self,
        store: &dyn CrashStore,
        id: &CrashId,
        ruleset: Option<&str>,
        save: bool,
    ) -> (Outcome, Option<Processed>) {
        let name = ruleset.unwrap_or(Ruleset::Default.as_str());
        match self.try_process_stored(store, id, name, save) {
            Ok((outcome, processed)) => (outcome, Some(processed)),
            Err(e) => (Outcome::error(id, name, format!("{e:#}")), None),
        }
    }

    fn try_process_stored(
        &self,
        store: &dyn CrashStore,
        id: &CrashId,
        name: &str,
        save: bool,
    ) -> anyhow::Result<(Outcome, Processed)> {
        let ruleset: Ruleset = name.parse().map_err(anyhow::Error::msg)?;
        let previous = store.get_processed(id).with_context(|| format!("crash {id}: reading the processed crash"))?;
        if ruleset.needs_processed() && previous.is_none() {
            anyhow::bail!("crash {id}: ruleset {ruleset} needs a processed crash and there is none");
        }
        let read = stages::timer(stages::Stage::Read);
        let crash = if ruleset.needs_processed() {
            Crash::new(id.clone(), store.get_raw_crash(id)?)
        } else {
            store.get_crash(id)?
        };
        drop(read);
        let processed = self.process_crash(&crash, previous.as_ref(), ruleset);
        {
            let _f = stages::timer(stages::Stage::Free);
            drop(crash);
        }
        let warning = previous.as_ref().and_then(|old| self.lost_symbols(old, &processed, ruleset));
        if save {
            let output = stages::timer(stages::Stage::Output);
            let bytes = processed.to_vec();
            drop(output);
            let _t = stages::timer(stages::Stage::Save);
            store.put_processed_json(id, &bytes).with_context(|| format!("crash {id}: saving the processed crash"))?;
        }
        let mut outcome = outcome_of(id, ruleset, previous.as_ref(), &processed, save);
        outcome.warning = warning;
        Ok((outcome, processed))
    }

    /// When this run has no symbols source, walked the dump again, and the crash had been
    /// processed with symbols (some module's symbols loaded) into another signature: says so.
    fn lost_symbols(&self, previous: &ProcessedCrash, processed: &Processed, ruleset: Ruleset) -> Option<String> {
        if self.has_symbols() || ruleset.needs_processed() {
            return None;
        }
        let modules = previous.get("json_dump")?.get("modules")?.as_array()?;
        let with_symbols =
            modules.iter().filter(|m| m.get("loaded_symbols").and_then(Value::as_bool) == Some(true)).count();
        let old = previous.get("signature").and_then(Value::as_str)?;
        let new = processed.get("signature").and_then(Value::as_str).unwrap_or("");
        (with_symbols > 0 && old != new).then(|| {
            format!(
                "processed with symbols before ({with_symbols} modules) and this run has none \
                 (no --symbols-path or --symbols-url): signature {old} -> {new}"
            )
        })
    }

    /// The warning a caller gives before a run that saves: with no symbols source, a crash
    /// that was processed with symbols gets a worse signature (`mozilla::dom::Element::SetAttr`
    /// becomes `XUL`). `None` when there is a symbols source or nothing is saved.
    pub fn no_symbols_warning(&self, save: bool) -> Option<&'static str> {
        (save && !self.has_symbols()).then_some(
            "no symbols source (--symbols-path or --symbols-url): dumps are walked without symbols, and a crash \
             processed with symbols before gets a worse signature when saved (each one is named)",
        )
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
}

/// The processed fields a lone dump (`process --dump`) cannot know: the crash ID unless the
/// annotations have a valid `uuid`, the submission time unless they have `submitted_timestamp`,
/// the crash time (and what is computed from it) unless they have `CrashTime`.
fn unknown_dump_fields(raw: &RawCrash, id_given: bool) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if !id_given {
        keys.extend(["uuid", "crash_id"]);
    }
    if !raw.contains_key("submitted_timestamp") {
        keys.extend(["submitted_timestamp", "date_processed"]);
    }
    if !raw.contains_key("CrashTime") && !raw.contains_key("submitted_timestamp") {
        keys.extend(["crash_time", "client_crash_date", "uptime", "install_age"]);
    }
    keys
}

fn outcome_of(
    id: &CrashId,
    ruleset: Ruleset,
    previous: Option<&ProcessedCrash>,
    processed: &Processed,
    saved: bool,
) -> Outcome {
    let signature = |p: &ProcessedCrash| p.get("signature").and_then(Value::as_str).map(str::to_string);
    let status = match (ruleset, processed.get("mdsw_status_string").and_then(Value::as_str)) {
        (Ruleset::RegenerateSignature, _) => ProcessStatus::Ok,
        (_, Some(stackwalk::STATUS_TIMEOUT)) => ProcessStatus::Timeout,
        (_, Some(stackwalk::STATUS_OK)) => ProcessStatus::Ok,
        _ => ProcessStatus::StackwalkFailed,
    };
    Outcome {
        id: id.clone(),
        ruleset: ruleset.as_str().to_string(),
        status,
        old_signature: previous.and_then(signature),
        signature: signature(&processed.fields),
        saved,
        error: None,
        warning: None,
    }
}

/// The earlier runs' notes: the previous processed crash's history plus its own run.
fn history(previous: Option<&ProcessedCrash>) -> Value {
    let Some(old) = previous else { return json!([]) };
    let mut entries = old.get("processor_history").and_then(Value::as_array).cloned().unwrap_or_default();
    if old.contains_key("processor_notes") || old.contains_key("completed_datetime") {
        entries.push(json!({
            "completed_datetime": old.get("completed_datetime").cloned().unwrap_or(Value::Null),
            "processor_notes": old.get("processor_notes").cloned().unwrap_or_else(|| "".into()),
        }));
    }
    Value::Array(entries)
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests;
