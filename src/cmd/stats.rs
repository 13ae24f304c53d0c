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
    crashctl stats --max-backlog 1000 --max-age 30m || alert\n  \
    crashctl stats --serve 127.0.0.1:9100\n\n\
    With none of --spool, --queue, --store (nor their environment variables or config file \
                        keys), stats shows whichever of ./crashctl-data/{spool,queue,store} exist.\n\n\
                        Exit codes: 0 ok, 1 a threshold was crossed (or a directory could not be read), \
                        2 a section is missing or unreadable (the others are still shown) or fatal error, \
                        130 interrupted (--watch, --serve).",
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
    /// Serve an ops page on ADDR (e.g. 127.0.0.1:9100): `/` (HTML, redraws itself), `/metrics`
    /// (Prometheus), `/stats.json`; scans every --watch DURATION (default 5s); Ctrl-C stops
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
    /// Flag every spool directory with more than N entries as a hot spot
    #[arg(long, value_name = "N", default_value_t = stats::DEFAULT_HOT_SPOT)]
    pub hot_spot: u64,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let mut opts = options(&args, ctx)?;
    let thresholds = Thresholds { max_backlog: args.max_backlog, max_age: args.max_age };
    if let Some(addr) = &args.serve {
        let listener = std::net::TcpListener::bind(addr).with_context(|| format!("--serve {addr}"))?;
        crate::ui::errln!("crashctl: serving http://{}/ (and /metrics); Ctrl-C stops", listener.local_addr()?);
        let every = args.watch.unwrap_or(Duration::from_secs(5));
        stats::serve::serve(listener, opts, &stats::serve::ServeOptions { every }, ctx.stop_flag())?;
        return Ok(ExitCode::Interrupted);
    }
    let Some(every) = args.watch else {
        let Some(mut stats) = scan(&opts, ctx, format)? else { return Ok(ExitCode::Interrupted) };
        report_problems(&stats);
        let code = check(&mut stats, &thresholds);
        render(&stats, format, false)?;
        return Ok(code);
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
        check(&mut stats, &thresholds);
        render(&stats, format, true)?;
        report_problems(&stats);
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
    let asked = [&spool, &queue, &store].iter().filter(|l| l.is_some()).count();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8);
    // a section that cannot be opened is reported with the others (and exits 2)
    let mut unopened = Vec::new();
    let spool = spool.and_then(|s| opened("spool", &s, Spool::open(&s, false), &mut unopened));
    let queue = queue
        .and_then(|q| opened("queue", &q, crashctl::queue::open_with(&q, false, &args.remote.sqs()), &mut unopened));
    let store = store
        .and_then(|s| opened("store", &s, crashctl::store::open_with(&s, false, &args.remote.s3()), &mut unopened));
    if unopened.len() == asked {
        // nothing could be opened: a plain error
        let reasons: Vec<&str> = unopened.iter().map(|p| p.message.as_str()).collect();
        anyhow::bail!("{}", reasons.join("; "));
    }
    Ok(StatsOptions {
        spool,
        queue,
        store,
        scan: ScanOptions { hot_spot: args.hot_spot, threads, track_ids: false },
        stop: None,
        unopened,
    })
}

/// The opened location, or `None` with the reason in `unopened`.
fn opened<T>(section: &str, location: &str, r: anyhow::Result<T>, unopened: &mut Vec<stats::Problem>) -> Option<T> {
    r.map_err(|e| unopened.push(stats::Problem::unavailable(section, location, format!("{e:#}")))).ok()
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
        if p.kind == stats::ProblemKind::Unavailable {
            crate::ui::error(&format!("{} (the other sections are shown)", p.message));
        } else {
            crate::ui::errln!("crashctl: warning: {} {}: {}", p.kind.as_str(), p.path, p.message);
        }
    }
    let shown = stats.problems.len().min(MAX_PROBLEM_LINES) as u64;
    if stats.problems_total > shown {
        crate::ui::errln!(
            "crashctl: warning: ... and {} more problems (see --format json)",
            stats.problems_total - shown
        );
    }
}

/// Exit 2 when a section could not be read, else 1 with one line per crossed threshold on
/// stderr (kept in the JSON too).
fn check(stats: &mut Stats, thresholds: &Thresholds) -> ExitCode {
    let crossed = stats.check_thresholds(thresholds);
    if stats.unavailable().next().is_some() {
        return ExitCode::Fatal;
    }
    if crossed.is_empty() {
        return ExitCode::Success;
    }
    crate::ui::errln!("crashctl: threshold crossed: {}", crossed.join("; "));
    ExitCode::SomeFailed
}
