//! `crashctl move`: drain the spool into the store and the `standard` queue (see
//! `crashctl::mover` for the order of durability, `docs/move.md` for the guarantee).

use std::io::Write;
use std::time::Duration;

use crashctl::mover::{self, Event, MoveOptions, MoveReport};
use crashctl::ExitCode;

use crate::args::{
    parse_duration, parse_interval, Format, JobsArg, OutputArgs, QueueArg, RemoteArgs, SpoolArg, StoreArg, TUNING,
};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl move --spool ./spool --store ./store --queue ./queue\n  \
    crashctl move --dry-run --older-than 10m\n  \
    crashctl move --follow --interval 5s --verify\n  \
    crashctl move --store s3://crashes --queue sqs://socorro --create-queues\n\n\
    -j defaults to 8 for move (it waits on the disk far more than it computes). Exit codes: 0 every crash taken was moved; 1 some crash was not moved (it stays in the \
                         spool, or was quarantined); 2 fatal (the destination kept failing, the spool is locked); \
                         130 a --once run was interrupted (in-flight crashes were finished first). --follow \
                         stopped by SIGINT/SIGTERM exits 0 (or 1 if crashes failed).")]
pub struct Args {
    #[command(flatten)]
    spool: SpoolArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    queue: QueueArg,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    jobs: JobsArg,
    /// Read every crash back from the store and compare sha256 digests before deleting it
    #[arg(long)]
    verify: bool,
    /// Move at most N crashes (oldest first)
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Only move crashes received longer ago than this (e.g. 10m, 2h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    older_than: Option<Duration>,
    /// Print what would be moved (and queued), change nothing
    #[arg(long)]
    dry_run: bool,
    /// Store and queue the crashes but leave them in the spool
    #[arg(long)]
    keep: bool,
    /// Drain the spool once and exit (the default)
    #[arg(long, conflicts_with = "follow")]
    once: bool,
    /// Keep watching the spool, as a daemon does, until SIGINT/SIGTERM; then finish in-flight crashes and exit
    #[arg(long)]
    follow: bool,
    /// With --follow: how often to look for new crashes
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, default_value = "2s", requires = "follow")]
    interval: Duration,
    /// Quarantine a crash after this many failed attempts (counted across runs)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), help_heading = TUNING)]
    max_failures: u32,
    /// Retries (exponential backoff from 100ms) of a failed store write, publish or sync
    #[arg(long, value_name = "N", default_value_t = 3, help_heading = TUNING)]
    retries: u32,
    /// Crashes made durable, published and removed together (one sync of store and queue each)
    #[arg(long, value_name = "N", default_value_t = mover::DEFAULT_BATCH, value_parser = parse_batch, help_heading = TUNING)]
    batch_size: usize,
}

/// Crashes in flight when `-j` is not given.
const DEFAULT_JOBS: usize = 8;

fn parse_batch(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a number of crashes, at least 1".into()),
    }
}

impl Args {
    fn options(&self, count_first: bool) -> MoveOptions {
        MoveOptions {
            // the mover waits on the file system's journal far more than it computes: more
            // crashes in flight than cores by default
            concurrency: self.jobs.concurrency.map_or(DEFAULT_JOBS, |n| n as usize),
            limit: self.limit,
            older_than: self.older_than,
            keep: self.keep,
            verify: self.verify,
            follow: self.follow.then_some(self.interval),
            max_failures: self.max_failures,
            retries: self.retries,
            batch_size: self.batch_size,
            count_first,
            ..MoveOptions::default()
        }
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let json = format == Format::Json;
    let opts = args.options(ctx.show_progress(json));
    let config = ctx.config()?;
    let spool = args.spool.open(config, false)?;
    let stop = ctx.stop_flag();
    ctx.detail(format_args!("spool {}", spool.root().display()));
    let mut out = std::io::stdout().lock();
    let progress = ctx.progress("crashes", json);
    // --follow: one line per batch, or the live status line of the bar on a terminal
    let batches = args.follow && !ctx.quiet;
    let live = ctx.show_progress(json);
    let mut on_event = |event: Event<'_>| match event {
        Event::Batch(b) if batches && live => progress.message(&b.to_string()),
        Event::Batch(b) if batches => crate::ui::errln!("crashctl: {b}"),
        Event::Batch(_) => {}
        // stdout and stderr lines with the bar out of the way
        event => crate::ui::suspend(|| report(&mut out, event, format)),
    };
    let summary = if args.dry_run {
        mover::plan(&spool, &opts, &stop, &mut on_event)
    } else {
        let store = args.store.open(config, &args.remote, true)?;
        let queue = args.queue.open(config, &args.remote, true)?;
        ctx.detail(format_args!(
            "into {} and the standard queue of {}; {} in flight, batches of {}, {} retries, quarantine after {} failures{}",
            store.describe(),
            queue.describe(),
            opts.concurrency,
            opts.batch_size,
            opts.retries,
            opts.max_failures,
            if opts.verify { ", verifying every crash" } else { "" }
        ));
        let backends = mover::Backends { spool: &spool, store: store.as_ref(), queue: queue.as_ref() };
        mover::run(&backends, &opts, progress.as_ref(), &stop, &mut on_event)?
    };
    drop(out);
    print_report(&summary, format, ctx)?;
    Ok(exit_code(&summary, args.follow))
}

/// Dry-run lines go to stdout (they are the data); failures and warnings to stderr.
fn report(out: &mut impl Write, event: Event<'_>, format: Format) {
    match event {
        Event::Planned(p) => {
            let _ = p.render(format, out);
        }
        Event::Failed(f) => crate::ui::errln!("crashctl: {f}"),
        Event::Warning(w) => crate::ui::errln!("crashctl: warning: {w}"),
        Event::Batch(_) => {}
    }
}

/// The report goes to stdout; after a dry run (whose plan is the data) to stderr, with the
/// status lines.
fn print_report(report: &MoveReport, format: Format, ctx: &Context) -> anyhow::Result<()> {
    if report.dry_run {
        if !ctx.quiet {
            crate::ui::suspend(|| report.render(format, &mut std::io::stderr().lock()))?;
        }
        return Ok(());
    }
    crate::ui::suspend(|| report.render(format, &mut std::io::stdout().lock()))?;
    Ok(())
}

/// 2 when the run gave up; 130 when a `--once` run was interrupted; 1 when any crash failed.
fn exit_code(s: &MoveReport, follow: bool) -> ExitCode {
    if s.aborted.is_some() {
        return ExitCode::Fatal;
    }
    let failed = ExitCode::from_failures(s.failed);
    if s.interrupted && !follow {
        return failed.worst(ExitCode::Interrupted);
    }
    failed
}
