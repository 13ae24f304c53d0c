//! The rulesets a reprocessing job may ask for.

use super::error::ReprocessError;

/// Rulesets the processor knows (Socorro's `default` and `regenerate_signature`).
pub const RULESETS: [&str; 2] = ["default", "regenerate_signature"];

/// Checks a ruleset name against [`RULESETS`].
pub fn check_ruleset(ruleset: Option<&str>) -> Result<(), ReprocessError> {
    match ruleset {
        Some(rs) if !RULESETS.contains(&rs) => Err(ReprocessError::BadRuleset(rs.to_string())),
        _ => Ok(()),
    }
}
