//! `crashctl signature`: regenerate the signatures of crashes on Crash Stats locally and show
//! old and new side by side.

use std::io::Write;
use std::path::PathBuf;

use crashctl::crashstats::format::{plain, Table};
use crashctl::crashstats::signature;
use crashctl::siggen::{SigLists, SignatureGenerator};
use crashctl::ExitCode;

use crashctl::crashstats::{runtime, Session};

use crate::args::{formats, retry_notifier, CrashStatsArgs, Format, OutputArgs};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(mut_arg("format", |a| a.value_parser(formats(&[Format::Text, Format::Json, Format::Ids]))))]
#[command(after_help = "Examples:\n  \
        crashctl signature --siglists siglists/ < ids.txt\n  \
        crashctl signature --changed --format ids < ids.txt\n\n\
        What `crashctl reprocess --host URL --ruleset regenerate_signature` would change, before \
        doing it: each crash's processed crash is fetched and its signature generated here with --siglists \
        (default: the built-in lists).")]
pub struct Args {
    /// Crash IDs (ID, bp-ID or report URL); one a line from stdin when none are given (or `-`)
    #[arg(value_name = "IDS")]
    ids: Vec<String>,

    /// Folder of Socorro signature lists [default: the built-in lists]
    #[arg(long, value_name = "DIR")]
    siglists: Option<PathBuf>,

    /// Only the crashes whose signature would change
    #[arg(long)]
    changed: bool,

    /// Output: text is a table (crash ID, changed, old, new); json JSON Lines
    #[command(flatten)]
    output: OutputArgs,

    /// Crashes in flight at once
    #[arg(short = 'j', long = "concurrency", value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100), help_heading = crate::args::TUNING)]
    concurrency: u32,

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
    let lists = match &args.siglists {
        Some(dir) => SigLists::load(dir)?,
        None => SigLists::builtin(),
    };
    let generator = SignatureGenerator::new(lists);
    let (session, note) = Session::open(&args.api.options(), &std::env::current_dir()?, ctx.stop_flag())?;
    ctx.status(note);
    let session = session.with_notify(retry_notifier(ctx.quiet));
    let rows = runtime()?.block_on(signature::compare(&session, &generator, &input.ids, args.concurrency as usize));
    let errors = rows.iter().filter(|r| r.error.is_some()).count();
    for r in rows.iter().filter_map(|r| r.error.as_ref()) {
        crate::ui::errln!("crashctl: {r}");
    }
    let shown: Vec<_> = rows.iter().filter(|r| r.error.is_none() && (!args.changed || r.changed)).collect();
    let mut out = std::io::stdout().lock();
    match args.output.get() {
        Format::Ids => {
            for r in &shown {
                writeln!(out, "{}", r.crash_id)?;
            }
        }
        Format::Json => {
            for r in &shown {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        _ => {
            let table = Table {
                headers: vec!["crash_id".into(), "changed".into(), "old".into(), "new".into()],
                rows: shown
                    .iter()
                    .map(|r| {
                        vec![
                            r.crash_id.clone(),
                            if r.changed { "*".into() } else { String::new() },
                            r.old.clone().unwrap_or_default(),
                            r.new.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            };
            out.write_all(plain(&table).as_bytes())?;
        }
    }
    if !ctx.quiet {
        let changed = rows.iter().filter(|r| r.changed).count();
        crate::ui::errln!(
            "crashctl: {} crashes: {changed} signatures would change, {errors} could not be checked",
            rows.len()
        );
    }
    Ok(input.exit_code(if errors > 0 { ExitCode::SomeFailed } else { ExitCode::Success }))
}
