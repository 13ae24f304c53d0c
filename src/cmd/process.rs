//! `crashctl process`: stackwalk, derive, sign and save processed crashes (from crash IDs,
//! the queues, or one minidump file).

use std::io::Write;
use std::path::PathBuf;

use crashctl::processor::{Outcome, ProcessReport, ProcessStatus, Processed, Processor, Ruleset, RunOptions};
use crashctl::ExitCode;

use crate::args::{formats, Format, OutputArgs, ProcessingArgs, QueueArg, RemoteArgs, StoreArg, OUTPUT};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  \
    crashctl process --store ./store ID...\n  \
    crashctl process --store ./store --queue ./queue --follow\n  \
    crashctl generate -n 5 | crashctl process --format tab\n  \
    crashctl process --dump crash.dmp --symbols-path ./symbols --pretty\n\n\
    Crash IDs process these crashes; --queue with no IDs consumes the queues until they are empty \
    (--follow: keeps waiting). Exit codes: 0 ok or nothing to do, 1 some crashes failed (timeout or \
    could not be processed), 2 usage error, invalid crash ID or fatal error, 130 interrupted.",
    mut_arg("format", |a| a.value_parser(formats(&[Format::Text, Format::Json, Format::Tab]))
        .help("Output: text (a summary on stderr; with --dump, the stack as a person reads it), json \
               (one outcome per crash, JSON Lines; with --dump, the processed crash) or tab (one line per \
               crash: ID, signature, status) [default: text; with --dump, text on a terminal, else json]"))
)]
pub struct Args {
    /// Crash IDs (ID, bp-ID or report URL) to process; one per line on stdin when none are given
    #[arg(value_name = "ID", conflicts_with = "dump")]
    pub ids: Vec<String>,

    #[command(flatten)]
    pub store: StoreArg,

    #[command(flatten)]
    pub queue: QueueArg,

    /// With --queue: keep waiting for new messages instead of stopping when the queues are empty
    #[arg(long)]
    pub follow: bool,

    /// Do not write processed crashes to the store (not with --queue)
    #[arg(long)]
    pub no_save: bool,

    /// Ruleset for crashes given as IDs: default or regenerate_signature (queue messages may
    /// name their own as `ID:ruleset`)
    #[arg(long, value_name = "NAME", value_parser = |s: &str| s.parse::<Ruleset>())]
    pub ruleset: Option<Ruleset>,

    /// Process one minidump file, with no store, and print the processed crash
    #[arg(long, value_name = "FILE.dmp", conflicts_with_all = ["follow", "no_save"])]
    pub dump: Option<PathBuf>,

    /// With --dump: the crash annotations (a JSON object, as in a raw crash)
    #[arg(long, value_name = "FILE.json", requires = "dump")]
    pub annotations: Option<PathBuf>,

    /// With --dump: the largest dump file read; a larger one is an error (K/M/G suffixes)
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = crate::cmd::collect::parse_size)]
    pub max_dump_size: u64,

    /// With --dump (text): every thread's frames, not only the crashing thread's
    #[arg(long, requires = "dump", help_heading = OUTPUT)]
    pub all_threads: bool,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Write each processed crash to stdout (JSON Lines)
    #[arg(long, help_heading = OUTPUT)]
    pub print: bool,

    /// Pretty-print the processed crashes (with --print or --dump)
    #[arg(long, help_heading = OUTPUT)]
    pub pretty: bool,

    #[command(flatten)]
    pub processing: Box<ProcessingArgs>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    if args.print && format != Format::Text {
        anyhow::bail!("--print writes processed crashes to stdout; it cannot be combined with --format {format:?}");
    }
    let queue_mode = args.dump.is_none() && args.queue.queue.is_some() && args.ids.is_empty();
    // IDs from a pipe are read to the end before anything is opened: in
    // `generate --store S --symbols Y | process --store S --symbols-path Y` the store and the
    // symbols exist once the IDs are all there (no race with the writer of the pipe)
    let input = if args.dump.is_none() && !queue_mode { Some(ctx.read_ids_saying_invalid(&args.ids)?) } else { None };
    let processor = Processor::new(args.processing.processor_options())?.with_max_dump_size(args.max_dump_size);
    for problem in processor.symbol_source_problems() {
        crate::ui::errln!("crashctl: warning: {problem}");
    }
    if let Some(dump) = &args.dump {
        return run_dump(&processor, &args, dump);
    }
    if args.follow && !queue_mode {
        anyhow::bail!("--follow needs --queue (and no crash IDs)");
    }
    if args.no_save && queue_mode {
        anyhow::bail!("--no-save cannot be used with --queue: a consumed message must have its crash saved");
    }
    if let Some(warning) = processor.no_symbols_warning(!args.no_save) {
        crate::ui::errln!("crashctl: warning: {warning}");
    }
    let out = Output { print: args.print, pretty: args.pretty, format };
    let stdout_data = args.print || format != Format::Text;
    let run = RunOptions { save: !args.no_save, progress: ctx.progress("crashes", stdout_data), stop: ctx.stop_flag() };
    let sink = |o: &Outcome, p: Option<&Processed>| {
        ctx.detail(format_args!(
            "{}: {} ({}){}",
            o.id,
            o.status,
            o.signature.as_deref().unwrap_or("no signature"),
            if run.save && p.is_some() { ", saved" } else { "" }
        ));
        // stdout and stderr lines with the bar out of the way
        crate::ui::suspend(|| out.emit(o, p));
        // a walk thread cannot be stopped: say how many hold a CPU, so a long --follow run
        // can be restarted before they add up
        let abandoned = processor.abandoned_walks_running();
        if o.status == ProcessStatus::Timeout && abandoned > 0 {
            crate::ui::errln!("crashctl: {abandoned} stackwalks abandoned at --timeout still running");
        }
    };
    let config = ctx.config()?;
    let store = args.store.open(config, &args.remote, false)?;
    ctx.detail(format_args!("reading raw crashes from {}", store.describe()));
    let (summary, invalid) = if queue_mode {
        let queue = args.queue.open(config, &args.remote, false)?;
        ctx.detail(format_args!("consuming the queues of {}", queue.describe()));
        (processor.consume_queue(store.as_ref(), queue.as_ref(), args.follow, &run, &sink)?, 0)
    } else {
        let input = input.unwrap_or_default();
        if input.ids.is_empty() && input.invalid.is_empty() {
            ctx.status("crashctl: no crash IDs given (as arguments or on stdin) and no --queue: nothing to do");
        }
        let jobs: Vec<_> = input.ids.into_iter().map(|id| (id, args.ruleset.map(|r| r.as_str().to_string()))).collect();
        (processor.process_ids(store.as_ref(), &jobs, &run, &sink), input.invalid.len() as u64)
    };
    report(ctx, &summary, invalid, &processor)
}

