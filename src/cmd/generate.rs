//! `crashctl generate`: realistic test crashes (valid minidumps built in code) into a store,
//! and the symbol files that match them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use crashctl::generate::{write_symbols_sized, Generator};
use crashctl::ExitCode;

use crate::args::{Format, OutputArgs, RemoteArgs, StoreArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl generate -n 20 --store ./crashes --symbols ./symbols\n  \
    crashctl generate -n 500 --store ./c --symbols ./syms --symbols-size 100M\n  \
    crashctl generate -n 20 --store ./crashes | crashctl process --store ./crashes\n  \
    crashctl submit http://127.0.0.1:8000/submit --from-store ./crashes\n\n\
    Output: crash IDs one a line (text), or one JSON object per crash (json).")]
pub struct Args {
    /// How many crashes
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub count: u64,
    #[command(flatten)]
    pub store: StoreArg,
    /// Also write Breakpad symbol files for the generated modules here
    #[arg(long, value_name = "DIR")]
    pub symbols: Option<PathBuf>,
    /// Pad the main module's symbol file (xul, which every generated crash has frames in) to
    /// at least this size (`100M`), as production symbols are; needs --symbols
    #[arg(long, value_name = "SIZE", requires = "symbols", value_parser = crate::cmd::collect::parse_size)]
    pub symbols_size: Option<u64>,
    /// Seed for reproducible crashes
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = args.store.open(ctx.config()?, &args.remote, true)?;
    if let Some(dir) = &args.symbols {
        let n = write_symbols_sized(dir, args.symbols_size.unwrap_or(0))
            .with_context(|| format!("writing symbols to {}", dir.display()))?;
        ctx.status(format!("wrote {n} symbol files to {}", dir.display()));
    }
    let now = chrono::Utc::now();
    let mut generator = Generator::new(args.seed, now);
    let format = args.output.get();
    // a bar on a terminal; the crash ID lines go through it (ui::suspend)
    let progress = ctx.progress("crashes", format == Format::Json);
    progress.set_total(args.count);
    let mut out = std::io::stdout().lock();
    for _ in 0..args.count {
        let sub = generator.submission();
        let (scenario, os) = (sub.scenario, sub.os);
        let crash = sub.into_crash(now);
        store.put_crash(&crash).with_context(|| format!("crash {}: saving to {}", crash.id, store.describe()))?;
        let line = match format {
            Format::Json => serde_json::json!({
                "crash_id": crash.id,
                "scenario": scenario,
                "os": format!("{os:?}"),
                "dumps": crash.dump_names(),
            })
            .to_string(),
            _ => crash.id.to_string(),
        };
        crate::ui::suspend(|| writeln!(out, "{line}").and_then(|()| out.flush()))?;
        progress.inc(1);
    }
    progress.finish();
    Ok(ExitCode::Success)
}
