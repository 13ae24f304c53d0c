//! `crashctl reprocess`: on Crash Stats (`--host`), or locally (publish to the `reprocessing`
//! queue of a local store).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crashctl::api::{find_token, RetryPolicy};
use crashctl::input::IdInput;
use crashctl::processor::{
    Processor, ProcessorOptions, RunOptions, SymbolOptions, DEFAULT_MAX_CACHED_MODULES, DEFAULT_TIMEOUT,
};
use crashctl::progress::{NoProgress, Progress};
use crashctl::reprocess::{
    self, LocalOptions, LocalReport, NowReport, RemoteReport, ReprocessJobOptions, Selection, RULESETS,
};
use crashctl::secret::Secret;
use crashctl::store::CrashStore;
use crashctl::ExitCode;

use crate::cli::{parse_duration, Format, JobsArg, QueueArg, StoreArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Remote (--host URL): posts the crash IDs to /api/Reprocessing/ in groups (50 by default, \
        with --sleep between groups), retrying connection errors, 429 and 5xx with backoff. Progress is \
        recorded in a state file after each accepted group, so rerunning the same command after a failure or \
        Ctrl-C sends only the groups not yet accepted. The token (--token, $CRASHSTATS_API_TOKEN or \
        CRASHSTATS_API_TOKEN in ./.env) is only ever printed masked.\n\n\
        Local (no --host): publishes the crash IDs to the reprocessing queue of --queue, for `crashctl \
        process` to pick up; --date and --signature select crashes of --store.")]
pub struct Args {
    /// Boxed: the options are many, and `cli::Command` holds every subcommand's arguments.
    #[command(flatten)]
    opts: Box<Opts>,
}

#[derive(Debug, clap::Args)]
struct Opts {
    /// Crash IDs (ID, bp-ID or report URL); one a line from stdin when none are given (or `-`)
    #[arg(value_name = "IDS")]
    ids: Vec<String>,

    /// Crash Stats base URL, e.g. https://crash-stats.mozilla.org (remote mode)
    #[arg(long, value_name = "URL")]
    host: Option<String>,

    /// API token with the "Reprocess Crashes" permission [default: $CRASHSTATS_API_TOKEN, then
    /// CRASHSTATS_API_TOKEN=... in ./.env]. Prefer the environment: arguments are visible to other users
    #[arg(long, value_name = "TOKEN", hide_default_value = true)]
    token: Option<Secret>,

    /// Processor ruleset to run (sent as `id:ruleset`)
    #[arg(long, value_name = "NAME", value_parser = RULESETS)]
    ruleset: Option<String>,

    /// Crash IDs per request (remote)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch_size: u32,

    /// Pause between two requests (remote)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    sleep: Duration,

    /// Allow more than 10,000 crash IDs (remote)
    #[arg(long)]
    allow_many: bool,

    /// State file recording the accepted groups (remote) [default: derived from host, ruleset,
    /// batch size and IDs, under $CRASHCTL_STATE_DIR, $XDG_STATE_HOME/crashctl or ~/.local/state/crashctl]
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Retries of one request after connection errors, 429 and 5xx (remote)
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,

    /// Timeout of one request (remote)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    request_timeout: Duration,

    /// First retry backoff, doubled each retry (for tests)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, hide = true)]
    retry_base_delay: Duration,

    #[command(flatten)]
    store: StoreArg,

    #[command(flatten)]
    queue: QueueArg,

    /// Add every raw crash of this day (UTC) in --store (local)
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "host")]
    date: Option<NaiveDate>,

    /// Keep only crashes whose current signature contains TEXT; alone, pick from every processed
    /// crash of --store (local)
    #[arg(long, value_name = "TEXT", conflicts_with = "host")]
    signature: Option<String>,

    /// Add every processed crash of --store (local)
    #[arg(long, conflicts_with = "host")]
    all: bool,

    /// Process the crashes now instead of queueing them (local), as `crashctl process` would
    #[arg(long, conflicts_with = "host")]
    now: bool,

    /// With --now: report the crashes whose signature changed (old -> new)
    #[arg(long, requires = "now")]
    changed: bool,

    #[command(flatten)]
    processing: NowArgs,

    /// Show what would be sent or published, change nothing
    #[arg(long)]
    dry_run: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The options of `crashctl process`, for `--now`.