fn run_dump(processor: &Processor, args: &Args, dump: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (outcome, processed) = processor.process_file(dump, args.annotations.as_deref())?;
    // text (the stack as a person reads it) on a terminal, else the processed crash as JSON
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let format = match (args.output.json, args.output.format) {
        (true, _) => Format::Json,
        (false, Some(format)) => format,
        (false, None) if terminal => Format::Text,
        (false, None) => Format::Json,
    };
    if format == Format::Text {
        let options = crashctl::processor::HumanOptions { all_threads: args.all_threads };
        let mut stdout = std::io::stdout().lock();
        processed.print_human(&mut stdout, options)?;
        stdout.flush()?;
    } else {
        let out = Output { print: format == Format::Json, pretty: args.pretty, format };
        out.emit(&outcome, Some(&processed));
    }
    // a dump that cannot be walked fails, as it does for minidump-stackwalk
    if outcome.status == ProcessStatus::StackwalkFailed {
        let walked = processed.get("mdsw_status_string").and_then(serde_json::Value::as_str).unwrap_or("unknown");
        let notes = processed.get("processor_notes").and_then(serde_json::Value::as_str).unwrap_or("");
        let why = notes.lines().find(|l| l.contains(walked)).unwrap_or(notes);
        crate::ui::errln!("crashctl: {}: {walked}: {why}", dump.display());
        return Ok(ExitCode::from_failures(1));
    }
    Ok(ExitCode::from_failures(u64::from(outcome.status.is_failure())))
}

fn report(ctx: &Context, summary: &ProcessReport, invalid: u64, processor: &Processor) -> anyhow::Result<ExitCode> {
    let renewals = processor.symbol_cache_renewals();
    let abandoned = processor.abandoned_walks_running();
    if !ctx.quiet {
        crate::ui::errln!("{}", summary.summary_line(invalid, renewals));
        if abandoned > 0 {
            crate::ui::errln!("crashctl: {abandoned} stackwalks abandoned at --timeout were still running at the end");
        }
    }
    if let Some(fatal) = &summary.fatal {
        anyhow::bail!("{fatal}");
    }
    if summary.interrupted {
        return Ok(ExitCode::Interrupted);
    }
    let invalid = if invalid > 0 { ExitCode::Fatal } else { ExitCode::Success };
    Ok(ExitCode::from_failures(summary.failed()).worst(invalid))
}

/// Renders each crash as it finishes.
struct Output {
    print: bool,
    pretty: bool,
    format: Format,
}

impl Output {
    fn emit(&self, outcome: &Outcome, processed: Option<&Processed>) {
        if let Some(error) = &outcome.error {
            crate::ui::errln!("crashctl: {}: {error}", outcome.id);
        }
        if let Some(warning) = &outcome.warning {
            crate::ui::errln!("crashctl: warning: crash {}: {warning}", outcome.id);
        }
        let line = match (self.print, self.format, processed) {
            (true, _, Some(p)) if self.pretty => serde_json::to_string_pretty(&p.to_map()).ok(),
            (true, _, Some(p)) => String::from_utf8(p.to_vec()).ok(),
            (true, _, None) => None,
            (false, format, _) => {
                let _ = outcome.render(format, &mut std::io::stdout().lock());
                None
            }
        };
        if let Some(line) = line {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
        }
    }
}
