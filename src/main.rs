//! The `crashctl` binary: parse the command line once, run one subcommand, print any error
//! once as `crashctl: error: ...`, exit with a documented code (see `crashctl::ExitCode`).
//!
//! The modules form a straight line: main -> cmd (Cli, Command, dispatch) -> cmd::* -> args
//! (clap groups) -> ui (output, context) -> the library. No module imports one that imports it
//! back (`.ci/import-cycles.py --strict` checks it in CI).

mod args;
#[deny(clippy::print_stdout, clippy::print_stderr)] // every line goes through ui::suspend (outln!, errln!)
mod cmd;
mod ui;

use crashctl::ExitCode;

fn main() {
    reset_sigpipe();
    let (cli, matches) = match cmd::parse() {
        Ok(parsed) => parsed,
        Err(err) => std::process::exit(ui::clap_error(&err)),
    };
    let ctx = ui::Context::new(cli.global.quiet, cli.global.verbose, cli.global.config.clone());
    let code = match cmd::run(cli, &matches, &ctx) {
        Ok(code) => code,
        Err(err) => {
            ui::error(&format!("{err:#}"));
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