#[derive(Debug, clap::Args)]
struct NowArgs {
    /// With --now: a local symbols directory (`<debug_file>/<DEBUG_ID>/<file>.sym`); repeatable
    #[arg(long = "symbols-path", value_name = "DIR", requires = "now")]
    symbols_path: Vec<PathBuf>,

    /// With --now: a symbol server URL (Tecken/Breakpad layout), tried in order; repeatable
    #[arg(long = "symbols-url", value_name = "URL", requires = "now")]
    symbols_url: Vec<String>,

    /// With --now: where downloaded symbols are cached [default: $TMPDIR/rust-minidump-cache]
    #[arg(long = "symbols-cache", value_name = "DIR", requires = "now")]
    symbols_cache: Option<PathBuf>,

    /// With --now: folder of Socorro signature lists; default: the built-in lists
    #[arg(long, value_name = "DIR", requires = "now")]
    siglists: Option<PathBuf>,

    /// With --now: longest time one dump may take to stackwalk
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
    timeout: Duration,

    #[command(flatten)]
    jobs: JobsArg,

    /// With --now: do not save the processed crashes (see what would change)
    #[arg(long, requires = "now")]
    no_save: bool,
}

impl NowArgs {
    fn processor_options(&self) -> ProcessorOptions {
        ProcessorOptions {
            symbols: SymbolOptions {
                paths: self.symbols_path.clone(),
                urls: self.symbols_url.clone(),
                cache: self.symbols_cache.clone(),
                download_timeout: DEFAULT_TIMEOUT,
                max_cached_modules: Some(DEFAULT_MAX_CACHED_MODULES),
            },
            siglists: self.siglists.clone(),
            timeout: self.timeout,
            concurrency: self.jobs.get(),
        }
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let args = *args.opts;
    if args.host.is_some() {
        run_remote(args, ctx)
    } else {
        run_local(args, ctx)
    }
}

/// Reads the IDs, reports invalid ones on stderr; an error when there is nothing valid.
fn read_ids(args: &Opts, ctx: &Context, allow_none: bool) -> anyhow::Result<IdInput> {
    let input = if args.ids.is_empty() && allow_none { IdInput::default() } else { ctx.read_ids(&args.ids)? };
    for (text, err) in &input.invalid {
        eprintln!("crashctl: skipping {text:?}: {err}");
    }
    if input.ids.is_empty() && !allow_none {
        let hint =
            if args.host.is_some() { "" } else { "; or select crashes of the store with --all, --date or --signature" };
        anyhow::bail!("no valid crash IDs given (as arguments, or one a line on stdin){hint}");
    }
    Ok(input)
}

fn invalid_json(input: &IdInput) -> serde_json::Value {
    input
        .invalid
        .iter()
        .map(|(text, e)| serde_json::json!({"input": text, "error": e.name(), "message": e.to_string()}))
        .collect()
}

// ---- remote ----

fn run_remote(args: Opts, ctx: &Context) -> anyhow::Result<ExitCode> {
    let input = read_ids(&args, ctx, false)?;
    let cwd = std::env::current_dir()?;
    let token = find_token(args.token.clone(), &cwd).map_err(|e| anyhow::anyhow!("reading ./.env: {e}"))?;
    let secret = token.as_ref().map(|(t, _)| t.clone());
    if let (Some((t, source)), false) = (&token, ctx.quiet || args.dry_run) {
        eprintln!("crashctl: using API token {t} (from {source})");
    }
    let opts = remote_options(&args, secret.clone());
    let json = args.format == Format::Json;
    let progress = remote_progress(ctx, json);
    let result = reprocess::run_remote(&opts, &input.ids, progress.as_ref(), ctx.stop_flag());
    // Errors may quote the server or the host: scrub the token from them all the same.
    let report = result.map_err(|e| anyhow::anyhow!(scrub(&secret, &format!("{e:#}"))))?;
    render_remote(&report, &input, args.format)?;
    Ok(remote_exit(&report))
}

fn remote_options(args: &Opts, token: Option<Secret>) -> ReprocessJobOptions {
    ReprocessJobOptions {
        host: args.host.clone().unwrap_or_default(),
        token,
        ruleset: args.ruleset.clone(),
        batch_size: args.batch_size as usize,
        sleep: args.sleep,
        state: args.state.clone(),
        allow_many: args.allow_many,
        dry_run: args.dry_run,
        retry: RetryPolicy { retries: args.retries, base_delay: args.retry_base_delay, ..RetryPolicy::default() },
        timeout: args.request_timeout,
    }
}

fn scrub(token: &Option<Secret>, text: &str) -> String {
    token.as_ref().map(|t| t.scrub(text)).unwrap_or_else(|| text.to_string())
}

fn remote_exit(report: &RemoteReport) -> ExitCode {
    if report.interrupted {
        ExitCode::Interrupted
    } else if report.failed.is_some() || (!report.dry_run && report.remaining > 0) {
        ExitCode::SomeFailed
    } else {
        ExitCode::Success
    }
}

/// A bar on a terminal; "(i/N) ETA" lines on stderr otherwise; nothing with --quiet/CI.
fn remote_progress(ctx: &Context, json: bool) -> Arc<dyn Progress> {
    if ctx.no_progress {
        Arc::new(NoProgress)
    } else if ctx.show_progress(json) {
        ctx.progress("groups", json)
    } else {
        Arc::new(LineProgress::new())
    }
}

fn render_remote(report: &RemoteReport, input: &IdInput, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let Some(f) = &report.failed {
        let ids: Vec<&str> = f.ids.iter().map(|id| id.as_str()).collect();
        eprintln!("crashctl: group {}/{} was not accepted: {}", f.index, report.groups, f.error);
        eprintln!("crashctl: group {} IDs: {}", f.index, ids.join(" "));
    }
    if format == Format::Json {
        let mut v = serde_json::to_value(report)?;
        v["invalid"] = invalid_json(input);
        v["duplicates"] = input.duplicates.into();
        writeln!(out, "{v}")?;
        return Ok(());
    }
    if report.dry_run {
        for g in &report.would_send {
            writeln!(out, "group {}/{} ({} IDs):", g.index, report.groups, g.ids.len())?;
            for id in &g.ids {
                writeln!(out, "  {id}")?;
            }
        }
    }
    write_remote_summary(&mut out, report)?;
    Ok(())
}

fn write_remote_summary(out: &mut impl Write, r: &RemoteReport) -> std::io::Result<()> {
    let verb = if r.dry_run { "would send" } else { "accepted" };
    let count = if r.dry_run { r.would_send.len() } else { r.accepted };
    writeln!(
        out,
        "{} crash IDs in {} groups to {}: {verb} {count}, accepted before {}, remaining {}, retries {}",
        r.ids, r.groups, r.host, r.already_accepted, r.remaining, r.retries
    )?;
    if r.complete {
        writeln!(out, "every group accepted")?;
    } else if !r.dry_run && r.remaining > 0 {
        let why = if r.interrupted { "interrupted" } else { "stopped" };
        if r.already_accepted + r.accepted == 0 {
            writeln!(out, "{why} before any group was accepted; rerun the same command to try again")?;
        } else {
            writeln!(out, "{why}; state in {} (rerun the same command to resume)", r.state_file.display())?;
        }
    }
    Ok(())
}

/// "(i/N) ETA ..." lines for logs, where a bar cannot be drawn.
struct LineProgress {
    start: Instant,
    total: AtomicU64,
    done: AtomicU64,
}

impl LineProgress {
    fn new() -> LineProgress {
        LineProgress { start: Instant::now(), total: AtomicU64::new(0), done: AtomicU64::new(0) }
    }
}

impl Progress for LineProgress {
    fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let total = self.total.load(Ordering::Relaxed).max(done);
        let per_item = self.start.elapsed().as_secs_f64() / done.max(1) as f64;
        let eta = Duration::from_secs((per_item * (total - done) as f64).round() as u64);
        eprintln!("({done}/{total}) ETA {}", humantime::format_duration(eta));
    }
    fn message(&self, msg: &str) {
        eprintln!("crashctl: {msg}");
    }
}

