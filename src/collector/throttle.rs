//! Throttle rules: which crashes the collector accepts, defers, rejects or fake-accepts.
//!
//! Rules are evaluated in order; the first whose condition matches decides. No match is
//! REJECT with rule `NO_MATCH`. Without a rules file, one rule accepts everything.
//!
//! The file is TOML (or JSON when its name ends in `.json`), a list of `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! name = "reject_old_builds"      # [a-z0-9_]+, answered as Discarded=rule_<name>
//! key = "BuildID"                 # an annotation, or "*" for the whole crash
//! older_than_days = 730           # condition (at most one; none = the key is present, or always for "*")
//! result = "reject"               # accept | defer | reject | fakeaccept
//!
//! [[rule]]
//! name = "sample_release"
//! key = "ReleaseChannel"
//! equals = "release"
//! result = "accept"
//! percent = 10                    # optional split: `result` for 10% of matches...
//! otherwise = "reject"            # ...and this for the rest
//! ```
//! Conditions: `equals = "text"`, `one_of = ["a", "b"]`, `matches = "regex"` (searched in the
//! value), `exists = true|false`, `older_than_days = N` (the value starts with a `YYYYMMDD`
//! date, as BuildID does, older than N days before the crash was received).

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;

use crate::crash::{RawCrash, Throttle};

/// The rule name of the default accept-everything rule.
pub const DEFAULT_RULE: &str = "accept_everything";
/// The rule name reported when no rule matched.
pub const NO_MATCH: &str = "NO_MATCH";

/// A rule as written in the file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleRuleSpec {
    name: String,
    key: String,
    equals: Option<String>,
    one_of: Option<Vec<String>>,
    matches: Option<String>,
    exists: Option<bool>,
    older_than_days: Option<i64>,
    result: ResultSpec,
    percent: Option<f64>,
    otherwise: Option<ResultSpec>,
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum ResultSpec {
    Accept,
    Defer,
    Reject,
    Fakeaccept,
}

