//! `crashctl signature`: regenerate the signatures of crashes on Crash Stats locally and show
//! old and new side by side.

use std::io::Write;
use std::path::PathBuf;

use crashctl::crashstats::format::{plain, Table};
use crashctl::crashstats::signature;
use crashctl::siggen::{SigLists, SignatureGenerator};
use crashctl::ExitCode;

use super::crashstats::{runtime, ApiArgs};
use crate::ui::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureFormat {
    /// crash ID, old and new signature, one crash a row
    Table,
    /// JSON Lines, one object a crash
    Json,
    /// Crash IDs, one a line (with --changed: what to reprocess)
    Ids,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "What `crashctl reprocess --host URL --ruleset regenerate_signature` would change, before \
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

    /// Output format
    #[arg(long, value_enum, default_value_t = SignatureFormat::Table)]
    format: SignatureFormat,

    /// Crashes in flight at once
    #[arg(short = 'j', long = "concurrency", value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    concurrency: u32,

    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let input = ctx.read_ids(&args.ids)?;
    for (text, err) in &input.invalid {
        eprintln!("crashctl: skipping {text:?}: {err}");
    }
    if input.ids.is_empty() {
        anyhow::bail!("no valid crash IDs given (as arguments, or one a line on stdin)");
    }
    let lists = match &args.siglists {
        Some(dir) => SigLists::load(dir)?,
        None => SigLists::builtin(),
    };
    let generator = SignatureGenerator::new(lists);
    let session = args.api.session(ctx)?;
    let rows = runtime()?.block_on(signature::compare(&session, &generator, &input.ids, args.concurrency as usize));
    let errors = rows.iter().filter(|r| r.error.is_some()).count();
    for r in rows.iter().filter_map(|r| r.error.as_ref()) {
        eprintln!("crashctl: {r}");
    }
    let shown: Vec<_> = rows.iter().filter(|r| r.error.is_none() && (!args.changed || r.changed)).collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        SignatureFormat::Ids => {
            for r in &shown {
                writeln!(out, "{}", r.crash_id)?;
            }
        }
        SignatureFormat::Json => {
            for r in &shown {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        SignatureFormat::Table => {
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
        eprintln!("crashctl: {} crashes: {changed} signatures would change, {errors} could not be checked", rows.len());
    }
    Ok(if errors > 0 || !input.invalid.is_empty() { ExitCode::SomeFailed } else { ExitCode::Success })
}