// ---- local ----

fn run_local(args: Opts, ctx: &Context) -> anyhow::Result<ExitCode> {
    let selecting = args.date.is_some() || args.signature.is_some() || args.all;
    let input = read_ids(&args, ctx, selecting)?;
    let opts = LocalOptions {
        ruleset: args.ruleset.clone(),
        date: args.date,
        signature: args.signature.clone(),
        all: args.all,
        dry_run: args.dry_run,
    };
    let store = args.store.open(ctx, false)?;
    let selection = reprocess::select_local(store.as_ref(), &input.ids, &opts)?;
    if args.now && !args.dry_run {
        return run_now(&args, ctx, store.as_ref(), selection, &input);
    }
    let (report, target) = if args.dry_run {
        // A dry run needs no queue (it may not exist yet).
        let target = if args.now { "process now".to_string() } else { "queue for reprocessing".to_string() };
        (reprocess::plan_local(selection, &opts), target)
    } else {
        let queue = args.queue.open(ctx, true)?;
        let progress = ctx.progress("crashes", args.format == Format::Json);
        let report = reprocess::publish_local(queue.as_ref(), selection, &opts, progress.as_ref(), &ctx.stop_flag())?;
        (report, format!("the reprocessing queue of {}", queue.describe()))
    };
    render_local(&report, &input, args.format, ctx.quiet, &target)?;
    Ok(if report.interrupted { ExitCode::Interrupted } else { ExitCode::from_failures(report.missing.len() as u64) })
}

