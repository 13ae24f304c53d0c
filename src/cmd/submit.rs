//! `crashctl submit`: send crashes to a collector (or a local spool) as a crash reporter does.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crashctl::crash::RawCrash;
use crashctl::submitter::{
    self, input, CrashSpec, DumpArg, Encoding, SubmitOptions, SubmitResult, SubmitSource, Summary, TargetSpec,
};
use crashctl::ExitCode;

use crate::cli::{parse_duration, Format, JobsArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl submit http://127.0.0.1:8000 --dump crash.dmp ProductName=Firefox Version=140.0\n  \
    crashctl submit http://127.0.0.1:8000 --from-store ./fetched bp-de1bb258-cbbf-4589-a673-34f800160918\n  \
    crashctl submit ./spool --dump crash.dmp --annotations extra.json\n  \
    crashctl submit http://127.0.0.1:8000 --dump big.dmp ProductName=Load --repeat 1000 -j 16 --rate 200\n  \
    crashctl submit http://127.0.0.1:8000 --generate 500 --seed 42 -j 8 --gzip\n\n\
    Prints one line per crash on stdout (CrashID=bp-..., Discarded=..., or Failed=...) and a summary on stderr.")]
pub struct Args {
    /// Collector URL (`/submit` is added when it has no path) or a spool directory to write into
    #[arg(value_name = "URL|SPOOL_DIR")]
    pub target: String,
    /// Annotations as KEY=VALUE (with --from-store or --generate: set on every crash); with --from-store, also the crash IDs to resubmit (default: all)
    #[arg(value_name = "KEY=VALUE|ID")]
    pub items: Vec<String>,
    /// A dump to send: NAME=PATH, or PATH for the main dump (upload_file_minidump); repeatable
    #[arg(long = "dump", value_name = "[NAME=]PATH", value_parser = DumpArg::parse)]
    pub dumps: Vec<DumpArg>,
    /// Annotations from a JSON object file (repeatable; later files and KEY=VALUE win)
    #[arg(long = "annotations", value_name = "FILE.json")]
    pub annotation_files: Vec<PathBuf>,
    /// Start from a saved raw crash (the collector's fields are dropped)
    #[arg(long, value_name = "FILE")]
    pub raw_crash: Option<PathBuf>,
    /// Send annotations as one `extra` JSON part instead of one form field each
    #[arg(long)]
    pub json_extra: bool,
    /// Gzip the request body (Content-Encoding: gzip), as Crashpad does
    #[arg(long)]
    pub gzip: bool,
    /// Resubmit crashes from a crash store or fetch-data folder (all of them when no IDs are given)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dumps", "raw_crash"])]
    pub from_store: Option<String>,
    /// Send N generated crashes (realistic annotations, valid minidumps) instead of files
    #[arg(long, value_name = "N", conflicts_with_all = ["dumps", "raw_crash", "from_store"],
          value_parser = clap::value_parser!(u64).range(1..))]
    pub generate: Option<u64>,
    /// Seed for --generate: the same seed sends the same crashes (default: random)
    #[arg(long, value_name = "N", requires = "generate")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub jobs: JobsArg,
    /// Send every crash N times (load tests)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Start at most this many crashes per second
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Retries after connection errors, 429 and 5xx answers (never after other 4xx)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// First wait between retries, doubled each time (a Retry-After header wins)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub retry_delay: Duration,
    /// Give up on one HTTP request after this long
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output: one line per crash, or one JSON object per crash
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 0 even when crashes were discarded (throttled or malformed); failures still exit 1
    #[arg(long)]
    pub allow_rejected: bool,
    /// Bearer token for the collector (lets a `uuid` annotation choose the crash ID)
    #[arg(long, env = "CRASHCTL_BEARER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub bearer_token: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let json = args.format == Format::Json;
    let sources = sources(&args, ctx)?;
    let opts = SubmitOptions {
        target: TargetSpec::parse(&args.target)?,
        encoding: Encoding { json_extra: args.json_extra, gzip: args.gzip },
        concurrency: args.jobs.get(),
        repeat: args.repeat,
        rate: args.rate,
        bearer_token: args.bearer_token.clone(),
        retries: args.retries,
        retry_delay: args.retry_delay,
        timeout: args.timeout,
    };
    let progress = ctx.progress("crashes", json);
    let stop = ctx.stop_flag();
    let mut out = std::io::stdout().lock();
    let mut print = |r: &SubmitResult| {
        let _ = if json {
            writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())
        } else {
            writeln!(out, "{}", r.line())
        };
    };
    let summary = submitter::submit(sources, &opts, progress, Arc::clone(&stop), &mut print)?;
    if !ctx.quiet {
        eprintln!("{}", summary_line(&summary));
    }
    Ok(exit_code(&summary, args.allow_rejected, stop.load(std::sync::atomic::Ordering::SeqCst)))
}

