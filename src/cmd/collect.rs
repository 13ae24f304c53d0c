//! `crashctl collect`: an HTTP crash collector writing into the spool, or directly into the
//! store with the crash IDs published to the `standard` queue.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crashctl::collector::{self, Collector, CollectorOptions, Event, ServeOptions, Sink, Throttler};
use crashctl::ExitCode;

use clap::ArgMatches;

use crate::args::{parse_duration, QueueArg, RemoteArgs, SpoolArg, StoreArg, TUNING};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl collect --listen 127.0.0.1:8000 --spool ./spool\n  \
    crashctl collect --store s3://crashes --queue sqs://socorro\n  \
    crashctl collect --listen 127.0.0.1:0 --throttle-rules throttle.toml\n\n\
    The bound address is printed on stderr as `listening on http://ADDR` (use port 0 to \
                        let the system pick one). One line per crash goes to stderr. SIGINT/SIGTERM stop \
                        accepting and finish the requests in flight.\n\n\
                        Direct mode (as Mozilla's collector does): --store DIR|s3://BUCKET[/PREFIX] saves each \
                        crash into the store (answered only once written), and --queue DIR|sqs://PREFIX \
                        publishes ACCEPT crash IDs to the standard queue (DEFER crashes are stored, not \
                        queued). A failed publish still answers with the crash ID; it is logged, counted \
                        (crashctl_collector_publish_failures_total) and found later by `crashctl requeue \
                        --unprocessed`. See docs/collect.md.")]
pub struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
    #[command(flatten)]
    pub spool: SpoolArg,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub queue: QueueArg,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Throttle rules (TOML, or JSON when the name ends in .json); default: accept everything
    #[arg(long, value_name = "FILE")]
    pub throttle_rules: Option<PathBuf>,
    /// Largest request body accepted as sent; 413 above it (bytes, or with K/M/G suffix: 1024-based)
    #[arg(long, value_name = "SIZE", default_value = "25M", value_parser = parse_size, help_heading = TUNING)]
    pub max_body_size: u64,
    /// Largest size a gzip body may decompress to; 413 `Discarded=decompressed_too_large` above it
    #[arg(long, value_name = "SIZE", default_value = "100M", value_parser = parse_size, help_heading = TUNING)]
    pub max_decompressed_size: u64,
    /// Longest wait for the next piece of a request body before answering 408 (e.g. 70s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "70s", value_parser = parse_duration, help_heading = TUNING)]
    pub read_timeout: Duration,
    /// Longest time to receive a whole request body, however steadily it trickles in; 408 after
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, help_heading = TUNING)]
    pub body_timeout: Duration,
    /// Connections served at once; past it a new connection gets 503 (lowered to what the
    /// open-file limit allows)
    #[arg(long, value_name = "N", default_value_t = collector::server::DEFAULT_MAX_CONNECTIONS, help_heading = TUNING)]
    pub max_connections: usize,
    /// Dumps kept for one crash; 400 `Discarded=malformed_too_many_dumps` above it
    #[arg(long, value_name = "N", default_value_t = collector::DEFAULT_MAX_DUMPS, help_heading = TUNING)]
    pub max_dumps: usize,
    /// Memory for request bodies in flight, decompressed bytes included; 503 above it
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_size, help_heading = TUNING)]
    pub max_memory: u64,
    /// Token that lets clients choose their crash ID with a `uuid` annotation (Authorization: Bearer)
    #[arg(long, env = "CRASHCTL_BEARER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub bearer_token: Option<String>,
}

/// Parses `26214400`, `400K`, `25M`, `25MiB`, `1G` (1024-based).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &t[digits.len()..];
    let n: u64 = digits.trim().parse().map_err(|_| format!("{s:?} is not a size (examples: 26214400, 400K, 25M)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use K, M or G)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

/// The spool (default), or the store and queue given with `--store` / `--queue`. Flags on
/// the command line decide; from the environment or the config file (often set for `move`
/// and `process` as well), a store means direct mode only when no spool is set, and a queue
/// is ignored in spool mode.
fn sink(args: &Args, matches: &ArgMatches, ctx: &Context) -> anyhow::Result<Sink> {
    let config = ctx.config()?;
    let (spool, store) = (args.spool.location(config), args.store.location(config));
    let given = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let (flag_spool, flag_store, flag_queue) = (given("spool"), given("store"), given("queue"));
    anyhow::ensure!(
        !(flag_spool && flag_store),
        "--spool and --store are mutually exclusive: collect saves into one of them"
    );
    let direct = flag_store || (store.is_some() && !flag_spool && spool.is_none());
    if !direct {
        anyhow::ensure!(!flag_queue, "--queue requires --store (crashes in the spool are queued by `crashctl move`)");
        return Ok(Sink::Spool(args.spool.open(config, true)?));
    }
    let store = args.store.open(config, &args.remote, true)?;
    let queue = match args.queue.location(config) {
        Some(_) => Some(args.queue.open(config, &args.remote, true)?),
        None => None,
    };
    Ok(Sink::store(store, queue))
}

pub fn run(args: Args, matches: &ArgMatches, ctx: &Context) -> anyhow::Result<ExitCode> {
    let sink = sink(&args, matches, ctx)?;
    let throttler = match &args.throttle_rules {
        Some(path) => Throttler::load(path)?,
        None => Throttler::default(),
    };
    let opts = CollectorOptions {
        throttler,
        bearer_token: args.bearer_token.clone(),
        max_decompressed_size: args.max_decompressed_size,
        max_dumps: args.max_dumps,
        max_memory: args.max_memory,
        ..CollectorOptions::default()
    };
    let serve_opts = ServeOptions {
        listen: args.listen.clone(),
        max_body_size: args.max_body_size,
        read_timeout: args.read_timeout,
        body_timeout: args.body_timeout,
        max_connections: args.max_connections,
    };
    ctx.status(format!("saving crashes into {}", sink.describe()));
    let collector = Arc::new(Collector::with_sink(sink, opts));
    let quiet = ctx.quiet;
    let events: collector::server::EventSink = Arc::new(move |e: &Event| log_event(e, quiet));
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // handlers are installed now, before the collector listens: a SIGTERM that comes right
    // after `listening on` is a graceful stop, never the default kill
    let shutdown = {
        let _guard = rt.enter();
        shutdown_signal().context("installing the SIGINT/SIGTERM handlers")?
    };
    rt.block_on(collector::serve(collector, serve_opts, events, shutdown))?;
    Ok(ExitCode::Success)
}

fn log_event(e: &Event, quiet: bool) {
    match e {
        Event::Listening(addr) => crate::ui::errln!("listening on http://{addr}"),
        Event::Crash(_) | Event::Stopped | Event::ConnectionLimit(_) if quiet => {}
        Event::ConnectionLimit(n) => crate::ui::errln!("serving at most {n} connections at once"),
        Event::Crash(record) => crate::ui::errln!("{record}"),
        Event::ShuttingDown { in_flight } => {
            crate::ui::errln!("shutting down: no new connections, finishing {in_flight} requests in flight")
        }
        Event::Stopped => crate::ui::errln!("stopped"),
    }
}

/// A future that completes on SIGINT or SIGTERM; the handlers are installed when this is
/// called (inside a runtime), not when the future is first polled.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("26214400"), Ok(26214400));
        assert_eq!(parse_size("25M"), Ok(25 * 1024 * 1024));
        assert_eq!(parse_size("25MiB"), Ok(25 * 1024 * 1024));
        assert_eq!(parse_size("400k"), Ok(409600));
        assert!(parse_size("25X").is_err());
        assert!(parse_size("M").is_err());
    }
}
