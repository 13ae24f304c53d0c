//! `crashctl process`: stackwalk, derive, sign and save processed crashes (from crash IDs,
//! the queues, or one minidump file).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crashctl::processor::{
    Outcome, ProcessStatus, Processed, Processor, ProcessorOptions, Ruleset, RunOptions, RunSummary, SymbolOptions,
    DEFAULT_MAX_CACHED_MODULES, DEFAULT_TIMEOUT,
};
use crashctl::ExitCode;

use crate::cli::{parse_duration, JobsArg, QueueArg, StoreArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl process --store ./store ID...              process these crashes and save them\n  \
    crashctl process --store ./store --queue ./queue    consume the queues until they are empty\n  \
    crashctl process --dump crash.dmp --symbols-path ./symbols --pretty\n\n\
    Exit codes: 0 ok, 1 some crashes failed (timeout or could not be processed), 2 fatal, 130 interrupted.")]
pub struct Args {
    /// Crash IDs (ID, bp-ID or report URL) to process; one per line on stdin when none are given
    #[arg(value_name = "ID", conflicts_with = "dump")]
    pub ids: Vec<String>,

    #[command(flatten)]
    pub store: StoreArg,

    #[command(flatten)]
    pub queue: QueueArg,

    /// With --queue: keep waiting for new messages instead of stopping when the queues are empty
    #[arg(long)]
    pub follow: bool,

    /// Write each processed crash to stdout (JSON Lines)
    #[arg(long)]
    pub print: bool,

    /// Pretty-print the processed crashes (with --print or --dump)
    #[arg(long)]
    pub pretty: bool,

    /// Do not write processed crashes to the store (not with --queue)
    #[arg(long)]
    pub no_save: bool,

    /// Output: text (a summary on stderr), json (one outcome per crash, JSON Lines) or summary
    /// (one line per crash: ID, signature, status, tab-separated)
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,

    #[command(flatten)]
    pub files: Box<Files>,

    #[command(flatten)]
    pub jobs: JobsArg,

    /// Longest time one dump may take to stackwalk; past it the walk is abandoned (status
    /// `timeout`, with a note) and the run goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
    pub timeout: Duration,

    /// Ruleset for crashes given as IDs: default or regenerate_signature (queue messages may
    /// name their own as `ID:ruleset`)
    #[arg(long, value_name = "NAME", value_parser = |s: &str| s.parse::<Ruleset>())]
    pub ruleset: Option<Ruleset>,
}

/// The files and folders a run reads (boxed: keeps the subcommand enum small).
#[derive(Debug, clap::Args)]
pub struct Files {
    /// Process one minidump file, with no store, and print the processed crash
    #[arg(long, value_name = "FILE.dmp", conflicts_with_all = ["follow", "no_save"])]
    pub dump: Option<PathBuf>,

    /// With --dump: the crash annotations (a JSON object, as in a raw crash)
    #[arg(long, value_name = "FILE.json", requires = "dump")]
    pub annotations: Option<PathBuf>,

    /// A local symbols directory (`<debug_file>/<DEBUG_ID>/<file>.sym`); repeatable
    #[arg(long = "symbols-path", value_name = "DIR")]
    pub symbols_path: Vec<PathBuf>,

    /// A symbol server URL (Tecken/Breakpad layout), tried in order; repeatable
    #[arg(long = "symbols-url", value_name = "URL")]
    pub symbols_url: Vec<String>,

    /// Where downloaded symbols are cached [default: $TMPDIR/rust-minidump-cache]
    #[arg(long = "symbols-cache", value_name = "DIR")]
    pub symbols_cache: Option<PathBuf>,

    /// Bound on the in-memory symbol cache, in modules: past it the next crashes start a fresh
    /// cache (symbols are read again as needed), so a long --follow run does not grow for ever;
    /// 0: no bound
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CACHED_MODULES)]
    pub symbol_cache_modules: u64,

    /// Folder of Socorro signature lists (irrelevant, prefix, line numbers, sentinels);
    /// default: the built-in lists
    #[arg(long, value_name = "DIR")]
    pub siglists: Option<PathBuf>,
}