/// The crashes to send, from the arguments or a store.
fn sources(args: &Args, ctx: &Context) -> anyhow::Result<Vec<SubmitSource>> {
    let (pairs, others): (Vec<_>, Vec<_>) = args.items.iter().partition(|s| input::parse_pair(s).is_some());
    let pairs: Vec<(String, String)> = pairs.iter().filter_map(|s| input::parse_pair(s)).collect();
    let keep_uuid = args.bearer_token.is_some();
    if let Some(n) = args.generate {
        if let Some(bad) = others.first() {
            anyhow::bail!("{bad:?} is not KEY=VALUE (crash IDs go with --from-store)");
        }
        let overrides = overrides(&args.annotation_files, pairs)?;
        return Ok(submitter::generated(n, args.seed, chrono::Utc::now(), overrides));
    }
    let Some(dir) = &args.from_store else {
        if let Some(bad) = others.first() {
            anyhow::bail!("{bad:?} is not KEY=VALUE (crash IDs go with --from-store)");
        }
        let spec = CrashSpec {
            raw_crash: args.raw_crash.clone(),
            annotation_files: args.annotation_files.clone(),
            pairs,
            dumps: args.dumps.clone(),
            keep_uuid,
        };
        return Ok(vec![SubmitSource::Built(Arc::new(spec.build()?))]);
    };
    let store = crashctl::store::open(dir, false)?;
    let others: Vec<String> = others.into_iter().cloned().collect();
    let input = ctx.read_ids(&others)?;
    for (bad, e) in &input.invalid {
        eprintln!("crashctl: skipping {bad:?}: {e}");
    }
    anyhow::ensure!(input.invalid.is_empty() || !input.ids.is_empty(), "no valid crash IDs given");
    let ids = if input.ids.is_empty() { input::all_ids(store.as_ref())? } else { input.ids };
    anyhow::ensure!(!ids.is_empty(), "{}: no crashes to submit", store.describe());
    let overrides = Arc::new(overrides(&args.annotation_files, pairs)?);
    Ok(ids
        .into_iter()
        .map(|id| SubmitSource::Store { store: Arc::clone(&store), id, overrides: Arc::clone(&overrides), keep_uuid })
        .collect())
}

/// Annotations set on every crash: the files in order, then KEY=VALUE pairs.
fn overrides(files: &[PathBuf], pairs: Vec<(String, String)>) -> anyhow::Result<RawCrash> {
    let mut overrides = RawCrash::new();
    for p in files {
        overrides.extend(input::read_json_object(p)?);
    }
    overrides.extend(pairs.into_iter().map(|(k, v)| (k, v.into())));
    Ok(overrides)
}

fn summary_line(s: &Summary) -> String {
    let total = s.accepted + s.discarded_total() + s.failed;
    let reasons: Vec<String> = s.discarded.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    let reasons = if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) };
    let skipped = if s.skipped > 0 { format!(", {} not sent (stopped)", s.skipped) } else { String::new() };
    format!(
        "submitted {total} crashes in {:.2}s ({:.1}/s): {} accepted, {} discarded{reasons}, {} failed{skipped}; \
         latency p50 {:.1} ms, p99 {:.1} ms",
        s.elapsed_s,
        s.crashes_per_s,
        s.accepted,
        s.discarded_total(),
        s.failed,
        s.p50_ms,
        s.p99_ms
    )
}

fn exit_code(s: &Summary, allow_rejected: bool, stopped: bool) -> ExitCode {
    if stopped && s.skipped > 0 {
        return ExitCode::Interrupted;
    }
    let not_ok = s.failed + if allow_rejected { 0 } else { s.discarded_total() };
    ExitCode::from_failures(not_ok)
}
