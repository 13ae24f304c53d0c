//! `crashctl requeue`.

use crashctl::ExitCode;

use crate::ui::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ctx: &Context) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`crashctl requeue` is not built yet")
}
