//! `crashctl completions SHELL` and `crashctl man`: generated from the clap definition, which
//! the dispatcher hands in (this module does not import it).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use crashctl::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl completions bash > /etc/bash_completion.d/crashctl\n  \
    crashctl completions zsh > ~/.zfunc/_crashctl\n  \
    crashctl completions fish > ~/.config/fish/completions/crashctl.fish")]
pub struct Args {
    /// The shell to print completions for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    crashctl man --out /usr/local/share/man/man1\n  \
    crashctl man process | man -l -")]
pub struct ManArgs {
    /// Write one page per command into DIR (crashctl.1, crashctl-process.1, ...)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Without --out: print this command's page (default: the crashctl page)
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub command: Option<String>,
}

pub fn run(args: Args, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, &mut cmd, "crashctl", &mut std::io::stdout());
    Ok(ExitCode::Success)
}

pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let pages = pages(&cmd);
    match (&args.out, &args.command) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, page) in &pages {
                write_page(dir, name, page)?;
            }
        }
        (None, command) => {
            let want = command.as_deref().map_or("crashctl".to_string(), |c| format!("crashctl-{c}"));
            let Some((_, page)) = pages.iter().find(|(name, _)| *name == want) else {
                anyhow::bail!("no command {:?} (see crashctl --help)", command.as_deref().unwrap_or_default());
            };
            std::io::stdout().lock().write_all(page)?;
        }
    }
    Ok(ExitCode::Success)
}

fn write_page(dir: &Path, name: &str, page: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    crashctl::fsutil::write_atomic(&path, page, false).with_context(|| format!("writing {}", path.display()))
}

/// (page name, roff) for crashctl and each visible subcommand, as git and cargo ship them.
fn pages(cmd: &clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut pages = vec![("crashctl".to_string(), page(cmd.clone(), "crashctl"))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("crashctl-{}", sub.get_name());
        let sub = sub.clone().display_name(name.clone()).bin_name(format!("crashctl {}", sub.get_name()));
        pages.push((name.clone(), page(sub, &name)));
    }
    pages
}

/// One page: clap_mangen's sections, with the command's after-help text as EXAMPLES (in no-fill
/// mode, so a command line is never wrapped) instead of clap_mangen's "EXTRA".
fn page(cmd: clap::Command, title: &str) -> Vec<u8> {
    let extra = cmd.get_after_long_help().or(cmd.get_after_help()).map(|s| s.to_string());
    let cmd = cmd.after_help(None::<&str>).after_long_help(None::<&str>);
    let man = clap_mangen::Man::new(cmd.clone()).title(title.to_uppercase());
    let mut out = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut out);
    }
    if cmd.has_subcommands() {
        let _ = man.render_subcommands_section(&mut out);
    }
    if let Some(extra) = extra {
        let text = extra.strip_prefix("Examples:\n").unwrap_or(&extra);
        let (examples, notes) = text.split_once("\n\n").unwrap_or((text, ""));
        out.extend_from_slice(b".SH EXAMPLES\n.nf\n");
        for line in examples.lines() {
            out.extend_from_slice(roff_line(line.trim()).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b".fi\n");
        if !notes.trim().is_empty() {
            out.extend_from_slice(b".SH NOTES\n");
            for para in notes.split("\n\n") {
                out.extend_from_slice(b".PP\n");
                out.extend_from_slice(roff_line(&para.replace('\n', " ")).as_bytes());
                out.push(b'\n');
            }
        }
    }
    let _ = man.render_version_section(&mut out);
    out
}

/// A line of literal text in roff: backslashes escaped, a leading `.` or `'` made plain.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
