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

    /// `text` with every occurrence of the secret replaced by its mask, whatever the secret's
    /// length, as sent and as it appears in a URL (percent-encoded, or form-encoded with `+`):
    /// for text that comes from elsewhere (a server's error body, a redirect's `Location`),
    /// which might echo the token back. Scrub before cutting text to a length, never after.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for form in self.encodings() {
            if out.contains(&form) {
                out = out.replace(&form, &"x".repeat(form.chars().count().max(1)));
            }
        }
        if out.contains(&self.0) {
            out = out.replace(&self.0, &self.masked());
        }
        out
    }

    /// The secret as it may appear in a URL, longest forms first (only forms that differ from
    /// the secret itself).
    fn encodings(&self) -> Vec<String> {
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        let (mut upper, mut lower, mut form) = (String::new(), String::new(), String::new());
        for b in self.0.bytes() {
            if unreserved(b) {
                for s in [&mut upper, &mut lower, &mut form] {
                    s.push(b as char);
                }
            } else {
                upper.push_str(&format!("%{b:02X}"));
                lower.push_str(&format!("%{b:02x}"));
                form.push_str(&if b == b' ' { "+".to_string() } else { format!("%{b:02X}") });
            }
        }
        let mut forms: Vec<String> = [upper, lower, form].into_iter().filter(|f| *f != self.0).collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms
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

    /// Issue 12, defect 6: a short token (3 characters) and a token in a URL are masked too.
    #[test]
    fn scrub_masks_any_length_and_url_encoded_forms() {
        let short = Secret::new("k3y");
        assert_eq!(short.scrub("https://h/x?token=k3y&a=1"), "https://h/x?token=xxx&a=1");
        let odd = Secret::new("ab/cd+ef gh=12");
        let scrubbed = odd.scrub("?token=ab%2Fcd%2Bef+gh%3D12 or ab%2fcd%2bef%20gh%3d12 or ab/cd+ef gh=12");
        assert!(!scrubbed.contains("cd") && !scrubbed.contains("gh"), "{scrubbed}");
    }

    #[test]
    fn scrub_replaces_echoed_secrets() {
        let s = Secret::new("abcd1234efgh5678");
        assert_eq!(s.scrub("bad token abcd1234efgh5678!"), "bad token abcdxxxxxxxxxxxx!");
        assert_eq!(Secret::new("").scrub("text"), "text");
    }
}
