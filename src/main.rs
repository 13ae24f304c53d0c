//! The `crashctl` binary: parse the command line, run one subcommand, print the error chain
//! once, exit with a documented code (see `crashctl::ExitCode`).

mod cli;
mod cmd;
mod ui;

use clap::Parser;
use crashctl::ExitCode;

fn main() {
    reset_sigpipe();
    let cli = cli::Cli::parse();
    let ctx = ui::Context::new(&cli.global);
    let code = match cmd::run(cli.command, &ctx) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("crashctl: error: {err:#}");
            ExitCode::Fatal
        }
    };
    std::process::exit(code.code());
}

/// A closed pipe (`crashctl ... | head`) ends the process quietly instead of a panic.
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
