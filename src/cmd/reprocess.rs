//! `crashctl reprocess`: on Crash Stats (`--host`), or locally (publish to the `reprocessing`
//! queue of a local store).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crashctl::api::{find_token, RetryPolicy};
use crashctl::input::IdInput;
use crashctl::processor::{Processor, RunOptions};
use crashctl::progress::{NoProgress, Progress};
use crashctl::reprocess::{
    self, LocalOptions, LocalReport, NowReport, RemoteReport, ReprocessJobOptions, Selection, RULESETS,
};
use crashctl::secret::Secret;
use crashctl::store::CrashStore;
use crashctl::ExitCode;

use crate::args::{parse_duration, Format, OutputArgs, ProcessingArgs, QueueArg, RemoteArgs, StoreArg, TUNING};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl reprocess --host https://crash-stats.mozilla.org ID...\n  \
    crashctl reprocess --host https://crash-stats.mozilla.org < ids.txt\n  \
    crashctl reprocess --store ./store --date 2026-11-20 --signature 'OOM |'\n  \
    crashctl reprocess --store ./store --all --now --changed\n\n\
    Remote (--host URL): posts the crash IDs to /api/Reprocessing/ in groups (50 by default, \
        with --sleep between groups), retrying connection errors, 429 and 5xx with backoff. Progress is \
        recorded in a state file after each accepted group, so rerunning the same command after a failure or \
        Ctrl-C sends only the groups not yet accepted. The token (--token, $CRASHSTATS_API_TOKEN or \
        CRASHSTATS_API_TOKEN in ./.env) is only ever printed masked.\n\n\
        Local (no --host): publishes the crash IDs to the reprocessing queue of --queue, for `crashctl \
        process` to pick up; --date and --signature select crashes of --store; --now processes them at once \
        with the processing options of `crashctl process`.\n\n\
        Exit codes: 0 ok, or nothing to do; 1 some crash or group failed; 2 usage error, invalid crash ID \
        or fatal error; 130 interrupted.")]
pub struct Args {
    /// Boxed: the options are many, and `cli::Command` holds every subcommand's arguments.
    #[command(flatten)]
    opts: Box<Opts>,
}

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("symbols_path", |a| a.requires("now")),
    mut_arg("symbols_url", |a| a.requires("now")),
    mut_arg("symbols_cache", |a| a.requires("now")),
    mut_arg("siglists", |a| a.requires("now")),
    mut_arg("symbol_cache_modules", |a| a.requires("now")),
)]
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
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = TUNING)]
    batch_size: u32,

    /// Pause between two requests (remote)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, help_heading = TUNING)]
    sleep: Duration,

    /// Allow more than 10,000 crash IDs (remote)
    #[arg(long)]
    allow_many: bool,

    /// State file recording the accepted groups (remote) [default: derived from host, ruleset,
    /// batch size and IDs, under $CRASHCTL_STATE_DIR, $XDG_STATE_HOME/crashctl or ~/.local/state/crashctl]
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Retries of one request after connection errors, 429 and 5xx (remote)
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = TUNING)]
    retries: u32,

    /// Timeout of one request (remote)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = TUNING)]
    request_timeout: Duration,

    /// First retry backoff, doubled each retry (for tests)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, hide = true)]
    retry_base_delay: Duration,

    #[command(flatten)]
    store: StoreArg,

    #[command(flatten)]
    queue: QueueArg,

    #[command(flatten)]
    remote: RemoteArgs,

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

    /// With --now: do not save the processed crashes (see what would change)
    #[arg(long, requires = "now")]
    no_save: bool,

    /// Show what would be sent or published, change nothing
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    output: OutputArgs,

    /// With --now: how crashes are processed (the options of `crashctl process`)
    #[command(flatten)]
    processing: ProcessingArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let args = *args.opts;
    if args.host.is_some() {
        run_remote(args, ctx)
    } else {
        run_local(args, ctx)
    }
}

/// Reads the IDs, reports invalid ones on stderr. `None` when there is nothing to do (no IDs
/// given, none needed); an error (invalid input) when every ID given is invalid.
fn read_ids(args: &Opts, ctx: &Context, allow_none: bool) -> anyhow::Result<Option<IdInput>> {
    let input =
        if args.ids.is_empty() && allow_none { IdInput::default() } else { ctx.read_ids_saying_invalid(&args.ids)? };
    if input.ids.is_empty() && !allow_none {
        anyhow::ensure!(input.invalid.is_empty(), "no valid crash IDs given");
        let hint =
            if args.host.is_some() { "" } else { "; or select crashes of the store with --all, --date or --signature" };
        ctx.status(format!("crashctl: no crash IDs given (as arguments, or one a line on stdin){hint}: nothing to do"));
        return Ok(None);
    }
    Ok(Some(input))
}

// ---- remote ----

