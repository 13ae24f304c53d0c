//! The domain: crash IDs, dump names, raw crashes and whole crashes. No I/O beyond reading a
//! dump that lives in a file.

mod dump;
mod id;

pub use dump::{DumpName, DumpNameError, MAIN_DUMP, RESERVED_NAMES};
pub use id::{CrashId, CrashIdError, Throttle};

use std::borrow::Cow;
use std::path::PathBuf;

use bytes::Bytes;

/// The raw crash: annotations plus what the collector added. A `BTreeMap` underneath, so it
/// serializes with sorted keys as Socorro writes it.
pub type RawCrash = serde_json::Map<String, serde_json::Value>;

/// A processed crash as a JSON object.
pub type ProcessedCrash = serde_json::Map<String, serde_json::Value>;

/// Where a dump's bytes are. In memory they are [`Bytes`]: the collector hands the slice of
/// the request it parsed straight to the spool or store, without a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpData {
    Bytes(Bytes),
    File(PathBuf),
}

impl DumpData {
    /// The bytes, read from the file if needed.
    pub fn read(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match self {
            DumpData::Bytes(b) => Ok(Cow::Borrowed(b)),
            DumpData::File(p) => std::fs::read(p).map(Cow::Owned),
        }
    }

    /// The size in bytes (a metadata call for files).
    pub fn len(&self) -> std::io::Result<u64> {
        match self {
            DumpData::Bytes(b) => Ok(b.len() as u64),
            DumpData::File(p) => std::fs::metadata(p).map(|m| m.len()),
        }
    }

    pub fn is_empty(&self) -> std::io::Result<bool> {
        self.len().map(|n| n == 0)
    }
}

/// A named dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    pub name: DumpName,
    pub data: DumpData,
}

/// A crash: its ID, raw crash and dumps (in the order received; names are unique).
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    pub id: CrashId,
    pub raw: RawCrash,
    pub dumps: Vec<Dump>,
}

impl Crash {
    pub fn new(id: CrashId, raw: RawCrash) -> Crash {
        Crash { id, raw, dumps: Vec::new() }
    }

    /// Adds a dump; a dump of the same name is replaced (the last one wins, as in the collector).
    pub fn add_dump(&mut self, name: DumpName, data: DumpData) {
        self.dumps.retain(|d| d.name != name);
        self.dumps.push(Dump { name, data });
    }

    pub fn dump_names(&self) -> Vec<DumpName> {
        self.dumps.iter().map(|d| d.name.clone()).collect()
    }

    pub fn dump(&self, name: &str) -> Option<&Dump> {
        self.dumps.iter().find(|d| d.name.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_dump_of_a_name_wins() {
        let id = CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160918").unwrap();
        let mut c = Crash::new(id, RawCrash::new());
        c.add_dump(DumpName::main(), DumpData::Bytes(Bytes::from_static(b"one")));
        c.add_dump(DumpName::parse("memory_report").unwrap(), DumpData::Bytes(Bytes::from_static(b"m")));
        c.add_dump(DumpName::main(), DumpData::Bytes(Bytes::from_static(b"two")));
        assert_eq!(c.dumps.len(), 2);
        assert_eq!(c.dump(MAIN_DUMP).unwrap().data, DumpData::Bytes(Bytes::from_static(b"two")));
    }
}
