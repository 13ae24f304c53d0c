//! How a requeue renders: what was requeued (the data), the problems and a summary line.

use std::io::{self, Write};

use super::RequeueReport;
use crate::report::Format;

impl RequeueReport {
    /// Text: one line per requeued message (`BODY<TAB>QUEUE<TAB>SOURCE`); json: the whole
    /// report as one document.
    pub fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        if format == Format::Json {
            serde_json::to_writer_pretty(&mut *out, self)?;
            return writeln!(out);
        }
        for item in &self.requeued {
            writeln!(out, "{}\t{}\t{}", item.body, item.to, item.source)?;
        }
        Ok(())
    }

    /// One line per invalid input and per message not requeued (for stderr in text mode).
    pub fn problem_lines(&self) -> Vec<String> {
        let invalid = self.invalid.iter().map(|i| format!("invalid ({}): {}: {}", i.source, i.input, i.error));
        let failed = self.failed.iter().map(|f| format!("not requeued ({}): {}: {}", f.source, f.body, f.error));
        invalid.chain(failed).collect()
    }

    pub fn summary_line(&self) -> String {
        let verb = if self.dry_run { "would requeue" } else { "requeued" };
        let mut line = format!("{verb} {}", self.requeued.len());
        if let Some(n) = self.stale_expired {
            line.push_str(&format!(" (+ {n} expired claims)"));
        }
        line.push_str(&format!("; {} invalid, {} not requeued", self.invalid.len(), self.failed.len()));
        if self.duplicates > 0 {
            line.push_str(&format!(", {} duplicates dropped", self.duplicates));
        }
        if self.deferred_skipped > 0 {
            line.push_str(&format!(", {} DEFER crashes skipped", self.deferred_skipped));
        }
        line
    }
}
