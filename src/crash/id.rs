//! Crash IDs: generation, validation (strict and lax) and parsing from what people paste.
//!
//! A crash ID is `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxTYYMMDD`: 29 characters of a random UUID v4, one
//! throttle digit `T`, then the UTC submission date. It is the only thing that ever becomes part
//! of a path or a storage key, and only through [`CrashId`], which cannot hold an invalid value.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// Why a string is not a crash ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrashIdError {
    #[error("invalid crash ID {0:?}: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxTYYMMDD in lower-case hex")]
    Malformed(String),
    #[error("invalid crash ID {0:?}: the date YYMMDD in its last six digits is not a calendar date")]
    BadDate(String),
    #[error("invalid crash ID {0:?}: throttle digit {1} is not 0 (accept) or 1 (defer)")]
    BadThrottle(String, char),
}

impl CrashIdError {
    /// A stable machine name for the error, for JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            CrashIdError::Malformed(_) => "malformed",
            CrashIdError::BadDate(_) => "bad_date",
            CrashIdError::BadThrottle(..) => "bad_throttle",
        }
    }
}

/// A validated crash ID (always the bare 36-character form, lower case).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrashId(String);

/// The throttle result digit stored in a crash ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Throttle {
    /// 0: save and process.
    Accept,
    /// 1: save, do not queue for processing.
    Defer,
    /// 2: refuse.
    Reject,
    /// 3: answer with a crash ID, save nothing.
    FakeAccept,
}

impl Throttle {
    pub fn digit(self) -> u8 {
        match self {
            Throttle::Accept => 0,
            Throttle::Defer => 1,
            Throttle::Reject => 2,
            Throttle::FakeAccept => 3,
        }
    }

    pub fn from_digit(d: u8) -> Option<Throttle> {
        Some(match d {
            0 => Throttle::Accept,
            1 => Throttle::Defer,
            2 => Throttle::Reject,
            3 => Throttle::FakeAccept,
            _ => return None,
        })
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Checks the shape `^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{6}[0-9]{6}$`.
fn has_id_shape(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        30..=35 => c.is_ascii_digit(),
        _ => is_hex(c),
    })
}

impl CrashId {
    /// A new crash ID for a crash received on `date` with the given throttle result.
    pub fn generate(throttle: Throttle, date: NaiveDate) -> CrashId {
        let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
        let id = format!(
            "{}{}{:02}{:02}{:02}",
            &uuid[..29],
            throttle.digit(),
            date.year().rem_euclid(100),
            date.month(),
            date.day()
        );
        debug_assert!(has_id_shape(&id));
        CrashId(id)
    }

    /// Lax validation: the shape of a crash ID with a real date; any throttle digit.
    /// This is what storage accepts (Socorro stores digits 0 and 1, but old data has others).
    pub fn parse_lax(s: &str) -> Result<CrashId, CrashIdError> {
        if !has_id_shape(s) {
            return Err(CrashIdError::Malformed(s.to_string()));
        }
        let id = CrashId(s.to_string());
        if id.try_date().is_none() {
            return Err(CrashIdError::BadDate(s.to_string()));
        }
        Ok(id)
    }

    /// Strict validation: lax, and the throttle digit is 0 or 1 (a crash that was kept).
    pub fn parse_strict(s: &str) -> Result<CrashId, CrashIdError> {
        let id = CrashId::parse_lax(s)?;
        let t = s.as_bytes()[29] as char;
        if t != '0' && t != '1' {
            return Err(CrashIdError::BadThrottle(s.to_string(), t));
        }
        Ok(id)
    }

