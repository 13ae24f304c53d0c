//! What is wrong with an entry found while scanning a spool or counting a store.

use std::path::Path;

/// At most this many problems are kept (all are counted).
pub const MAX_PROBLEMS: usize = 1000;

/// What is wrong with an entry found while scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A file where only directories belong.
    StrayFile,
    /// A directory whose name is not part of the layout (or not UTF-8).
    InvalidName,
    /// A directory (or a store/quarantine entry) whose name is not a crash ID.
    InvalidCrashId,
    /// A file named like a crash where a crash directory belongs.
    CrashNotADirectory,
    /// A directory inside a crash directory.
    UnexpectedDirectory,
    /// A `YYYYMMDD/HH/MM` shard that is not a real UTC minute.
    InvalidShard,
    /// A directory or file that could not be read: the counts are incomplete.
    Unreadable,
    /// A whole section (spool, queue or store) could not be opened or read: it is missing
    /// from the report (`stats` exits 2).
    Unavailable,
}

impl ProblemKind {
    /// The machine name (as in the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::StrayFile => "stray_file",
            ProblemKind::InvalidName => "invalid_name",
            ProblemKind::InvalidCrashId => "invalid_crash_id",
            ProblemKind::CrashNotADirectory => "crash_not_a_directory",
            ProblemKind::UnexpectedDirectory => "unexpected_directory",
            ProblemKind::InvalidShard => "invalid_shard",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Unavailable => "unavailable",
        }
    }
}

/// Something found while scanning that is not as it should be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, path: &Path, message: impl Into<String>) -> Problem {
        Problem { kind, path: path.display().to_string(), message: message.into() }
    }

    /// A section (`spool`, `queue`, `store`) at `location` that could not be opened or read.
    pub fn unavailable(section: &str, location: &str, error: impl std::fmt::Display) -> Problem {
        let error = error.to_string();
        let message = if error.starts_with(section) { error } else { format!("{section} {location}: {error}") };
        Problem { kind: ProblemKind::Unavailable, path: location.to_string(), message }
    }
}
