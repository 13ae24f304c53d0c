//! How a command's result is written: one [`Format`] for every command. Each result type
//! (`MoveReport`, `SubmitReport`, `ProcessReport`, `RequeueReport`, the reprocess reports,
//! `Stats`) renders itself in the formats it supports; the binary only picks the format and
//! where the bytes go.

/// What goes to stdout. Which command takes which is in docs/cli.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people (the default).
    Text,
    /// JSON: JSON Lines for streams (one object per item), one document for reports.
    Json,
    /// Prometheus text exposition (stats).
    Prometheus,
    /// One line per item, tab-separated (listings).
    Tab,
    /// Comma-separated values with a header line (listings).
    Csv,
    /// A Markdown table (listings).
    Markdown,
    /// Crash IDs only, one a line (listings).
    Ids,
    /// The server's whole answer, pretty-printed (facet).
    Raw,
    /// Bars drawn with block characters, one a row (facet).
    Bars,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Text,
        Format::Json,
        Format::Prometheus,
        Format::Tab,
        Format::Csv,
        Format::Markdown,
        Format::Ids,
        Format::Raw,
        Format::Bars,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Prometheus => "prometheus",
            Format::Tab => "tab",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Ids => "ids",
            Format::Raw => "raw",
            Format::Bars => "bars",
        }
    }

    /// Older spellings still accepted (hidden from help): `table` (stats) for text, `summary`
    /// (process) for tab.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Format::Text => &["table"],
            Format::Tab => &["summary"],
            _ => &[],
        }
    }

    /// One line of help.
    pub fn help(self) -> &'static str {
        match self {
            Format::Text => "for people (the default)",
            Format::Json => "JSON: JSON Lines for streams, one document for reports",
            Format::Prometheus => "Prometheus text exposition",
            Format::Tab => "one line per item, tab-separated",
            Format::Csv => "comma-separated values with a header line",
            Format::Markdown => "a Markdown table",
            Format::Ids => "crash IDs only, one a line",
            Format::Raw => "the server's whole answer, pretty-printed",
            Format::Bars => "bars, one a row (histograms: per day, weekends marked *)",
        }
    }

    /// The format named `s` (or one of its aliases), ignoring case.
    pub fn from_name(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.name() == s || f.aliases().contains(&s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("TABLE"), Some(Format::Text));
        assert_eq!(Format::from_name("summary"), Some(Format::Tab));
        assert_eq!(Format::from_name("yaml"), None);
    }
}
