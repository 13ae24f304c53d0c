//! How processing renders: one line per crash as it finishes, and the report's summary.

use std::io::{self, Write};

use super::{Outcome, ProcessReport};
use crate::report::Format;

impl Outcome {
    /// json: the outcome as one JSON object (JSON Lines); tab: `ID<TAB>SIGNATURE<TAB>STATUS`;
    /// text: nothing per crash (the summary says it all).
    pub fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Json => {
                serde_json::to_writer(&mut *out, self)?;
                writeln!(out)
            }
            Format::Text => Ok(()),
            _ => writeln!(out, "{}\t{}\t{}", self.id, self.signature.as_deref().unwrap_or(""), self.status),
        }
    }
}

impl ProcessReport {
    /// The summary line: counts, speed, and what else the caller knows (IDs skipped as
    /// invalid, symbol cache renewals).
    pub fn summary_line(&self, invalid: u64, cache_renewals: u64) -> String {
        format!(
            "processed {} crashes in {:.1}s ({}): {} ok, {} stackwalk failed, {} timed out, {} errors; {} saved{}{}",
            self.total(),
            self.elapsed_secs,
            crate::stats::human_rate(self.per_second()),
            self.ok,
            self.stackwalk_failed,
            self.timeout,
            self.error,
            self.saved,
            if invalid > 0 { format!("; {invalid} invalid IDs skipped") } else { String::new() },
            if cache_renewals > 0 {
                format!("; symbol cache started afresh {cache_renewals} times")
            } else {
                String::new()
            },
        )
    }
}