fn run_remote(args: Opts, ctx: &Context) -> anyhow::Result<ExitCode> {
    let Some(input) = read_ids(&args, ctx, false)? else { return Ok(ExitCode::Success) };
    let cwd = std::env::current_dir()?;
    let token = find_token(args.token.clone(), &cwd).map_err(|e| anyhow::anyhow!("reading ./.env: {e}"))?;
    let secret = token.as_ref().map(|(t, _)| t.clone());
    if let (Some((t, source)), false) = (&token, ctx.quiet || args.dry_run) {
        crate::ui::errln!("crashctl: using API token {t} (from {source})");
    }
    let opts = remote_options(&args, secret.clone());
    ctx.detail(format_args!(
        "posting {} crash IDs to {}/api/Reprocessing/ in groups of {}, {} retries (connection errors, 429, 5xx) \
         from {} doubling, {} between groups",
        input.ids.len(),
        opts.host.trim_end_matches('/'),
        opts.batch_size,
        opts.retry.retries,
        humantime::format_duration(opts.retry.base_delay),
        humantime::format_duration(opts.sleep),
    ));
    let json = args.output.get() == Format::Json;
    let progress = remote_progress(ctx, json);
    let result = reprocess::run_remote(&opts, &input.ids, progress.as_ref(), ctx.stop_flag());
    // Errors may quote the server or the host: scrub the token from them all the same.
    let report = result.map_err(|e| anyhow::anyhow!(scrub(&secret, &format!("{e:#}"))))?;
    render_remote(&report, &input, args.output.get())?;
    Ok(input.exit_code(remote_exit(&report)))
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

/// A group not accepted goes to stderr with its IDs; the report to stdout.
fn render_remote(report: &RemoteReport, input: &IdInput, format: Format) -> anyhow::Result<()> {
    if let Some(f) = &report.failed {
        let ids: Vec<&str> = f.ids.iter().map(|id| id.as_str()).collect();
        crate::ui::errln!("crashctl: group {}/{} was not accepted: {}", f.index, report.groups, f.error);
        crate::ui::errln!("crashctl: group {} IDs: {}", f.index, ids.join(" "));
    }
    crate::ui::suspend(|| report.render(format, input, &mut std::io::stdout().lock()))?;
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
        crate::ui::errln!("({done}/{total}) ETA {}", humantime::format_duration(eta));
    }
    fn message(&self, msg: &str) {
        crate::ui::errln!("crashctl: {msg}");
    }
}

// ---- local ----

fn run_local(args: Opts, ctx: &Context) -> anyhow::Result<ExitCode> {
    let selecting = args.date.is_some() || args.signature.is_some() || args.all;
    let Some(input) = read_ids(&args, ctx, selecting)? else { return Ok(ExitCode::Success) };
    let opts = LocalOptions {
        ruleset: args.ruleset.clone(),
        date: args.date,
        signature: args.signature.clone(),
        all: args.all,
        dry_run: args.dry_run,
    };
    let config = ctx.config()?;
    let store = args.store.open(config, &args.remote, false)?;
    ctx.detail(format_args!("selecting crashes of {}", store.describe()));
    let selection = reprocess::select_local(store.as_ref(), &input.ids, &opts)?;
    if args.now && !args.dry_run {
        return run_now(&args, ctx, store.as_ref(), selection, &input);
    }
    let (report, target) = if args.dry_run {
        // A dry run needs no queue (it may not exist yet).
        let target = if args.now { "process now".to_string() } else { "queue for reprocessing".to_string() };
        (reprocess::plan_local(selection, &opts), target)
    } else {
        let queue = args.queue.open(config, &args.remote, true)?;
        let progress = ctx.progress("crashes", args.output.get() == Format::Json);
        let report = reprocess::publish_local(queue.as_ref(), selection, &opts, progress.as_ref(), &ctx.stop_flag())?;
        (report, format!("the reprocessing queue of {}", queue.describe()))
    };
    render_local(&report, &input, args.output.get(), ctx, &target)?;
    let code =
        if report.interrupted { ExitCode::Interrupted } else { ExitCode::from_failures(report.missing.len() as u64) };
    Ok(input.exit_code(code))
}

fn render_local(r: &LocalReport, input: &IdInput, format: Format, ctx: &Context, target: &str) -> anyhow::Result<()> {
    for id in &r.missing {
        crate::ui::errln!("crashctl: crash {id}: no raw crash in the store; skipped");
    }
    crate::ui::suspend(|| r.render(format, input, &mut std::io::stdout().lock()))?;
    if format != Format::Json {
        ctx.status(format!("crashctl: {}", r.summary_line(target)));
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
    for problem in processor.symbol_source_problems() {
        crate::ui::errln!("crashctl: warning: {problem}");
    }
    if let Some(warning) = processor.no_symbols_warning(!args.no_save) {
        crate::ui::errln!("crashctl: warning: {warning}");
    }
    let json = args.output.get() == Format::Json;
    let run = RunOptions { save: !args.no_save, progress: ctx.progress("crashes", json), stop: ctx.stop_flag() };
    let report = reprocess::process_now(&processor, store, sel, args.ruleset.as_deref(), &run)?;
    for o in &report.outcomes {
        ctx.detail(format_args!("{}: {} ({})", o.id, o.status, o.signature.as_deref().unwrap_or("no signature")));
    }
    render_now(&report, input, args, ctx)?;
    let code =
        if report.summary.interrupted { ExitCode::Interrupted } else { ExitCode::from_failures(report.failed()) };
    Ok(input.exit_code(code))
}

fn render_now(r: &NowReport, input: &IdInput, args: &Opts, ctx: &Context) -> anyhow::Result<()> {
    for id in &r.missing {
        crate::ui::errln!("crashctl: crash {id}: no raw crash in the store; not processed");
    }
    for o in r.outcomes.iter().filter(|o| o.error.is_some()) {
        crate::ui::errln!("crashctl: crash {}: {}", o.id, o.error.as_deref().unwrap_or_default());
    }
    for o in &r.outcomes {
        if let Some(warning) = &o.warning {
            crate::ui::errln!("crashctl: warning: crash {}: {warning}", o.id);
        }
    }
    crate::ui::suspend(|| r.render(args.output.get(), input, args.changed, &mut std::io::stdout().lock()))?;
    ctx.status(format!("crashctl: {}", r.summary_line()));
    Ok(())
}
