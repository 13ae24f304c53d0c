//! `crashctl fetch`: download crashes from Crash Stats into a store (Socorro's v1 layout by
//! default, so `crashctl process --store` reads them at once) or a crashstats-tools
//! `fetch-data` folder.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use crashctl::crashstats::fetch::{self, CrashOutcome, FetchDataDir, FetchOptions, Target};
use crashctl::ExitCode;

use crashctl::config::Location;
use crashctl::crashstats::{runtime, Session};

use crate::args::{retry_notifier, CrashStatsArgs, Format, OutputArgs, RemoteArgs, StoreArg};
use crate::ui::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FetchLayout {
    /// The store's own layout (a new local store: Socorro's v1 bucket layout)
    V1,
    /// crashstats-tools' fetch-data folders, byte for byte (a local directory only)
    FetchData,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        crashctl fetch --store store --dumps --processed < ids.txt\n  \
        crashctl search signature=~OOM --format ids | crashctl fetch --dumps\n  \
        crashctl fetch --layout fetch-data --store crashdata --dumps bp-ID\n\n\
        Dumps need a token with the \"View Raw Dumps\" permission; protected annotations need \
        \"View Personal Identifiable Information\". A crash the server does not have (404) or a dump the token \
        may not see (403) is reported and the run goes on; the exit code is 1 when any crash is incomplete. \
        What is already in the store is skipped (rerun to resume) unless --overwrite.")]
pub struct Args {
    /// Crash IDs (ID, bp-ID or report URL); one a line from stdin when none are given (or `-`)
    #[arg(value_name = "IDS")]
    ids: Vec<String>,

    #[command(flatten)]
    store: StoreArg,

    #[command(flatten)]
    remote: RemoteArgs,

    /// How to lay the files out
    #[arg(long, value_enum, default_value_t = FetchLayout::V1)]
    layout: FetchLayout,

    /// Do not fetch raw crashes (fetched by default)
    #[arg(long, conflicts_with = "dumps")]
    no_raw: bool,

    /// Fetch the dumps too (with the raw crash)
    #[arg(long)]
    dumps: bool,

    /// Fetch the processed crashes too
    #[arg(long)]
    processed: bool,

    /// Fetch again what the store already has
    #[arg(long)]
    overwrite: bool,

    /// Crashes in flight at once
    #[arg(short = 'j', long = "concurrency", value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100), help_heading = crate::args::TUNING)]
    concurrency: u32,

    /// Output: text is a summary on stderr; json one report on stdout
    #[command(flatten)]
    output: OutputArgs,

    #[command(flatten)]
    api: CrashStatsArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let input = ctx.read_ids_saying_invalid(&args.ids)?;
    if input.ids.is_empty() {
        anyhow::ensure!(input.invalid.is_empty(), "no valid crash IDs given");
        ctx.status("crashctl: no crash IDs given (as arguments, or one a line on stdin): nothing to do");
        return Ok(ExitCode::Success);
    }
    let target = match args.layout {
        FetchLayout::V1 => Target::Store(args.store.open(ctx.config()?, &args.remote, true)?),
        FetchLayout::FetchData => {
            let loc = ctx.config()?.location_or_default(Location::Store, args.store.store.as_deref());
            if loc.contains("://") && !loc.starts_with("file://") {
                anyhow::bail!("--layout fetch-data writes a local directory, not {loc}");
            }
            Target::FetchData(FetchDataDir::open(Path::new(loc.trim_start_matches("file://")))?)
        }
    };
    let opts = FetchOptions {
        raw: !args.no_raw,
        dumps: args.dumps,
        processed: args.processed,
        overwrite: args.overwrite,
        concurrency: args.concurrency as usize,
    };
    if !opts.raw && !opts.processed {
        anyhow::bail!("nothing to fetch: --no-raw without --processed");
    }
    let (session, note) = Session::open(&args.api.options(), &std::env::current_dir()?, ctx.stop_flag())?;
    ctx.status(note);
    let session = session.with_notify(retry_notifier(ctx.quiet));
    let json = args.output.get() == Format::Json;
    let progress = ctx.progress("crashes", json);
    let stop = ctx.stop_flag();
    let quiet = ctx.quiet;
    let on_done = |o: &CrashOutcome| {
        if !quiet && !o.problems.is_empty() {
            // printed above the progress bar, not through it
            progress.suspend(&mut || {
                for p in &o.problems {
                    crate::ui::errln!("crashctl: {}", p.message);
                }
            });
        }
    };
    let started = std::time::Instant::now();
    let report =
        runtime()?.block_on(fetch::fetch(&session, &target, &input.ids, &opts, progress.as_ref(), &stop, &on_done));
    if let Target::Store(s) = &target {
        s.sync()?;
    }
    let incomplete = report.incomplete();
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["incomplete"] = incomplete.into();
        v["invalid"] =
            input.invalid.iter().map(|(t, e)| serde_json::json!({"input": t, "error": e.to_string()})).collect();
        writeln!(out, "{v}")?;
    } else if !ctx.quiet {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for p in report.crashes.iter().flat_map(|c| &c.problems) {
            *kinds.entry(p.kind.as_str()).or_default() += 1;
        }
        let why: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let skipped: usize = report.crashes.iter().map(|c| c.skipped.len()).sum();
        crate::ui::errln!(
            "crashctl: {} crashes in {:.1}s from {}: {} complete, {incomplete} incomplete{}; {skipped} objects already there",
            report.crashes.len(),
            started.elapsed().as_secs_f64(),
            session.client.host(),
            report.crashes.len() - incomplete,
            if why.is_empty() { String::new() } else { format!(" ({})", why.join(", ")) },
        );
        let bad: Vec<&str> = report.crashes.iter().filter(|c| !c.complete()).map(|c| c.id.as_str()).collect();
        if !bad.is_empty() {
            crate::ui::errln!("crashctl: incomplete: {}", bad.join(" "));
        }
    }
    if stop.load(Ordering::SeqCst) || report.not_started > 0 {
        return Ok(ExitCode::Interrupted);
    }
    Ok(input.exit_code(if incomplete > 0 { ExitCode::SomeFailed } else { ExitCode::Success }))
}
