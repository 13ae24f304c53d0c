//! Why a reprocessing job could not run.

use std::path::PathBuf;

use crate::api::ApiError;

/// Crashstats-tools' limit: more IDs than this need `allow_many`.
pub const MANY_IDS: usize = 10_000;

/// Why a reprocessing job could not run. `name()` gives a stable machine name.
#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    #[error("unknown ruleset {0:?}: expected one of default, regenerate_signature")]
    BadRuleset(String),
    #[error("{0} crash IDs is more than {MANY_IDS}; pass --allow-many to reprocess them all")]
    TooMany(usize),
    #[error("no API token: pass --token, set CRASHSTATS_API_TOKEN, or put CRASHSTATS_API_TOKEN=... in ./.env")]
    NoToken,
    #[error("no directory for the state file: set CRASHCTL_STATE_DIR or pass --state FILE")]
    NoStateDir,
    #[error("state file {path}: {reason}")]
    State { path: PathBuf, reason: String },
    #[error(
        "state file {path} belongs to another job ({ids} IDs for {host}); pass another --state FILE, or delete it to start over"
    )]
    StateMismatch { path: PathBuf, ids: usize, host: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ReprocessError {
    pub fn name(&self) -> &'static str {
        match self {
            ReprocessError::BadRuleset(_) => "bad_ruleset",
            ReprocessError::TooMany(_) => "too_many",
            ReprocessError::NoToken => "no_token",
            ReprocessError::NoStateDir => "no_state_dir",
            ReprocessError::State { .. } => "state_error",
            ReprocessError::StateMismatch { .. } => "state_mismatch",
            ReprocessError::Api(e) => e.name(),
            ReprocessError::Other(_) => "error",
        }
    }
}