fn render_local(r: &LocalReport, input: &IdInput, format: Format, quiet: bool, target: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for id in &r.missing {
        eprintln!("crashctl: crash {id}: no raw crash in the store; skipped");
    }
    if format == Format::Json {
        let mut v = serde_json::to_value(r)?;
        v["invalid"] = invalid_json(input);
        v["duplicates"] = input.duplicates.into();
        writeln!(out, "{v}")?;
        return Ok(());
    }
    for id in &r.ids {
        writeln!(out, "{id}")?;
    }
    if !quiet {
        let verb = if r.dry_run { "would" } else { "published to" };
        let ruleset = r.ruleset.as_deref().map(|rs| format!(" with ruleset {rs}")).unwrap_or_default();
        eprintln!(
            "crashctl: {} crashes: {verb} {target}{ruleset}; {} not in the store, {} other signatures",
            r.ids.len(),
            r.missing.len(),
            r.not_matching
        );
    }
    Ok(())
}

// ---- local, --now ----

fn run_now(
    args: &Opts,
    ctx: &Context,
    store: &dyn CrashStore,
    sel: Selection,
    input: &IdInput,
) -> anyhow::Result<ExitCode> {
    let processor = Processor::new(args.processing.processor_options())?;
    let json = args.format == Format::Json;
    let run =
        RunOptions { save: !args.processing.no_save, progress: ctx.progress("crashes", json), stop: ctx.stop_flag() };
    let report = reprocess::process_now(&processor, store, sel, args.ruleset.as_deref(), &run)?;
    render_now(&report, input, args, ctx.quiet)?;
    Ok(if report.summary.interrupted { ExitCode::Interrupted } else { ExitCode::from_failures(report.failed()) })
}

fn render_now(r: &NowReport, input: &IdInput, args: &Opts, quiet: bool) -> anyhow::Result<()> {
    for id in &r.missing {
        eprintln!("crashctl: crash {id}: no raw crash in the store; not processed");
    }
    for o in r.outcomes.iter().filter(|o| o.error.is_some()) {
        eprintln!("crashctl: crash {}: {}", o.id, o.error.as_deref().unwrap_or_default());
    }
    let changed = r.changed();
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        let mut v = serde_json::json!({
            "ruleset": r.ruleset, "summary": r.summary, "missing": r.missing, "not_matching": r.not_matching,
            "invalid": invalid_json(input), "duplicates": input.duplicates,
        });
        v[if args.changed { "changed" } else { "outcomes" }] =
            if args.changed { serde_json::to_value(&changed)? } else { serde_json::to_value(&r.outcomes)? };
        writeln!(out, "{v}")?;
    } else if args.changed {
        write_changes(&mut out, &changed)?;
    } else {
        for o in &r.outcomes {
            writeln!(out, "{}\t{}\t{}", o.id, o.status, o.signature.as_deref().unwrap_or(""))?;
        }
    }
    if !quiet {
        let s = &r.summary;
        eprintln!(
            "crashctl: processed {} crashes: {} ok, {} stackwalk failed, {} timed out, {} errors; {} saved; {} signatures changed",
            s.total(), s.ok, s.stackwalk_failed, s.timeout, s.error, s.saved, changed.len()
        );
    }
    Ok(())
}

/// The changes as a table: crash ID, old signature -> new signature.
fn write_changes(out: &mut impl Write, changed: &[reprocess::Change]) -> std::io::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    writeln!(out, "{:<36}  OLD SIGNATURE -> NEW SIGNATURE", "CRASH ID")?;
    for c in changed {
        writeln!(out, "{}  {} -> {}", c.id, c.old_signature, c.new_signature)?;
    }
    Ok(())
}
