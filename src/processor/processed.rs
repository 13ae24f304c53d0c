//! [`Processed`]: a processed crash as the processor returns it, with the main dump's
//! stackwalker output (`json_dump`, the bulk of it) kept as JSON text rather than a `Value`.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::crash::ProcessedCrash;

/// A processed crash: its fields and, when this run walked the main dump, `json_dump` as text
/// (then `fields` has no `json_dump`). Serializes as one JSON object with keys in order, the
/// same bytes as the [`ProcessedCrash`] of [`Processed::to_map`].
#[derive(Debug, Clone, Default)]
pub struct Processed {
    pub fields: ProcessedCrash,
    pub json_dump: Option<Box<RawValue>>,
    /// For the human view, when this run walked the dump (the JSON does not keep it): per
    /// thread, per frame, how far the frame's instruction is past the start of its source line
    /// (minidump-stackwalk's `[file : line + 0x3]`). Not serialized.
    pub line_offsets: Vec<Vec<Option<u64>>>,
}

impl Processed {
    /// A top-level field other than `json_dump`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The whole processed crash as a map (parses `json_dump`).
    pub fn to_map(&self) -> ProcessedCrash {
        let mut map = self.fields.clone();
        if let Some(text) = &self.json_dump {
            let dump = serde_json::from_str(text.get()).expect("json_dump is valid JSON");
            map.insert("json_dump".into(), dump);
        }
        map
    }

    /// Compact JSON (what the store saves).
    pub fn to_vec(&self) -> Vec<u8> {
        let capacity = self.json_dump.as_ref().map_or(0, |d| d.get().len()) + 4096;
        let mut out = Vec::with_capacity(capacity);
        serde_json::to_writer(&mut out, self).expect("a processed crash always serializes");
        out
    }
}

impl From<ProcessedCrash> for Processed {
    fn from(fields: ProcessedCrash) -> Processed {
        Processed { fields, json_dump: None, line_offsets: Vec::new() }
    }
}

impl Serialize for Processed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.fields.len() + usize::from(self.json_dump.is_some())))?;
        let mut dump = self.json_dump.as_ref();
        for (key, value) in &self.fields {
            if let Some(text) = dump.filter(|_| key.as_str() > "json_dump") {
                map.serialize_entry("json_dump", text)?;
                dump = None;
            }
            map.serialize_entry(key, value)?;
        }
        if let Some(text) = dump {
            map.serialize_entry("json_dump", text)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_dump_text_goes_where_the_map_would_put_it() {
        let fields: ProcessedCrash =
            serde_json::from_str(r#"{"address": "0x0", "uuid": "x", "json_dump": 1}"#).unwrap();
        let mut processed = Processed::from(fields.clone());
        assert_eq!(processed.to_vec(), serde_json::to_vec(&fields).unwrap());
        processed.fields.remove("json_dump");
        processed.json_dump = Some(RawValue::from_string(r#"{"b":[1,2],"a":null}"#.into()).unwrap());
        assert_eq!(
            String::from_utf8(processed.to_vec()).unwrap(),
            r#"{"address":"0x0","json_dump":{"b":[1,2],"a":null},"uuid":"x"}"#
        );
        assert_eq!(processed.to_map()["json_dump"]["b"][1], 2);
    }
}