impl From<ResultSpec> for Throttle {
    fn from(r: ResultSpec) -> Throttle {
        match r {
            ResultSpec::Accept => Throttle::Accept,
            ResultSpec::Defer => Throttle::Defer,
            ResultSpec::Reject => Throttle::Reject,
            ResultSpec::Fakeaccept => Throttle::FakeAccept,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<ThrottleRuleSpec>,
}

#[derive(Debug, Clone)]
enum Condition {
    /// The key is present (or, for `*`, always).
    Present,
    Exists(bool),
    Equals(String),
    OneOf(Vec<String>),
    Matches(Regex),
    OlderThanDays(i64),
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct ThrottleRule {
    pub name: String,
    key: String,
    condition: Condition,
    result: Throttle,
    /// `(percent, otherwise)`: `result` for `percent`% of matches, `otherwise` for the rest.
    split: Option<(f64, Throttle)>,
}

/// What the throttler decided, and which rule said so.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub result: Throttle,
    pub rule: String,
}

/// An ordered list of rules.
#[derive(Debug, Clone)]
pub struct Throttler {
    rules: Vec<ThrottleRule>,
}

impl Default for Throttler {
    /// Accept everything.
    fn default() -> Throttler {
        let rule = ThrottleRule {
            name: DEFAULT_RULE.into(),
            key: "*".into(),
            condition: Condition::Present,
            result: Throttle::Accept,
            split: None,
        };
        Throttler { rules: vec![rule] }
    }
}

impl Throttler {
    /// Loads rules from a TOML file (JSON when the name ends in `.json`).
    pub fn load(path: &Path) -> anyhow::Result<Throttler> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("throttle rules {}: cannot read: {e}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        Throttler::parse(&text, is_json).map_err(|e| anyhow::anyhow!("throttle rules {}: {e}", path.display()))
    }

    /// Parses rules from the text of a rules file.
    pub fn parse(text: &str, is_json: bool) -> anyhow::Result<Throttler> {
        let file: RulesFile = if is_json { serde_json::from_str(text)? } else { toml::from_str(text)? };
        let rules = file.rule.into_iter().map(compile).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Throttler { rules })
    }

    pub fn rules(&self) -> &[ThrottleRule] {
        &self.rules
    }

    /// Decides for a crash received on `received`; `roll` is a number in `[0, 100)` used by
    /// percentage splits (random in the collector, fixed in tests).
    pub fn decide(&self, raw: &RawCrash, received: NaiveDate, roll: f64) -> Decision {
        for rule in &self.rules {
            if rule.matches(raw, received) {
                let result = match rule.split {
                    Some((percent, otherwise)) if roll >= percent => otherwise,
                    _ => rule.result,
                };
                return Decision { result, rule: rule.name.clone() };
            }
        }
        Decision { result: Throttle::Reject, rule: NO_MATCH.into() }
    }

    /// [`Throttler::decide`] with a random roll.
    pub fn throttle(&self, raw: &RawCrash, received: NaiveDate) -> Decision {
        self.decide(raw, received, rand::random::<f64>() * 100.0)
    }
}

fn compile(spec: ThrottleRuleSpec) -> anyhow::Result<ThrottleRule> {
    let name = spec.name.clone();
    let valid_name =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    anyhow::ensure!(valid_name, "rule {name:?}: a name is [a-z0-9_]+");
    let conditions = [
        spec.equals.map(Condition::Equals),
        spec.one_of.map(Condition::OneOf),
        spec.matches
            .map(|m| Regex::new(&m).map(Condition::Matches))
            .transpose()
            .map_err(|e| anyhow::anyhow!("rule {name}: bad regex: {e}"))?,
        spec.exists.map(Condition::Exists),
        spec.older_than_days.map(Condition::OlderThanDays),
    ];
    let mut given: Vec<Condition> = conditions.into_iter().flatten().collect();
    anyhow::ensure!(given.len() <= 1, "rule {name}: at most one condition per rule");
    anyhow::ensure!(!spec.key.is_empty(), "rule {name}: empty key");
    if spec.key == "*" {
        anyhow::ensure!(given.is_empty(), "rule {name}: key \"*\" takes no condition (it matches every crash)");
    }
    let split = match (spec.percent, spec.otherwise) {
        (None, None) => None,
        (Some(p), Some(o)) if (0.0..=100.0).contains(&p) => Some((p, o.into())),
        (Some(_), Some(_)) => anyhow::bail!("rule {name}: percent must be between 0 and 100"),
        _ => anyhow::bail!("rule {name}: percent and otherwise go together"),
    };
    Ok(ThrottleRule {
        name,
        key: spec.key,
        condition: given.pop().unwrap_or(Condition::Present),
        result: spec.result.into(),
        split,
    })
}

impl ThrottleRule {
    fn matches(&self, raw: &RawCrash, received: NaiveDate) -> bool {
        if self.key == "*" {
            return true;
        }
        let value = raw.get(&self.key).map(value_text);
        match (&self.condition, value) {
            (Condition::Exists(want), v) => v.is_some() == *want,
            (_, None) => false,
            (Condition::Present, Some(_)) => true,
            (Condition::Equals(s), Some(v)) => &v == s,
            (Condition::OneOf(list), Some(v)) => list.contains(&v),
            (Condition::Matches(re), Some(v)) => re.is_match(&v),
            (Condition::OlderThanDays(days), Some(v)) => {
                leading_date(&v).is_some_and(|d| (received - d).num_days() > *days)
            }
        }
    }
}

/// An annotation as text (strings as they are, other JSON values as JSON).
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `YYYYMMDD` date a BuildID-like value starts with.
fn leading_date(v: &str) -> Option<NaiveDate> {
    let head = v.get(..8)?;
    NaiveDateTime::parse_from_str(&format!("{head}000000"), "%Y%m%d%H%M%S").ok().map(|t| t.date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawCrash {
        pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    const RULES: &str = r#"
[[rule]]
name = "reject_old"
key = "BuildID"
older_than_days = 730
result = "reject"

[[rule]]
name = "hang"
key = "HangID"
result = "fakeaccept"

[[rule]]
name = "nightly"
key = "ReleaseChannel"
one_of = ["nightly", "beta"]
result = "accept"

[[rule]]
name = "thunderbird"
key = "ProductName"
matches = "^Thunder"
result = "defer"

[[rule]]
name = "sample_release"
key = "ReleaseChannel"
equals = "release"
result = "accept"
percent = 10
otherwise = "reject"
"#;

    #[test]
    fn default_accepts_everything() {
        let d = Throttler::default().throttle(&RawCrash::new(), day());
        assert_eq!(d, Decision { result: Throttle::Accept, rule: DEFAULT_RULE.into() });
    }

    #[test]
    fn rules_in_order_first_match_wins() {
        let t = Throttler::parse(RULES, false).unwrap();
        let decide = |pairs: &[(&str, &str)], roll| t.decide(&raw(pairs), day(), roll);
        assert_eq!(decide(&[("BuildID", "20201101000000"), ("HangID", "x")], 0.0).rule, "reject_old");
        assert_eq!(decide(&[("BuildID", "20261101000000"), ("HangID", "x")], 0.0).result, Throttle::FakeAccept);
        assert_eq!(decide(&[("ReleaseChannel", "beta")], 99.0).result, Throttle::Accept);
        assert_eq!(decide(&[("ProductName", "Thunderbird")], 0.0).result, Throttle::Defer);
        assert_eq!(decide(&[("ReleaseChannel", "release")], 5.0).result, Throttle::Accept);
        assert_eq!(decide(&[("ReleaseChannel", "release")], 10.0).result, Throttle::Reject);
        assert_eq!(
            decide(&[("ProductName", "Firefox")], 0.0),
            Decision { result: Throttle::Reject, rule: NO_MATCH.into() }
        );
    }

    #[test]
    fn json_file_and_bad_rules() {
        let t = Throttler::parse(r#"{"rule": [{"name": "all", "key": "*", "result": "defer"}]}"#, true).unwrap();
        assert_eq!(t.throttle(&RawCrash::new(), day()).result, Throttle::Defer);
        for bad in [
            "[[rule]]\nname = \"Bad Name\"\nkey = \"*\"\nresult = \"accept\"\n",
            "[[rule]]\nname = \"a\"\nkey = \"*\"\nequals = \"x\"\nresult = \"accept\"\n",
            "[[rule]]\nname = \"a\"\nkey = \"K\"\nequals = \"x\"\nexists = true\nresult = \"accept\"\n",
            "[[rule]]\nname = \"a\"\nkey = \"K\"\nresult = \"maybe\"\n",
            "[[rule]]\nname = \"a\"\nkey = \"K\"\nresult = \"accept\"\npercent = 10\n",
            "[[rule]]\nname = \"a\"\nkey = \"K\"\nmatches = \"(\"\nresult = \"accept\"\n",
        ] {
            assert!(Throttler::parse(bad, false).is_err(), "{bad}");
        }
    }
}
