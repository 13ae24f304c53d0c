//! `crashctl stats`: what waits in the spool, the queues and the store, once or every few
//! seconds, as a table, JSON or Prometheus text; exits 1 when a threshold is crossed.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use crashctl::spool::Spool;
use crashctl::stats::{self, ScanOptions, Stats, StatsOptions, Thresholds};
use crashctl::ExitCode;

use crate::cli::{parse_duration, QueueArg, SpoolArg, StoreArg};
use crate::ui::Context;

/// At most this many problems are printed on stderr (all are in `--format json`).
const MAX_PROBLEM_LINES: usize = 20;

#[derive(Debug, clap::Args)]
#[command(after_help = "With none of --spool, --queue, --store (nor their environment variables or config file \
                        keys), stats shows whichever of ./crashctl-data/{spool,queue,store} exist.\n\n\
                        Exit codes: 0 ok, 1 a threshold was crossed (or a directory could not be read), \
                        2 a directory is missing or fatal error, 130 interrupted (--watch).")]
pub struct Args {
    #[command(flatten)]
    pub spool: SpoolArg,
    #[command(flatten)]
    pub queue: QueueArg,
    #[command(flatten)]
    pub store: StoreArg,
    /// Output: a table for people, JSON (JSON Lines with --watch), or Prometheus text exposition
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// Scan again every SECONDS and redraw, with arrival and drain rates (Ctrl-C stops)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub watch: Option<u64>,
    /// Exit 1 when the spool holds more than N crashes or any queue has more than N pending messages
    #[arg(long, value_name = "N")]
    pub max_backlog: Option<u64>,
    /// Exit 1 when the oldest crash in the spool is older than DURATION (e.g. 30m, 2h, 1d)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_age: Option<Duration>,
    /// Flag every spool directory with more than N entries as a hot spot
    #[arg(long, value_name = "N", default_value_t = stats::DEFAULT_HOT_SPOT)]
    pub hot_spot: u64,
}

/// How `stats` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    /// A table with a per-hour histogram
    Table,
    /// JSON (one document; JSON Lines with --watch)
    Json,
    /// Prometheus text exposition (for a node-exporter textfile)
    Prometheus,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut opts = options(&args, ctx)?;
    let thresholds = Thresholds { max_backlog: args.max_backlog, max_age: args.max_age };
    let Some(every) = args.watch else {
        let Some(stats) = scan(&opts, ctx, args.format)? else { return Ok(ExitCode::Interrupted) };
        report_problems(&stats);
        render(&stats, args.format, false)?;
        return Ok(check(&stats, &thresholds));
    };
    let stop = ctx.stop_flag();
    opts.stop = Some(stop.clone());
    opts.scan.track_ids = true;
    let mut prev: Option<Stats> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stats) = scan(&opts, ctx, args.format)? else { break };
        if let Some(prev) = &prev {
            stats.set_rates(prev);
        }
        render(&stats, args.format, true)?;
        report_problems(&stats);
        check(&stats, &thresholds);
        prev = Some(stats);
        crashctl::stop::sleep_unless_stopped(Duration::from_secs(every), &stop);
    }
    Ok(ExitCode::Interrupted)
}

/// The locations (any combination; the existing defaults when none is given), opened.
fn options(args: &Args, ctx: &Context) -> anyhow::Result<StatsOptions> {
    let mut locations = [args.spool.location(ctx)?, args.queue.location(ctx)?, args.store.location(ctx)?];
    if locations.iter().all(Option::is_none) {
        locations = default_locations(ctx)?;
    }
    let [spool, queue, store] = locations;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
    Ok(StatsOptions {
        spool: spool.map(|s| Spool::open(s, false)).transpose()?,
        queue: queue.map(|q| crashctl::queue::open(&q, false)).transpose()?,
        store: store.map(|s| crashctl::store::open(&s, false)).transpose()?,
        scan: ScanOptions { hot_spot: args.hot_spot, threads, track_ids: false },
        stop: None,
    })
}

/// Which of the embedded default spool, queue and store directories exist (an error when none does).
fn default_locations(ctx: &Context) -> anyhow::Result<[Option<String>; 3]> {
    let cfg = ctx.config()?;
    let defaults = [cfg.spool_or_default(None), cfg.queue_or_default(None), cfg.store_or_default(None)];
    let found = defaults.map(|loc| Path::new(&loc).is_dir().then_some(loc));
    let names: Vec<&str> = found.iter().flatten().map(String::as_str).collect();
    if names.is_empty() {
        anyhow::bail!(
            "nothing to show: no --spool, --queue or --store given (nor CRASHCTL_SPOOL, CRASHCTL_QUEUE, \
             CRASHCTL_STORE, nor a config file), and none of ./{0}/spool, ./{0}/queue, ./{0}/store exists",
            crashctl::config::DEFAULT_DATA_DIR
        );
    }
    if !ctx.quiet {
        eprintln!("crashctl: no --spool, --queue or --store given: showing {}", names.join(", "));
    }
    Ok(found)
}

/// One scan, with a progress bar on a terminal; `None` when interrupted.
fn scan(opts: &StatsOptions, ctx: &Context, format: StatsFormat) -> anyhow::Result<Option<Stats>> {
    let progress = ctx.progress("directories", format != StatsFormat::Table);
    match stats::collect(opts, progress.as_ref()) {
        Ok(stats) => Ok(Some(stats)),
        Err(e) if e.is_interrupted() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn render(stats: &Stats, format: StatsFormat, watching: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        StatsFormat::Table => {
            if watching && terminal {
                write!(out, "\x1b[2J\x1b[H")?;
            }
            if watching {
                writeln!(out, "crashctl stats at {} (Ctrl-C stops)", stats::format_time(&stats.scanned_at))?;
            }
            stats.print_table(&mut out, terminal && crate::ui::color_allowed())?;
        }
        StatsFormat::Json if watching => stats.print_json_line(&mut out)?,
        StatsFormat::Json => stats.print_json(&mut out)?,
        StatsFormat::Prometheus => stats.print_prometheus(&mut out)?,
    }
    out.flush().context("writing to stdout")
}

/// Problems go to stderr (the first few; all of them are in the JSON).
fn report_problems(stats: &Stats) {
    for p in stats.problems.iter().take(MAX_PROBLEM_LINES) {
        eprintln!("crashctl: warning: {} {}: {}", p.kind.as_str(), p.path, p.message);
    }
    let shown = stats.problems.len().min(MAX_PROBLEM_LINES) as u64;
    if stats.problems_total > shown {
        eprintln!("crashctl: warning: ... and {} more problems (see --format json)", stats.problems_total - shown);
    }
}

/// Exit 1 with one line per crossed threshold on stderr.
fn check(stats: &Stats, thresholds: &Thresholds) -> ExitCode {
    let crossed = stats.crossed(thresholds);
    if crossed.is_empty() {
        return ExitCode::Success;
    }
    eprintln!("crashctl: threshold crossed: {}", crossed.join("; "));
    ExitCode::SomeFailed
}
