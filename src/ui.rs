//! The terminal side of the binary: the run context (quiet, verbose, config, stop flag),
//! progress bars (indicatif, only on a terminal), the one error style (`crashctl: error: ...`,
//! clap's usage errors included; colour only on a terminal and never with NO_COLOR), and
//! reading crash IDs from arguments or stdin.
//!
//! Every line the commands print (stdout data and stderr messages alike) goes through
//! [`suspend`] — the [`outln!`] and [`errln!`] macros, [`Context::status`], [`Context::detail`],
//! [`error`] — so a progress bar drawn on the terminal is cleared first and redrawn below: a
//! line never lands on a stale bar line. (`mod cmd` denies the plain print macros.)

use std::cell::Cell;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use crashctl::config::Config;
use crashctl::input::IdInput;
use crashctl::progress::{NoProgress, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Context {
    /// `--quiet`: no status lines, summaries or progress on stderr.
    pub quiet: bool,
    /// `--quiet` or `CI=true`: no progress (bars, "(i/N) ETA" lines); status lines stay.
    pub no_progress: bool,
    /// `-v`: detail lines on stderr (which files, which requests, retry decisions).
    pub verbose: u8,
    config_path: Option<std::path::PathBuf>,
    config: OnceLock<Config>,
    stop: OnceLock<Arc<AtomicBool>>,
}

impl Context {
    /// The context of one run: `--quiet`, `-v` (a count) and `--config`, as parsed.
    pub fn new(quiet: bool, verbose: u8, config_path: Option<std::path::PathBuf>) -> Context {
        QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
        let ci = std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false);
        Context {
            quiet,
            no_progress: quiet || ci,
            verbose,
            config_path,
            config: OnceLock::new(),
            stop: OnceLock::new(),
        }
    }

    /// The config file (loaded on first use).
    pub fn config(&self) -> anyhow::Result<&Config> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let c = Config::load(self.config_path.as_deref())?;
        Ok(self.config.get_or_init(|| c))
    }

    /// A detail line on stderr, only with `-v` (`crashctl: MSG`).
    pub fn detail(&self, msg: impl std::fmt::Display) {
        if self.verbose > 0 {
            errln!("crashctl: {msg}");
        }
    }

    /// A status line on stderr, unless `--quiet`.
    pub fn status(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            errln!("{msg}");
        }
    }

    /// A flag set by SIGINT/SIGTERM; batch commands stop after the current item when it is set.
    /// (The first call installs the handlers.)
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop
            .get_or_init(|| {
                let flag = Arc::new(AtomicBool::new(false));
                for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                    let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
                }
                flag
            })
            .clone()
    }

    /// Should status lines and progress go to stderr?
    pub fn show_progress(&self, json_output: bool) -> bool {
        !self.no_progress && !json_output && std::io::stderr().is_terminal()
    }

    /// A progress bar for `what` (crashes, groups...), or nothing when not on a terminal.
    pub fn progress(&self, what: &str, json_output: bool) -> Arc<dyn Progress> {
        if !self.show_progress(json_output) {
            return Arc::new(NoProgress);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} {{pos}}/{{len}} {what} [{{bar:30}}] {{rate}} ETA {{eta}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&crashctl::stats::human_rate(state.per_sec()));
        })
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.downgrade());
        Arc::new(Bar(bar))
    }

    /// Crash IDs from the arguments, or one per line from stdin when there are none (or the
    /// only one is `-`) and stdin is not a terminal.
    /// [`Context::read_ids`], saying each input that is not a crash ID on stderr (`skipping`).
    pub fn read_ids_saying_invalid(&self, args: &[String]) -> anyhow::Result<IdInput> {
        let input = self.read_ids(args)?;
        for (text, err) in &input.invalid {
            errln!("crashctl: skipping {text:?}: {err}");
        }
        Ok(input)
    }

    pub fn read_ids(&self, args: &[String]) -> anyhow::Result<IdInput> {
        let use_stdin = args.is_empty() || (args.len() == 1 && args[0] == "-");
        if use_stdin {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Ok(IdInput::default());
            }
            return IdInput::from_reader(stdin.lock()).context("reading crash IDs from stdin");
        }
        Ok(IdInput::parse(args))
    }
}

/// Colour on stderr: a terminal, and NO_COLOR not set.
fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && color_allowed()
}

/// Prints an error the one way: `crashctl: error: MSG` (`error:` in bold red on a terminal).
pub fn error(msg: &str) {
    if stderr_color() {
        errln!("crashctl: \x1b[1;31merror:\x1b[0m {msg}");
    } else {
        errln!("crashctl: error: {msg}");
    }
}

/// Prints a clap error (a usage error: `crashctl: error: ...` with clap's usage lines and
/// styling), or the help or version it carries; returns the exit code (2 for usage errors).
pub fn clap_error(err: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return 0;
    }
    let rendered = err.render();
    let text = if stderr_color() { rendered.ansi().to_string() } else { rendered.to_string() };
    eprint!("crashctl: {text}");
    crashctl::ExitCode::Fatal.code()
}

/// Colors only when the user did not opt out with `NO_COLOR` (any non-empty value, no-color.org).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn message(&self, msg: &str) {
        self.0.set_message(msg.to_string());
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
    fn suspend(&self, print: &mut dyn FnMut()) {
        suspend_on(&self.0, print);
    }
}

/// The bar drawn last (bars are drawn one at a time), for [`suspend`].
static ACTIVE: Mutex<Option<indicatif::WeakProgressBar>> = Mutex::new(None);

thread_local! {
    /// Inside [`suspend_on`] on this thread: the bar is already out of the way (and suspending
    /// it again would deadlock on its lock).
    static SUSPENDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `print` with the progress bar being drawn (if any) out of the way: cleared, then
/// redrawn below what was printed. Every line the commands print goes through here.
pub fn suspend<R>(print: impl FnOnce() -> R) -> R {
    let bar = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|w| w.upgrade());
    match bar {
        Some(bar) if !bar.is_finished() => suspend_on(&bar, print),
        _ => print(),
    }
}

fn suspend_on<R>(bar: &ProgressBar, print: impl FnOnce() -> R) -> R {
    if SUSPENDED.get() {
        return print();
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SUSPENDED.set(false);
        }
    }
    SUSPENDED.set(true);
    let _reset = Reset;
    bar.suspend(print)
}

/// `println!` through [`suspend`]: a stdout line never shares a line with a progress bar.
macro_rules! outln {
    () => {
        $crate::ui::outln!("")
    };
    ($($arg:tt)*) => {
        {
            let line = format!($($arg)*);
            $crate::ui::suspend(|| println!("{line}"))
        }
    };
}

/// `eprintln!` through [`suspend`]: a stderr line never shares a line with a progress bar.
macro_rules! errln {
    ($($arg:tt)*) => {
        {
            let line = format!($($arg)*);
            $crate::ui::suspend(|| eprintln!("{line}"))
        }
    };
}

pub(crate) use {errln, outln};

/// `--quiet`, for the few status lines printed where no `ui::Context` is at hand (set by
/// [`Context::new`]; see [`default_location`]).
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says (once per location, unless `--quiet`) that a command fell back to the default
/// location, so data never goes to `./crashctl-data/...` silently.
pub fn default_location(what: &str, path: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) || said.iter().any(|w| w == what) {
        return;
    }
    said.push(what.to_string());
    errln!("crashctl: no --{what} given (nor CRASHCTL_{}, nor a config file): using {path}", what.to_uppercase());
}
