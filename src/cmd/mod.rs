//! The subcommands: the top-level clap definition ([`Cli`], [`Command`]) and its dispatch.
//! One module per subcommand: its clap `Args` (built from the groups in `crate::args`) ->
//! the library's options -> one library call -> `report.render(format)`. The modules below
//! import `crate::args` and `crate::ui`, never this file.

pub mod collect;
pub mod completions;
pub mod demo;
pub mod facet;
pub mod fetch;
pub mod generate;
pub mod move_;
pub mod process;
pub mod reprocess;
pub mod requeue;
pub mod search;
pub mod signature;
pub mod stats;
pub mod submit;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use crashctl::ExitCode;

use crate::args::GlobalArgs;
use crate::ui::Context;

#[derive(Debug, Parser)]
#[command(
    name = "crashctl",
    version,
    about = "A crash toolkit: submit, collect, move, process, requeue, reprocess and inspect crashes",
    long_about = "crashctl runs each stage of a Socorro-style crash pipeline against local directories \
                  (the default: no server needed) or remote endpoints.\n\n\
                  Exit codes (every command): 0 ok or nothing to do, 1 some items failed (or a stats \
                  threshold was crossed), 2 usage error, invalid input or fatal error, 130 interrupted.\n\n\
                  Environment: NO_COLOR turns colour off; CI=true turns progress bars and \"(i/N) ETA\" \
                  lines off (status lines stay; --quiet drops them too).",
    after_help = "Examples:\n  \
                  crashctl demo\n  \
                  crashctl collect --listen 127.0.0.1:8000\n  \
                  crashctl move && crashctl process --queue ./crashctl-data/queue\n  \
                  crashctl stats --json\n\n\
                  `crashctl COMMAND --help` shows each command's options and examples.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an HTTP crash collector that saves what crash reporters submit (spool, or store and queue)
    Collect(collect::Args),
    /// Submit crashes to a collector (or a spool), as a crash reporter does
    Submit(submit::Args),
    /// Move spooled crashes into the store and queue them for processing
    Move(move_::Args),
    /// Stackwalk, derive fields, sign and save processed crashes
    Process(process::Args),
    /// Put crash IDs back on a queue (stale claims, dead letters, quarantine, unprocessed)
    Requeue(requeue::Args),
    /// Show backlogs: spool, queues and store, as text, JSON or Prometheus text
    Stats(stats::Args),
    /// Reprocess crashes, on Crash Stats or locally
    Reprocess(reprocess::Args),
    /// Search crashes on Crash Stats (Super Search); IDs, tables, CSV, JSON
    Search(Box<search::Args>),
    /// Count crashes on Crash Stats by field, nested field or day (Super Search aggregations)
    Facet(Box<facet::Args>),
    /// Download crashes from Crash Stats into a store (raw crash, dumps, processed crash)
    Fetch(Box<fetch::Args>),
    /// Regenerate the signatures of crashes on Crash Stats locally and compare
    Signature(Box<signature::Args>),
    /// Run the whole local pipeline on generated crashes, in a folder of its own
    Demo(demo::Args),
    /// Generate realistic test crashes (valid minidumps) into a store, with matching symbols
    Generate(generate::Args),
    /// Print shell completions
    Completions(completions::Args),
    /// Write the man pages: one per command (crashctl.1, crashctl-process.1, ...)
    Man(completions::ManArgs),
}

/// The whole command line, parsed once: the typed arguments and clap's matches (which say
/// where each value came from: the command line, the environment or a default).
pub fn parse() -> Result<(Cli, ArgMatches), clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, matches))
}

pub fn run(cli: Cli, matches: &ArgMatches, ctx: &Context) -> anyhow::Result<ExitCode> {
    let sub = |name: &str| matches.subcommand_matches(name).cloned().unwrap_or_default();
    match cli.command {
        Command::Collect(args) => collect::run(args, &sub("collect"), ctx),
        Command::Submit(args) => submit::run(args, ctx),
        Command::Move(args) => move_::run(args, ctx),
        Command::Process(args) => process::run(args, ctx),
        Command::Requeue(args) => requeue::run(args, ctx),
        Command::Stats(args) => stats::run(args, ctx),
        Command::Reprocess(args) => reprocess::run(args, ctx),
        Command::Demo(args) => demo::run(args, ctx),
        Command::Search(args) => search::run(*args, ctx),
        Command::Facet(args) => facet::run(*args, ctx),
        Command::Fetch(args) => fetch::run(*args, ctx),
        Command::Signature(args) => signature::run(*args, ctx),
        Command::Generate(args) => generate::run(args, ctx),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => completions::man(args, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
