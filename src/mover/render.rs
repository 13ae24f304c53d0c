//! How a move renders: the plan of a dry run (one line per crash) and the report.

use std::io::{self, Write};

use super::report::{MoveReport, Planned};
use crate::report::Format;
use crate::stats::human_bytes;

impl Planned {
    /// One line: `ID<TAB>SHARD<TAB>ACTION` (text) or a JSON object (json).
    pub fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        if format == Format::Json {
            serde_json::to_writer(&mut *out, self)?;
            return writeln!(out);
        }
        let action = match self.queue {
            Some(q) => format!("store, queue {q}"),
            None => "store only (DEFER)".to_string(),
        };
        writeln!(out, "{}\t{}\t{action}", self.id, self.shard)
    }
}

impl MoveReport {
    /// Text: the summary line(s); json: the report as one document (pretty) or, for a dry
    /// run (whose plan was JSON Lines), one line.
    pub fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Json if self.dry_run => writeln!(out, "{}", serde_json::to_string(self)?),
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, self)?;
                writeln!(out)
            }
            _ => writeln!(out, "{}", self.summary_text()),
        }
    }

    pub fn summary_text(&self) -> String {
        if self.dry_run {
            return format!("dry run: would move {} crashes (nothing changed)", self.planned);
        }
        let mut text = format!(
            "moved {} crashes ({} queued, {} deferred), {}; failed {}, quarantined {}; {:.1}s, {}",
            self.moved,
            self.queued,
            self.deferred,
            human_bytes(self.bytes),
            self.failed,
            self.quarantined,
            self.elapsed_secs,
            crate::stats::human_rate(self.crashes_per_sec)
        );
        if self.strays > 0 {
            text.push_str(&format!("; {} stray entries skipped", self.strays));
        }
        if self.interrupted {
            text.push_str("; interrupted");
        }
        if let Some(reason) = &self.aborted {
            text.push_str(&format!("\ngave up: {reason}"));
        }
        text
    }
}
