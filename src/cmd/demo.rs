//! `crashctl demo`: the whole local pipeline in a folder of its own, with no setup. It runs
//! the real subcommands as child processes and prints each command line first, so a newcomer
//! sees exactly what to type: generate -> collect -> submit -> stats -> move -> process -> stats.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use crashctl::ExitCode;

use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crashctl demo\n  crashctl demo -n 50 --dir /tmp/demo\n\nWithout --dir, the demo runs in a new ./crashctl-demo-<time>/ folder."
)]
pub struct Args {
    /// Folder for the demo's spool, store, queue and symbols (default: a new
    /// ./crashctl-demo-<YYYYMMDD-HHMMSS> folder)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How many crashes to submit
    #[arg(short = 'n', long, default_value_t = 12, value_name = "N")]
    pub count: u64,
    /// Seed for the generated crashes
    #[arg(long, default_value_t = 2026, value_name = "N")]
    pub seed: u64,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let dir = match args.dir.clone() {
        Some(d) => d,
        None => PathBuf::from(format!("crashctl-demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"))),
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!("demo folder {} is not empty; pick another with --dir", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let demo = Demo { exe: std::env::current_exe().context("locating the crashctl binary")?, dir, quiet: ctx.quiet };
    crate::ui::outln!("crashctl demo: the whole pipeline in {}/\n", demo.dir.display());
    demo.walk(&args)
}

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    quiet: bool,
}

impl Demo {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn walk(&self, args: &Args) -> anyhow::Result<ExitCode> {
        let (n, seed) = (args.count.to_string(), args.seed.to_string());
        let (outbox, spool, store, queue, symbols) =
            (self.path("outbox"), self.path("spool"), self.path("store"), self.path("queue"), self.path("symbols"));
        self.say("1. Make realistic crashes (valid minidumps) and the symbol files that match them");
        self.step(&["generate", "-n", &n, "--seed", &seed, "--store", &outbox, "--symbols", &symbols], false)?;
        self.say("2. Start a collector (a Breakpad/Antenna-compatible HTTP endpoint) that spools what it accepts");
        let collector = self.start_collector(&spool)?;
        let url = format!("{}/submit", collector.url);
        self.say("3. Submit the crashes to it, as crash reporters do");
        let submitted = self.step(&["submit", &url, "--from-store", &outbox], true);
        let stopped = collector.stop();
        submitted?;
        stopped?;
        self.say("4. What is waiting in the spool");
        self.step(&["stats", "--spool", &spool], true)?;
        self.say("5. Move spooled crashes into the store (Socorro's v1 layout) and queue them");
        self.step(&["move", "--spool", &spool, "--store", &store, "--queue", &queue], true)?;
        self.say("6. Process the queue: stackwalk, derive fields, generate signatures, save");
        let out = self.step(
            &["process", "--store", &store, "--queue", &queue, "--symbols-path", &symbols, "--format", "json"],
            false,
        )?;
        self.say("7. The backlog is gone");
        self.step(&["stats", "--spool", &spool, "--queue", &queue, "--store", &store], true)?;
        self.say("Signatures (crashes grouped by what crashed)");
        print_signatures(&out);
        crate::ui::outln!("\nEverything is in {}/ (store: {store}). Try:", self.dir.display());
        crate::ui::outln!("  crashctl stats --store {store} --format json");
        crate::ui::outln!(
            "  crashctl reprocess --store {store} --all --now --changed --no-save --symbols-path {symbols}"
        );
        Ok(ExitCode::Success)
    }

    fn say(&self, what: &str) {
        crate::ui::outln!("== {what}");
    }

    fn show(&self, args: &[&str]) {
        crate::ui::outln!("$ crashctl {}", args.join(" "));
    }

    /// Runs one subcommand, printing its command line; its stdout is returned (and echoed
    /// when `echo`), its stderr goes to ours.
    fn step(&self, args: &[&str], echo: bool) -> anyhow::Result<String> {
        self.show(args);
        let mut cmd = Command::new(&self.exe);
        cmd.args(args).stdin(Stdio::null()).stderr(Stdio::inherit());
        if self.quiet {
            cmd.arg("--quiet");
        }
        let out = cmd.output().with_context(|| format!("running crashctl {}", args[0]))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if echo {
            let _ = crate::ui::suspend(|| std::io::Write::write_all(&mut std::io::stdout().lock(), stdout.as_bytes()));
        }
        crate::ui::outln!();
        if !out.status.success() {
            bail!("`crashctl {}` failed ({})", args.join(" "), out.status);
        }
        Ok(stdout)
    }

    fn start_collector(&self, spool: &str) -> anyhow::Result<Collector> {
        let args = ["collect", "--listen", "127.0.0.1:0", "--spool", spool];
        self.show(&args);
        let log = self.dir.join("collect.log");
        let mut child = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the collector")?;
        let stderr = child.stderr.take().expect("piped");
        let url = match wait_for_listening(stderr, &log) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                return Err(e);
            }
        };
        crate::ui::outln!("(collector listening on {url}; its log: {})\n", log.display());
        Ok(Collector { child, url })
    }
}

/// Reads the collector's stderr until `listening on URL` (10 s at most), then copies the rest
/// of it into `log` in the background.
fn wait_for_listening(stderr: std::process::ChildStderr, log: &Path) -> anyhow::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let log = log.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(&log).ok();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .context("the collector did not say where it listens within 10 s")
}

struct Collector {
    child: Child,
    url: String,
}

impl Collector {
    /// Graceful stop: SIGTERM, then wait.
    fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) on our own child's pid, which is still ours until we wait for it.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        self.child.wait().context("waiting for the collector")?;
        Ok(())
    }
}

/// Counts the processed crashes by signature from `process --format json` lines.
fn print_signatures(json_lines: &str) {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for line in json_lines.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(sig) = v.get("signature").and_then(|s| s.as_str()) {
                *counts.entry(sig.to_string()).or_default() += 1;
            }
        }
    }
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (sig, n) in rows {
        crate::ui::outln!("{n:>5}  {sig}");
    }
}
