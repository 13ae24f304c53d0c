//! `crashctl submit`: send crashes to a collector (or a local spool) as a crash reporter does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crashctl::crash::RawCrash;
use crashctl::submitter::{
    self, input, CrashSpec, DumpArg, Encoding, SubmitOptions, SubmitReport, SubmitResult, SubmitSource, TargetSpec,
};
use crashctl::ExitCode;

use crate::args::{parse_duration, Format, JobsArg, OutputArgs, OUTPUT, TUNING};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl submit http://127.0.0.1:8000 --dump crash.dmp ProductName=Firefox\n  \
    crashctl submit http://127.0.0.1:8000 --from-store ./fetched bp-ID...\n  \
    crashctl submit ./spool --dump crash.dmp --annotations extra.json\n  \
    crashctl submit http://127.0.0.1:8000 --dump big.dmp --repeat 1000 --rate 200\n  \
    crashctl submit http://127.0.0.1:8000 --generate 500 --seed 42 -j 8 --gzip\n\n\
    Prints one line per crash on stdout (CrashID=bp-..., Discarded=..., or Failed=...; --json: one \
    object per crash) and a summary on stderr. Exit codes: 0 every crash accepted (or nothing to \
    send), 1 some crash was discarded or failed, 2 usage error, invalid crash ID or fatal error, \
    130 interrupted.")]
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
    #[arg(long, value_name = "N", default_value_t = 3, help_heading = TUNING)]
    pub retries: u32,
    /// First wait between retries, doubled each time (a Retry-After header wins)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration, help_heading = TUNING)]
    pub retry_delay: Duration,
    /// Give up on one HTTP request after this long
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration, help_heading = TUNING)]
    pub timeout: Duration,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit 0 even when crashes were discarded (throttled or malformed); failures still exit 1
    #[arg(long, help_heading = OUTPUT)]
    pub allow_rejected: bool,
    /// Bearer token for the collector (lets a `uuid` annotation choose the crash ID)
    #[arg(long, env = "CRASHCTL_BEARER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub bearer_token: Option<String>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let json = format == Format::Json;
    let (sources, invalid) = sources(&args, ctx)?;
    if sources.is_empty() {
        return Ok(if invalid > 0 { ExitCode::Fatal } else { ExitCode::Success });
    }
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
    let target = match &opts.target {
        TargetSpec::Url(url) => url.clone(),
        TargetSpec::Spool(dir) => format!("the spool {}", dir.display()),
    };
    ctx.detail(format_args!("sending {} crashes to {target}", sources.len() as u64 * u64::from(args.repeat)));
    // through the bar: a stale bar line never stays among the CrashID= lines
    let mut print = |r: &SubmitResult| {
        crate::ui::suspend(|| {
            ctx.detail(format_args!(
                "crash {} ({}): {} after {} attempt{} in {:.1} ms{}",
                r.index,
                r.source.as_deref().unwrap_or("built from the arguments"),
                r.http_status.map_or("no answer".to_string(), |s| format!("HTTP {s}")),
                r.attempts,
                if r.attempts == 1 { "" } else { "s (retried: connection error, 429 or 5xx)" },
                r.latency_ms,
                r.reason.as_deref().map(|why| format!(": {why}")).unwrap_or_default(),
            ));
            let _ = r.render(format, &mut out);
            let _ = std::io::Write::flush(&mut out);
        })
    };
    let summary = submitter::submit(sources, &opts, progress, Arc::clone(&stop), &mut print)?;
    ctx.status(summary.summary_line());
    let code = exit_code(&summary, args.allow_rejected, stop.load(std::sync::atomic::Ordering::SeqCst));
    Ok(if invalid > 0 { code.worst(ExitCode::Fatal) } else { code })
}

/// The crashes to send, from the arguments or a store, and how many crash IDs given were
/// invalid (reported and skipped).
fn sources(args: &Args, ctx: &Context) -> anyhow::Result<(Vec<SubmitSource>, usize)> {
    let (pairs, others): (Vec<_>, Vec<_>) = args.items.iter().partition(|s| input::parse_pair(s).is_some());
    let pairs: Vec<(String, String)> = pairs.iter().filter_map(|s| input::parse_pair(s)).collect();
    let keep_uuid = args.bearer_token.is_some();
    if let Some(n) = args.generate {
        if let Some(bad) = others.first() {
            anyhow::bail!("{bad:?} is not KEY=VALUE (crash IDs go with --from-store)");
        }
        let overrides = overrides(&args.annotation_files, pairs)?;
        return Ok((submitter::generated(n, args.seed, chrono::Utc::now(), overrides), 0));
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
        return Ok((vec![SubmitSource::Built(Arc::new(spec.build()?))], 0));
    };
    let store = crashctl::store::open(dir, false)?;
    let others: Vec<String> = others.into_iter().cloned().collect();
    let input = ctx.read_ids(&others)?;
    for (bad, e) in &input.invalid {
        crate::ui::errln!("crashctl: skipping {bad:?}: {e}");
    }
    let invalid = input.invalid.len();
    if invalid > 0 && input.ids.is_empty() {
        return Ok((Vec::new(), invalid));
    }
    let ids = if input.ids.is_empty() { input::all_ids(store.as_ref())? } else { input.ids };
    if ids.is_empty() {
        ctx.status(format!("crashctl: {}: no crashes to submit: nothing to do", store.describe()));
    }
    let overrides = Arc::new(overrides(&args.annotation_files, pairs)?);
    let sources = ids
        .into_iter()
        .map(|id| SubmitSource::Store { store: Arc::clone(&store), id, overrides: Arc::clone(&overrides), keep_uuid })
        .collect();
    Ok((sources, invalid))
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

fn exit_code(s: &SubmitReport, allow_rejected: bool, stopped: bool) -> ExitCode {
    if stopped && s.skipped > 0 {
        return ExitCode::Interrupted;
    }
    let not_ok = s.failed + if allow_rejected { 0 } else { s.discarded_total() };
    ExitCode::from_failures(not_ok)
}
