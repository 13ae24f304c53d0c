//! `crashctl collect`: an HTTP crash collector writing into the spool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crashctl::collector::{self, Collector, CollectorOptions, Event, ServeOptions, Throttler};
use crashctl::ExitCode;

use crate::cli::{parse_duration, SpoolArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "The bound address is printed on stderr as `listening on http://ADDR` (use port 0 to \
                        let the system pick one). One line per crash goes to stderr. SIGINT/SIGTERM stop \
                        accepting and finish the requests in flight. See docs/collect.md.")]
pub struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
    #[command(flatten)]
    pub spool: SpoolArg,
    /// Throttle rules (TOML, or JSON when the name ends in .json); default: accept everything
    #[arg(long, value_name = "FILE")]
    pub throttle_rules: Option<PathBuf>,
    /// Largest request body accepted as sent; 413 above it (bytes, or with K/M/G suffix: 1024-based)
    #[arg(long, value_name = "SIZE", default_value = "25M", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Largest size a gzip body may decompress to; 413 `Discarded=decompressed_too_large` above it
    #[arg(long, value_name = "SIZE", default_value = "100M", value_parser = parse_size)]
    pub max_decompressed_size: u64,
    /// Longest wait for the next piece of a request body before answering 408 (e.g. 70s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "70s", value_parser = parse_duration)]
    pub read_timeout: Duration,
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

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let spool = args.spool.open(ctx, true)?;
    let throttler = match &args.throttle_rules {
        Some(path) => Throttler::load(path)?,
        None => Throttler::default(),
    };
    let opts = CollectorOptions {
        throttler,
        bearer_token: args.bearer_token.clone(),
        max_decompressed_size: args.max_decompressed_size,
        ..CollectorOptions::default()
    };
    let serve_opts = ServeOptions {
        listen: args.listen.clone(),
        max_body_size: args.max_body_size,
        read_timeout: args.read_timeout,
    };
    let collector = Arc::new(Collector::new(spool, opts));
    let quiet = ctx.quiet;
    let events: collector::server::EventSink = Arc::new(move |e: &Event| log_event(e, quiet));
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(collector::serve(collector, serve_opts, events, shutdown_signal()))?;
    Ok(ExitCode::Success)
}

fn log_event(e: &Event, quiet: bool) {
    match e {
        Event::Listening(addr) => eprintln!("listening on http://{addr}"),
        Event::Crash(_) | Event::Stopped if quiet => {}
        Event::Crash(record) => eprintln!("{record}"),
        Event::ShuttingDown { in_flight } => {
            eprintln!("shutting down: no new connections, finishing {in_flight} requests in flight")
        }
        Event::Stopped => eprintln!("stopped"),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
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
