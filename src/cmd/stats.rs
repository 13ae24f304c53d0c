//! `crashctl stats`: what waits in the spool, the queues and the store, once or every few
//! seconds, as a table, JSON or Prometheus text; exits 1 when a threshold is crossed.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use crashctl::config::Location;
use crashctl::spool::Spool;
use crashctl::stats::{self, ScanOptions, Stats, StatsOptions, Thresholds};
use crashctl::ExitCode;

use crate::args::{
    formats, parse_duration, parse_interval, Format, OutputArgs, QueueArg, RemoteArgs, SpoolArg, StoreArg,
};
use crate::ui::Context;

/// At most this many problems are printed on stderr (all are in `--format json`).
const MAX_PROBLEM_LINES: usize = 20;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  \
    crashctl stats\n  \
    crashctl stats --spool ./spool --queue ./queue --store ./store --json\n  \
    crashctl stats --watch 5s\n  \
    crashctl stats --format prometheus > /var/lib/node_exporter/crashctl.prom\n  \
    crashctl stats --max-backlog 1000 --max-age 30m || alert\n\n\
    With none of --spool, --queue, --store (nor their environment variables or config file \
                        keys), stats shows whichever of ./crashctl-data/{spool,queue,store} exist.\n\n\
                        Exit codes: 0 ok, 1 a threshold was crossed (or a directory could not be read), \
                        2 a directory is missing or fatal error, 130 interrupted (--watch).",
    mut_arg("format", |a| a.value_parser(formats(&[Format::Text, Format::Json, Format::Prometheus]))
        .help("Output: text (a table for people), json (one document; JSON Lines with --watch), or \
               prometheus (text exposition, for a node-exporter textfile) [default: text]"))
)]
pub struct Args {
    #[command(flatten)]
    pub spool: SpoolArg,
    #[command(flatten)]
    pub queue: QueueArg,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Scan again every DURATION (e.g. 5s, 1m; a bare number is seconds) and redraw, with
    /// arrival and drain rates (Ctrl-C stops)
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub watch: Option<Duration>,
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

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let mut opts = options(&args, ctx)?;
    let thresholds = Thresholds { max_backlog: args.max_backlog, max_age: args.max_age };
    let Some(every) = args.watch else {
        let Some(stats) = scan(&opts, ctx, format)? else { return Ok(ExitCode::Interrupted) };
        report_problems(&stats);
        render(&stats, format, false)?;
        return Ok(check(&stats, &thresholds));
    };
    let stop = ctx.stop_flag();
    opts.stop = Some(stop.clone());
    opts.scan.track_ids = true;
    let mut prev: Option<Stats> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stats) = scan(&opts, ctx, format)? else { break };
        if let Some(prev) = &prev {
            stats.set_rates(prev);
        }
        render(&stats, format, true)?;
        report_problems(&stats);
        check(&stats, &thresholds);
        prev = Some(stats);
        crashctl::stop::sleep_unless_stopped(every, &stop);
    }
    Ok(ExitCode::Interrupted)
}

/// The locations (any combination; the existing defaults when none is given), opened.
fn options(args: &Args, ctx: &Context) -> anyhow::Result<StatsOptions> {
    let config = ctx.config()?;
    let mut locations = [args.spool.location(config), args.queue.location(config), args.store.location(config)];
    if locations.iter().all(Option::is_none) {
        locations = default_locations(ctx)?;
    }
    let [spool, queue, store] = locations;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
    Ok(StatsOptions {
        spool: spool.map(|s| Spool::open(s, false)).transpose()?,
        queue: queue.map(|q| crashctl::queue::open_with(&q, false, &args.remote.sqs())).transpose()?,
        store: store.map(|s| crashctl::store::open_with(&s, false, &args.remote.s3())).transpose()?,
        scan: ScanOptions { hot_spot: args.hot_spot, threads, track_ids: false },
        stop: None,
    })
}

/// Which of the embedded default spool, queue and store directories exist (an error when none does).
fn default_locations(ctx: &Context) -> anyhow::Result<[Option<String>; 3]> {
    let cfg = ctx.config()?;
    let defaults = [Location::Spool, Location::Queue, Location::Store].map(|l| cfg.location_or_default(l, None));
    let found = defaults.map(|loc| Path::new(&loc).is_dir().then_some(loc));
    let names: Vec<&str> = found.iter().flatten().map(String::as_str).collect();
    if names.is_empty() {
        anyhow::bail!(
            "nothing to show: no --spool, --queue or --store given (nor CRASHCTL_SPOOL, CRASHCTL_QUEUE, \
             CRASHCTL_STORE, nor a config file), and none of ./{0}/spool, ./{0}/queue, ./{0}/store exists",
            crashctl::config::DEFAULT_DATA_DIR
        );
    }
    ctx.status(format!("crashctl: no --spool, --queue or --store given: showing {}", names.join(", ")));
    Ok(found)
}

/// One scan, with a progress bar on a terminal; `None` when interrupted.
fn scan(opts: &StatsOptions, ctx: &Context, format: Format) -> anyhow::Result<Option<Stats>> {
    let progress = ctx.progress("directories", format != Format::Text);
    match stats::collect(opts, progress.as_ref()) {
        Ok(stats) => Ok(Some(stats)),
        Err(e) if e.is_interrupted() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn render(stats: &Stats, format: Format, watching: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Json if watching => stats.print_json_line(&mut out)?,
        Format::Json => stats.print_json(&mut out)?,
        Format::Prometheus => stats.print_prometheus(&mut out)?,
        _ => {
            if watching && terminal {
                write!(out, "\x1b[2J\x1b[H")?;
            }
            if watching {
                writeln!(out, "crashctl stats at {} (Ctrl-C stops)", stats::format_time(&stats.scanned_at))?;
            }
            stats.print_table(&mut out, terminal && crate::ui::color_allowed())?;
        }
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