    /// Parses what people paste: `ID`, `bp-ID`, or a report URL ending in the ID
    /// (`https://crash-stats.mozilla.org/report/index/ID`, with an optional trailing slash,
    /// query or fragment). Surrounding white space is ignored. Validation is lax.
    pub fn from_input(input: &str) -> Result<CrashId, CrashIdError> {
        let s = input.trim();
        let mut candidate = s;
        if s.contains("://") || s.contains('/') {
            let no_frag = s.split(['#', '?']).next().unwrap_or(s);
            candidate = no_frag.trim_end_matches('/').rsplit('/').next().unwrap_or(no_frag);
        }
        let candidate = candidate.strip_prefix("bp-").unwrap_or(candidate);
        CrashId::parse_lax(candidate).map_err(|e| match e {
            CrashIdError::Malformed(_) => CrashIdError::Malformed(s.to_string()),
            other => other,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The throttle digit (the 30th character).
    pub fn throttle_digit(&self) -> u8 {
        self.0.as_bytes()[29] - b'0'
    }

    /// The throttle result, if the digit is one of the four known ones.
    pub fn throttle(&self) -> Option<Throttle> {
        Throttle::from_digit(self.throttle_digit())
    }

    fn try_date(&self) -> Option<NaiveDate> {
        let d = &self.0[30..];
        let yy: i32 = d[0..2].parse().ok()?;
        let mm: u32 = d[2..4].parse().ok()?;
        let dd: u32 = d[4..6].parse().ok()?;
        NaiveDate::from_ymd_opt(2000 + yy, mm, dd)
    }

    /// The submission date: `20` + the last six characters.
    pub fn date(&self) -> NaiveDate {
        self.try_date().expect("validated at construction")
    }

    /// The submission date as `YYYYMMDD`, as used in storage keys.
    pub fn date_key(&self) -> String {
        format!("20{}", &self.0[30..])
    }
}

impl fmt::Display for CrashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CrashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CrashId({})", self.0)
    }
}

impl FromStr for CrashId {
    type Err = CrashIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CrashId::from_input(s)
    }
}

impl AsRef<str> for CrashId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for CrashId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CrashId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CrashId::parse_lax(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "de1bb258-cbbf-4589-a673-34f800160918";

    #[test]
    fn generated_ids_are_valid_and_carry_date_and_throttle() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        for t in [Throttle::Accept, Throttle::Defer, Throttle::Reject, Throttle::FakeAccept] {
            let id = CrashId::generate(t, date);
            assert!(CrashId::parse_lax(id.as_str()).is_ok(), "{id}");
            assert_eq!(id.date(), date);
            assert_eq!(id.date_key(), "20261126");
            assert_eq!(id.throttle(), Some(t));
            assert!(id.as_str().ends_with("261126"));
            // UUID v4: the version nibble survives in the prefix
            assert_eq!(&id.as_str()[14..15], "4");
        }
        let a = CrashId::generate(Throttle::Accept, date);
        let b = CrashId::generate(Throttle::Accept, date);
        assert_ne!(a, b);
    }

    #[test]
    fn validation_strict_and_lax() {
        assert!(CrashId::parse_strict(GOOD).is_ok());
        assert_eq!(CrashId::parse_strict(GOOD).unwrap().date(), NaiveDate::from_ymd_opt(2016, 9, 18).unwrap());
        let t2 = "de1bb258-cbbf-4589-a673-34f802160918";
        assert!(CrashId::parse_lax(t2).is_ok());
        assert!(matches!(CrashId::parse_strict(t2), Err(CrashIdError::BadThrottle(_, '2'))));
        for bad in [
            "",
            "DE1BB258-CBBF-4589-A673-34F800160918",
            "de1bb258-cbbf-4589-a673-34f80016091",
            "de1bb258-cbbf-4589-a673-34f8001609188",
            "de1bb258xcbbf-4589-a673-34f800160918",
            "de1bb258-cbbf-4589-a673-34f80016091a",
            "ge1bb258-cbbf-4589-a673-34f800160918",
            "../../../etc/passwd-a673-34f800160918",
        ] {
            assert!(matches!(CrashId::parse_lax(bad), Err(CrashIdError::Malformed(_))), "{bad:?}");
        }
        assert!(matches!(CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800161318"), Err(CrashIdError::BadDate(_))));
    }

    #[test]
    fn parses_bp_prefix_and_report_urls() {
        for input in [
            GOOD.to_string(),
            format!("bp-{GOOD}"),
            format!("  {GOOD}\n"),
            format!("https://crash-stats.mozilla.org/report/index/{GOOD}"),
            format!("https://crash-stats.mozilla.org/report/index/{GOOD}/"),
            format!("https://crash-stats.mozilla.org/report/index/bp-{GOOD}#tab-details"),
            format!("https://crash-stats.mozilla.org/report/index/{GOOD}?x=1"),
        ] {
            assert_eq!(CrashId::from_input(&input).unwrap().as_str(), GOOD, "{input:?}");
        }
        assert!(CrashId::from_input("https://crash-stats.mozilla.org/report/index/").is_err());
        assert!(CrashId::from_input("bp-").is_err());
    }
}
