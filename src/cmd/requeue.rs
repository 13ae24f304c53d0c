//! `crashctl requeue`: put crash IDs back on a queue (from arguments or stdin, stale claims,
//! dead letters, the mover's quarantine, or raw crashes never processed).

use std::io::IsTerminal;

use anyhow::Context as _;
use chrono::NaiveDate;
use crashctl::queue::{valid_ruleset, QueueName};
use crashctl::requeue::{self, RequeueOptions, RequeueReport, RequeueSource, Targets};
use crashctl::ExitCode;

use crate::args::{Format, OutputArgs, QueueArg, RemoteArgs, SpoolArg, StoreArg};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl requeue --queue ./queue ID...\n  \
    crashctl requeue --queue ./queue --stale --failed\n  \
    crashctl requeue --queue ./queue --failed --match timeout --dry-run\n  \
    crashctl requeue --spool ./spool --quarantined\n  \
    crashctl requeue --store ./store --unprocessed --date 2026-11-20\n\n\
    With no source flag, crash IDs come from the arguments, or one per line from stdin \
    (ID, bp-ID or report URL). Exit codes: 0 all requeued, or nothing to do; 1 some item could not \
    be requeued (or a message or file found was not a crash ID); 2 an invalid crash ID was given, \
    usage or fatal error.")]
pub struct Args {
    /// Crash IDs (ID, bp-ID or report URL); `-` or none reads them from stdin. With --quarantined: only these
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Queue for IDs and unprocessed crashes [default: standard] (stale and dead letters go back to their own)
    #[arg(long, value_name = "QUEUE", conflicts_with_all = ["stale", "failed", "quarantined"])]
    queue_name: Option<QueueName>,
    /// Append `:NAME` to each message (default, regenerate_signature)
    #[arg(long, value_name = "NAME", value_parser = parse_ruleset, conflicts_with_all = ["stale", "failed", "quarantined"])]
    ruleset: Option<String>,
    /// Claimed messages whose visibility timeout passed (their consumer died) go back to pending
    #[arg(long)]
    stale: bool,
    /// Dead-lettered messages go back to pending
    #[arg(long)]
    failed: bool,
    /// With --failed: only messages whose error contains TEXT (case-insensitive)
    #[arg(long = "match", value_name = "TEXT", requires = "failed")]
    matching: Option<String>,
    /// Crashes the mover quarantined go back into the spool's main area (needs --spool)
    #[arg(long)]
    quarantined: bool,
    /// Raw crashes without a processed crash are queued (needs --store and --date or --from/--to)
    #[arg(long)]
    unprocessed: bool,
    /// With --unprocessed: the day (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "unprocessed", conflicts_with_all = ["from", "to"])]
    date: Option<NaiveDate>,
    /// With --unprocessed: first day of a range (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD", requires_all = ["unprocessed", "to"])]
    from: Option<NaiveDate>,
    /// With --unprocessed: last day of a range, included (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD", requires_all = ["unprocessed", "from"])]
    to: Option<NaiveDate>,
    #[command(flatten)]
    queue: QueueArg,
    #[command(flatten)]
    spool: SpoolArg,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// List what would be requeued; change nothing
    #[arg(long)]
    dry_run: bool,
}

fn parse_ruleset(s: &str) -> Result<String, String> {
    if valid_ruleset(s) {
        Ok(s.to_string())
    } else {
        Err("a ruleset name is [a-z0-9_]+ (e.g. default, regenerate_signature)".into())
    }
}

impl Args {
    fn has_source_flag(&self) -> bool {
        self.stale || self.failed || self.quarantined || self.unprocessed
    }

    /// The sources asked for; IDs are read only when no source flag is given (or, with
    /// --quarantined, when some are given as arguments).
    fn sources(&self, ctx: &Context) -> anyhow::Result<Vec<RequeueSource>> {
        let mut sources = Vec::new();
        if !self.has_source_flag() {
            if self.ids.is_empty() && std::io::stdin().is_terminal() {
                return Ok(sources);
            }
            sources.push(RequeueSource::Ids(ctx.read_ids(&self.ids)?));
        } else if !self.ids.is_empty() && !self.quarantined {
            anyhow::bail!(
                "crash IDs can be given alone, or with --quarantined; not with --stale, --failed or --unprocessed"
            );
        }
        if self.stale {
            sources.push(RequeueSource::Stale);
        }
        if self.failed {
            sources.push(RequeueSource::Failed { matching: self.matching.clone() });
        }
        if self.quarantined {
            let input = crashctl::input::IdInput::parse(&self.ids);
            if let Some((text, e)) = input.invalid.first() {
                anyhow::bail!("{text:?}: {e}");
            }
            sources.push(RequeueSource::Quarantined { only: input.ids });
        }
        if self.unprocessed {
            let (from, to) = match (self.date, self.from, self.to) {
                (Some(d), _, _) => (d, d),
                (None, Some(f), Some(t)) if f <= t => (f, t),
                (None, Some(_), Some(_)) => anyhow::bail!("--from must not be after --to"),
                _ => anyhow::bail!("--unprocessed needs --date YYYY-MM-DD, or --from and --to"),
            };
            sources.push(RequeueSource::Unprocessed { from, to });
        }
        Ok(sources)
    }

    fn options(&self) -> RequeueOptions {
        RequeueOptions {
            queue: self.queue_name.unwrap_or(QueueName::Standard),
            ruleset: self.ruleset.clone(),
            dry_run: self.dry_run,
        }
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let sources = args.sources(ctx)?;
    if sources.is_empty()
        || sources.iter().all(|s| matches!(s, RequeueSource::Ids(i) if i.ids.is_empty() && i.invalid.is_empty()))
    {
        ctx.status(
            "crashctl: nothing to requeue: no crash IDs given (arguments or stdin), and none of --stale, --failed, \
             --quarantined or --unprocessed",
        );
        return Ok(ExitCode::Success);
    }
    let config = ctx.config()?;
    let needs_queue = !(args.quarantined && !args.stale && !args.failed && !args.unprocessed);
    // a queue taken from (--stale, --failed) must exist: only a run that only publishes creates it
    let create = !args.dry_run && !args.stale && !args.failed;
    let queue = if needs_queue { Some(args.queue.open(config, &args.remote, create)?) } else { None };
    let spool = if args.quarantined { Some(args.spool.open(config, false)?) } else { None };
    let store = if args.unprocessed { Some(args.store.open(config, &args.remote, false)?) } else { None };
    let targets = Targets { queue: queue.as_deref(), spool: spool.as_ref(), store: store.as_deref() };
    let report = requeue::run(&targets, &sources, &args.options())?;
    render(&report, args.output.get(), ctx).context("writing the report")?;
    // an invalid crash ID the user gave is invalid input (2); one found in a queue, spool or
    // store is an item that failed (1)
    let given_invalid = report.invalid.iter().any(|i| i.source == "ids");
    let code = ExitCode::from_failures((report.invalid.len() + report.failed.len()) as u64);
    Ok(if given_invalid { code.worst(ExitCode::Fatal) } else { code })
}

/// What was requeued on stdout; in text, the problems and the count on stderr.
fn render(r: &RequeueReport, format: Format, ctx: &Context) -> std::io::Result<()> {
    crate::ui::suspend(|| r.render(format, &mut std::io::stdout().lock()))?;
    if format == Format::Json {
        return Ok(());
    }
    for line in r.problem_lines() {
        crate::ui::errln!("crashctl: {line}");
    }
    ctx.status(r.summary_line());
    Ok(())
}
