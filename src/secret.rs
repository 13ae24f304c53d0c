//! Secrets (API tokens) that cannot be printed by accident: `Debug` and `Display` show only the
//! first 4 characters followed by `x`s, as crashstats-tools does.

use std::fmt;
use std::str::FromStr;

/// A secret string. Only [`Secret::expose`] gives the real value; every formatting path masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// How many leading characters a mask keeps.
const SHOWN: usize = 4;

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first 4 characters, then one `x` per remaining character. A secret of 8 characters
    /// or fewer is all `x`s (showing half of it would give too much away).
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        let shown = if n > 2 * SHOWN { SHOWN } else { 0 };
        let head: String = self.0.chars().take(shown).collect();
        format!("{head}{}", "x".repeat(n - shown))
    }

    /// `text` with every occurrence of the secret replaced by its mask (for messages that come
    /// from elsewhere, such as a server's error text, which might echo the token back).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, &self.masked())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_formatting_path_masks() {
        let s = Secret::new("abcd1234efgh5678");
        assert_eq!(s.masked(), "abcdxxxxxxxxxxxx");
        assert_eq!(format!("{s}"), "abcdxxxxxxxxxxxx");
        assert_eq!(format!("{s:?}"), "Secret(abcdxxxxxxxxxxxx)");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    Secret(abcdxxxxxxxxxxxx),\n)");
        assert_eq!(s.expose(), "abcd1234efgh5678");
    }

    #[test]
    fn short_secrets_are_all_masked() {
        assert_eq!(Secret::new("abcdefgh").masked(), "xxxxxxxx");
        assert_eq!(Secret::new("").masked(), "");
    }

    #[test]
    fn scrub_replaces_echoed_secrets() {
        let s = Secret::new("abcd1234efgh5678");
        assert_eq!(s.scrub("bad token abcd1234efgh5678!"), "bad token abcdxxxxxxxxxxxx!");
        assert_eq!(Secret::new("").scrub("text"), "text");
    }
}