/// What goes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Nothing per crash on stdout; a summary on stderr
    Text,
    /// One outcome per crash (JSON Lines)
    Json,
    /// One line per crash: ID, signature, status (tab-separated)
    Summary,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    if args.print && args.format != OutputFormat::Text {
        anyhow::bail!(
            "--print writes processed crashes to stdout; it cannot be combined with --format {:?}",
            args.format
        );
    }
    let options = ProcessorOptions {
        symbols: SymbolOptions {
            paths: args.files.symbols_path.clone(),
            urls: args.files.symbols_url.clone(),
            cache: args.files.symbols_cache.clone(),
            download_timeout: DEFAULT_TIMEOUT,
            max_cached_modules: (args.files.symbol_cache_modules > 0).then_some(args.files.symbol_cache_modules),
        },
        siglists: args.files.siglists.clone(),
        timeout: args.timeout,
        concurrency: args.jobs.get(),
    };
    let processor = Processor::new(options)?;
    if let Some(dump) = &args.files.dump {
        return run_dump(&processor, &args, dump);
    }
    let queue_mode = args.queue.queue.is_some() && args.ids.is_empty();
    if args.follow && !queue_mode {
        anyhow::bail!("--follow needs --queue (and no crash IDs)");
    }
    if args.no_save && queue_mode {
        anyhow::bail!("--no-save cannot be used with --queue: a consumed message must have its crash saved");
    }
    let out = Output { print: args.print, pretty: args.pretty, format: args.format };
    let stdout_data = args.print || args.format != OutputFormat::Text;
    let run = RunOptions { save: !args.no_save, progress: ctx.progress("crashes", stdout_data), stop: ctx.stop_flag() };
    let sink = |o: &Outcome, p: Option<&Processed>| {
        out.emit(o, p);
        // a walk thread cannot be stopped: say how many hold a CPU, so a long --follow run
        // can be restarted before they add up
        let abandoned = processor.abandoned_walks_running();
        if o.status == ProcessStatus::Timeout && abandoned > 0 {
            eprintln!("crashctl: {abandoned} stackwalks abandoned at --timeout still running");
        }
    };
    let store = args.store.open(ctx, false)?;
    let (summary, invalid) = if queue_mode {
        let queue = args.queue.open(ctx, false)?;
        (processor.consume_queue(store.as_ref(), queue.as_ref(), args.follow, &run, &sink)?, 0)
    } else {
        let input = ctx.read_ids(&args.ids)?;
        if input.ids.is_empty() && input.invalid.is_empty() && !ctx.quiet {
            eprintln!("crashctl: no crash IDs given (as arguments or on stdin) and no --queue: nothing to do");
        }
        for (text, err) in &input.invalid {
            eprintln!("crashctl: skipping {text:?}: {err}");
        }
        let jobs: Vec<_> = input.ids.into_iter().map(|id| (id, args.ruleset.map(|r| r.as_str().to_string()))).collect();
        (processor.process_ids(store.as_ref(), &jobs, &run, &sink), input.invalid.len() as u64)
    };
    report(ctx, &summary, invalid, &processor)
}

fn run_dump(processor: &Processor, args: &Args, dump: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (outcome, processed) = processor.process_file(dump, args.files.annotations.as_deref())?;
    let out = Output { print: args.format == OutputFormat::Text, pretty: args.pretty, format: args.format };
    out.emit(&outcome, Some(&processed));
    Ok(ExitCode::from_failures(u64::from(outcome.status.is_failure())))
}

fn report(ctx: &Context, summary: &RunSummary, invalid: u64, processor: &Processor) -> anyhow::Result<ExitCode> {
    let renewals = processor.symbol_cache_renewals();
    let abandoned = processor.abandoned_walks_running();
    if !ctx.quiet {
        eprintln!(
            "processed {} crashes in {:.1}s ({:.1}/s): {} ok, {} stackwalk failed, {} timed out, {} errors; {} saved{}{}",
            summary.total(),
            summary.elapsed_secs,
            summary.per_second(),
            summary.ok,
            summary.stackwalk_failed,
            summary.timeout,
            summary.error,
            summary.saved,
            if invalid > 0 { format!("; {invalid} invalid IDs skipped") } else { String::new() },
            if renewals > 0 { format!("; symbol cache started afresh {renewals} times") } else { String::new() },
        );
        if abandoned > 0 {
            eprintln!("crashctl: {abandoned} stackwalks abandoned at --timeout were still running at the end");
        }
    }
    if let Some(fatal) = &summary.fatal {
        anyhow::bail!("{fatal}");
    }
    if summary.interrupted {
        return Ok(ExitCode::Interrupted);
    }
    Ok(ExitCode::from_failures(summary.failed() + invalid))
}

/// Renders each crash as it finishes.
struct Output {
    print: bool,
    pretty: bool,
    format: OutputFormat,
}

impl Output {
    fn emit(&self, outcome: &Outcome, processed: Option<&Processed>) {
        if let Some(error) = &outcome.error {
            eprintln!("crashctl: {}: {error}", outcome.id);
        }
        let line = match (self.print, self.format, processed) {
            (true, _, Some(p)) if self.pretty => serde_json::to_string_pretty(&p.to_map()).ok(),
            (true, _, Some(p)) => String::from_utf8(p.to_vec()).ok(),
            (true, _, None) => None,
            (false, OutputFormat::Json, _) => serde_json::to_string(outcome).ok(),
            (false, OutputFormat::Summary, _) => {
                Some(format!("{}\t{}\t{}", outcome.id, outcome.signature.as_deref().unwrap_or(""), outcome.status))
            }
            (false, OutputFormat::Text, _) => None,
        };
        if let Some(line) = line {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
        }
    }
}
