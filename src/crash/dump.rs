//! Dump names: sanitized exactly as the collector does, reserved names refused.

use std::fmt;

/// The name of the main minidump.
pub const MAIN_DUMP: &str = "upload_file_minidump";
/// Names that clash with other objects in the storage layout: Antenna's three folders, and the
/// layout words a directory store reads its layout from (`v1`, `v2`: a dump folder named so
/// would make a fetch-data folder read as a bucket layout).
pub const RESERVED_NAMES: [&str; 5] = ["dump_names", "processed_crash", "raw_crash", "v1", "v2"];
/// Where Socorro's layout stores the main dump (`v1/dump/<id>`): a dump of that name would take
/// the main dump's place (or be read as it), so it is refused as a collision.
pub const MAIN_DUMP_KEY: &str = "dump";
/// Longest dump name the collector keeps.
pub const MAX_LEN: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpNameError {
    #[error("invalid dump name {0:?}: reserved")]
    Reserved(String),
    #[error("invalid dump name {0:?}: it is where the main dump (upload_file_minidump) is stored")]
    Collides(String),
    #[error("invalid dump name {0:?}: must be 1 to 30 characters of [A-Za-z0-9_]")]
    Malformed(String),
}

/// A dump name that is safe to use as a path component or storage key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DumpName(String);

impl DumpName {
    /// What the collector does with a form field name: keep `[A-Za-z0-9_]`, cut to 30
    /// characters, then refuse reserved and empty names (Antenna's `sanitize_key_name`).
    pub fn sanitize(field_name: &str) -> Result<DumpName, DumpNameError> {
        let clean: String =
            field_name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(MAX_LEN).collect();
        DumpName::parse(&clean).map_err(|e| match e {
            DumpNameError::Malformed(_) => DumpNameError::Malformed(field_name.to_string()),
            other => other,
        })
    }

    /// Validates a name that should already be clean (read back from storage or a spool).
    pub fn parse(name: &str) -> Result<DumpName, DumpNameError> {
        let ok =
            !name.is_empty() && name.len() <= MAX_LEN && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !ok {
            return Err(DumpNameError::Malformed(name.to_string()));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(DumpNameError::Reserved(name.to_string()));
        }
        if name == MAIN_DUMP_KEY {
            return Err(DumpNameError::Collides(name.to_string()));
        }
        Ok(DumpName(name.to_string()))
    }

    pub fn main() -> DumpName {
        DumpName(MAIN_DUMP.to_string())
    }

    pub fn is_main(&self) -> bool {
        self.0 == MAIN_DUMP
    }

    /// Dumps that the processor stackwalks: names starting with `upload_file_minidump`.
    pub fn is_minidump(&self) -> bool {
        self.0.starts_with(MAIN_DUMP)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DumpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DumpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DumpName({})", self.0)
    }
}

impl serde::Serialize for DumpName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DumpName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DumpName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_the_collector() {
        assert_eq!(DumpName::sanitize("upload_file_minidump").unwrap().as_str(), "upload_file_minidump");
        assert_eq!(DumpName::sanitize("memory-report.json").unwrap().as_str(), "memoryreportjson");
        assert_eq!(DumpName::sanitize("../../etc/passwd").unwrap().as_str(), "etcpasswd");
        let long = "a".repeat(40);
        assert_eq!(DumpName::sanitize(&long).unwrap().as_str().len(), 30);
        assert_eq!(
            DumpName::sanitize("upload_file_minidump_browser_extra_long_name").unwrap().as_str(),
            "upload_file_minidump_browser_e"
        );
    }

    #[test]
    fn refuses_reserved_and_empty() {
        for r in RESERVED_NAMES {
            assert!(matches!(DumpName::sanitize(r), Err(DumpNameError::Reserved(_))));
        }
        // reserved after sanitizing
        assert_eq!(DumpName::sanitize("raw-crash").unwrap().as_str(), "rawcrash");
        assert!(matches!(DumpName::sanitize("raw_crash!"), Err(DumpNameError::Reserved(_))));
        assert!(matches!(DumpName::sanitize("../.."), Err(DumpNameError::Malformed(_))));
        assert!(matches!(DumpName::parse("a/b"), Err(DumpNameError::Malformed(_))));
        assert!(matches!(DumpName::parse(".."), Err(DumpNameError::Malformed(_))));
        assert!(DumpName::parse(&"a".repeat(31)).is_err());
    }

    /// Issue 12, defects 2 and 3: `dump` is where `upload_file_minidump` is stored, and `v1`
    /// is the layout word of a directory store; neither may name a dump.
    #[test]
    fn refuses_the_main_dump_key_and_layout_words() {
        assert!(matches!(DumpName::sanitize("dump"), Err(DumpNameError::Collides(_))));
        assert!(matches!(DumpName::sanitize("d-u-m-p"), Err(DumpNameError::Collides(_))));
        assert!(matches!(DumpName::parse("dump"), Err(DumpNameError::Collides(_))));
        for w in ["v1", "v2", "raw_crash", "dump_names", "processed_crash"] {
            assert!(matches!(DumpName::parse(w), Err(DumpNameError::Reserved(_))), "{w}");
        }
        assert!(DumpName::parse("dumps").is_ok());
        assert!(DumpName::parse("v10").is_ok());
    }

    #[test]
    fn minidump_names() {
        assert!(DumpName::main().is_main());
        assert!(DumpName::parse("upload_file_minidump_browser").unwrap().is_minidump());
        assert!(!DumpName::parse("memory_report").unwrap().is_minidump());
    }
}
