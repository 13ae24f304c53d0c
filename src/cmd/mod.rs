//! One module per subcommand: its clap `Args`, turned into the library's options, one library
//! call, then rendering.

pub mod collect;
pub mod completions;
pub mod crashstats;
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

use crashctl::ExitCode;

use crate::cli::Command;
use crate::ui::Context;

pub fn run(command: Command, ctx: &Context) -> anyhow::Result<ExitCode> {
    match command {
        Command::Collect(args) => collect::run(args, ctx),
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
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
    }
}
