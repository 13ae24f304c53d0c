//! Crash-ID input, the same for every command: `ID`, `bp-ID` or a report URL, from arguments
//! or one per line from stdin; blank lines and `#` comments skipped; invalid ones reported;
//! duplicates removed (first occurrence kept).

use std::collections::HashSet;
use std::io::BufRead;

use crate::crash::{CrashId, CrashIdError};

/// The IDs read, in input order.
#[derive(Debug, Default, Clone)]
pub struct IdInput {
    pub ids: Vec<CrashId>,
    /// Inputs that are not crash IDs, with the reason.
    pub invalid: Vec<(String, CrashIdError)>,
    /// How many duplicates were dropped.
    pub duplicates: usize,
}

impl IdInput {
    pub fn parse<I, S>(items: I) -> IdInput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = IdInput::default();
        let mut seen = HashSet::new();
        for item in items {
            let s = item.as_ref().trim();
            if s.is_empty() || s.starts_with('#') {
                continue;
            }
            match CrashId::from_input(s) {
                Ok(id) => {
                    if seen.insert(id.clone()) {
                        out.ids.push(id);
                    } else {
                        out.duplicates += 1;
                    }
                }
                Err(e) => out.invalid.push((s.to_string(), e)),
            }
        }
        out
    }

    /// The exit code of a command that did `code` with these IDs: an invalid ID given as input
    /// makes it 2 (usage and invalid input), after the valid ones were done all the same.
    pub fn exit_code(&self, code: crate::ExitCode) -> crate::ExitCode {
        if self.invalid.is_empty() {
            code
        } else {
            code.worst(crate::ExitCode::Fatal)
        }
    }

    /// Reads one ID per line.
    pub fn from_reader(r: impl BufRead) -> std::io::Result<IdInput> {
        let lines = r.lines().collect::<std::io::Result<Vec<String>>>()?;
        Ok(IdInput::parse(lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_input_deduplicated_and_invalid_reported() {
        let id = "de1bb258-cbbf-4589-a673-34f800160918";
        let input = format!(
            "{id}\n\n# comment\nbp-{id}\nhttps://crash-stats.mozilla.org/report/index/{id}\nnot-an-id\nde1bb258-cbbf-4589-a673-34f800160919\n"
        );
        let got = IdInput::from_reader(input.as_bytes()).unwrap();
        assert_eq!(got.ids.len(), 2);
        assert_eq!(got.ids[0].as_str(), id);
        assert_eq!(got.duplicates, 2);
        assert_eq!(got.invalid.len(), 1);
        assert_eq!(got.invalid[0].0, "not-an-id");
    }
}
