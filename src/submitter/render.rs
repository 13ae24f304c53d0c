//! How a submission renders: one line per crash as it is answered, and the report.

use std::io::{self, Write};

use super::{SubmitReport, SubmitResult};
use crate::report::Format;

impl SubmitResult {
    /// One line: the collector's answer (`CrashID=bp-...`, `Discarded=...`, `Failed=...`) in
    /// text, or one JSON object (json: JSON Lines).
    pub fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        if format == Format::Json {
            serde_json::to_writer(&mut *out, self)?;
            return writeln!(out);
        }
        writeln!(out, "{}", self.line())
    }
}

impl SubmitReport {
    /// The summary: counts, discard reasons, latency.
    pub fn summary_line(&self) -> String {
        let total = self.accepted + self.discarded_total() + self.failed;
        let reasons: Vec<String> = self.discarded.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        let reasons = if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) };
        let skipped = if self.skipped > 0 { format!(", {} not sent (stopped)", self.skipped) } else { String::new() };
        format!(
            "submitted {total} crashes in {:.2}s ({}): {} accepted, {} discarded{reasons}, {} failed{skipped}; \
             latency p50 {:.1} ms, p99 {:.1} ms",
            self.elapsed_s,
            crate::stats::human_rate(self.crashes_per_s),
            self.accepted,
            self.discarded_total(),
            self.failed,
            self.p50_ms,
            self.p99_ms
        )
    }
}
