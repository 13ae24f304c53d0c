//! How the reprocess reports render (remote, local publish, --now). Each JSON document also
//! carries the input's invalid IDs and duplicates.

use std::io::{self, Write};

use super::local::LocalReport;
use super::now::{Change, NowReport};
use super::RemoteReport;
use crate::input::IdInput;
use crate::report::Format;

/// The invalid IDs of the input, as JSON.
fn invalid_json(input: &IdInput) -> serde_json::Value {
    input
        .invalid
        .iter()
        .map(|(text, e)| serde_json::json!({"input": text, "error": e.name(), "message": e.to_string()}))
        .collect()
}

fn with_input(mut v: serde_json::Value, input: &IdInput) -> serde_json::Value {
    v["invalid"] = invalid_json(input);
    v["duplicates"] = input.duplicates.into();
    v
}

impl RemoteReport {
    /// json: one document; text: the groups a dry run would send, then the summary.
    pub fn render(&self, format: Format, input: &IdInput, out: &mut dyn Write) -> io::Result<()> {
        if format == Format::Json {
            return writeln!(out, "{}", with_input(serde_json::to_value(self)?, input));
        }
        if self.dry_run {
            for g in &self.would_send {
                writeln!(out, "group {}/{} ({} IDs):", g.index, self.groups, g.ids.len())?;
                for id in &g.ids {
                    writeln!(out, "  {id}")?;
                }
            }
        }
        let verb = if self.dry_run { "would send" } else { "accepted" };
        let count = if self.dry_run { self.would_send.len() } else { self.accepted };
        writeln!(
            out,
            "{} crash IDs in {} groups to {}: {verb} {count}, accepted before {}, remaining {}, retries {}",
            self.ids, self.groups, self.host, self.already_accepted, self.remaining, self.retries
        )?;
        if self.complete {
            writeln!(out, "every group accepted")?;
        } else if !self.dry_run && self.remaining > 0 {
            let why = if self.interrupted { "interrupted" } else { "stopped" };
            if self.already_accepted + self.accepted == 0 {
                writeln!(out, "{why} before any group was accepted; rerun the same command to try again")?;
            } else {
                writeln!(out, "{why}; state in {} (rerun the same command to resume)", self.state_file.display())?;
            }
        }
        Ok(())
    }
}

impl LocalReport {
    /// json: one document; text: the crash IDs published (or that would be), one a line.
    pub fn render(&self, format: Format, input: &IdInput, out: &mut dyn Write) -> io::Result<()> {
        if format == Format::Json {
            return writeln!(out, "{}", with_input(serde_json::to_value(self)?, input));
        }
        for id in &self.ids {
            writeln!(out, "{id}")?;
        }
        Ok(())
    }

    /// The summary: how many went to `target` (or would), and what was left out.
    pub fn summary_line(&self, target: &str) -> String {
        let verb = if self.dry_run { "would" } else { "published to" };
        let ruleset = self.ruleset.as_deref().map(|rs| format!(" with ruleset {rs}")).unwrap_or_default();
        format!(
            "{} crashes: {verb} {target}{ruleset}; {} not in the store, {} other signatures",
            self.ids.len(),
            self.missing.len(),
            self.not_matching
        )
    }
}

impl NowReport {
    /// json: one document (with `changed` or `outcomes`); text: the changed signatures as a
    /// table (`changed_only`), or one line per crash (`ID<TAB>STATUS<TAB>SIGNATURE`).
    pub fn render(&self, format: Format, input: &IdInput, changed_only: bool, out: &mut dyn Write) -> io::Result<()> {
        let changed = self.changed();
        if format == Format::Json {
            let mut v = with_input(
                serde_json::json!({
                    "ruleset": self.ruleset, "summary": self.summary, "missing": self.missing,
                    "not_matching": self.not_matching,
                }),
                input,
            );
            v[if changed_only { "changed" } else { "outcomes" }] =
                if changed_only { serde_json::to_value(&changed)? } else { serde_json::to_value(&self.outcomes)? };
            return writeln!(out, "{v}");
        }
        if changed_only {
            return write_changes(out, &changed);
        }
        for o in &self.outcomes {
            writeln!(out, "{}\t{}\t{}", o.id, o.status, o.signature.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }

    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "processed {} crashes: {} ok, {} stackwalk failed, {} timed out, {} errors; {} saved; {} signatures changed",
            s.total(),
            s.ok,
            s.stackwalk_failed,
            s.timeout,
            s.error,
            s.saved,
            self.changed().len()
        )
    }
}

/// The changes as a table: crash ID, old signature -> new signature.
fn write_changes(out: &mut dyn Write, changed: &[Change]) -> io::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    writeln!(out, "{:<36}  OLD SIGNATURE -> NEW SIGNATURE", "CRASH ID")?;
    for c in changed {
        writeln!(out, "{}  {} -> {}", c.id, c.old_signature, c.new_signature)?;
    }
    Ok(())
}
