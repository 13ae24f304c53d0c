//! What to send: crashes built from command-line pieces (dump files, annotation files,
//! KEY=VALUE pairs), read back from a crash store or fetch-data folder, or generated
//! (realistic annotations and valid minidumps from [`crate::generate::Generator`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::encode::{DumpPart, Outgoing};
use crate::crash::{CrashId, RawCrash, MAIN_DUMP};
use crate::store::CrashStore;

/// Keys the collector adds to a raw crash; dropped when a saved crash is sent again.
pub const COLLECTOR_KEYS: [&str; 4] = ["metadata", "submitted_timestamp", "uuid", "version"];

/// A `--dump [NAME=]PATH` argument: the form field name and the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpArg {
    pub field: String,
    pub path: PathBuf,
}

impl DumpArg {
    /// `NAME=PATH`, or a bare `PATH` (the main dump, `upload_file_minidump`). The name is
    /// everything before the first `=`; a path containing `=` needs an explicit name.
    pub fn parse(s: &str) -> Result<DumpArg, String> {
        let (field, path) = match s.split_once('=') {
            Some((name, path)) => (name.to_string(), path),
            None => (MAIN_DUMP.to_string(), s),
        };
        if field.is_empty() || path.is_empty() {
            return Err(format!("{s:?}: expected [NAME=]PATH"));
        }
        // a name that collides with the main dump once stored (`dump`) is refused here; other
        // bad names are sent as given (the collector refuses them: a way to test a collector)
        if let Err(e @ crate::crash::DumpNameError::Collides(_)) = crate::crash::DumpName::sanitize(&field) {
            return Err(format!("{s:?}: {e}"));
        }
        Ok(DumpArg { field, path: PathBuf::from(path) })
    }

    pub fn read(&self) -> anyhow::Result<DumpPart> {
        let data = std::fs::read(&self.path).with_context(|| format!("dump {}", self.path.display()))?;
        let filename = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dump".into());
        Ok(DumpPart { field: self.field.clone(), filename, data: data.into() })
    }
}

/// Parses `KEY=VALUE` (a non-empty key without `/` or `:`, so crash IDs and report URLs are
/// never taken for annotations).
pub fn parse_pair(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once('=')?;
    let key_ok = !k.is_empty() && !k.contains(['/', ':']);
    key_ok.then(|| (k.to_string(), v.to_string()))
}

/// Drops what the collector added (and the crash ID unless `keep_uuid`).
pub fn strip_collector_fields(raw: &mut RawCrash, keep_uuid: bool) {
    for key in COLLECTOR_KEYS {
        if key != "uuid" || !keep_uuid {
            raw.remove(key);
        }
    }
}

/// Reads a JSON object file (`--annotations`, `--raw-crash`).
pub fn read_json_object(path: &Path) -> anyhow::Result<RawCrash> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => anyhow::bail!("{}: not a JSON object", path.display()),
        Err(e) => anyhow::bail!("{}: not JSON: {e}", path.display()),
    }
}

/// A crash described on the command line.
#[derive(Debug, Clone, Default)]
pub struct CrashSpec {
    /// A saved raw crash to start from (collector fields dropped).
    pub raw_crash: Option<PathBuf>,
    /// Annotation files, merged in order on top.
    pub annotation_files: Vec<PathBuf>,
    /// `KEY=VALUE` pairs, merged last.
    pub pairs: Vec<(String, String)>,
    pub dumps: Vec<DumpArg>,
    /// Keep a `uuid` annotation (only a bearer token makes the collector accept it).
    pub keep_uuid: bool,
}

impl CrashSpec {
    /// The annotations without dumps: raw crash, annotation files, pairs.
    pub fn annotations(&self) -> anyhow::Result<RawCrash> {
        let mut raw = RawCrash::new();
        if let Some(p) = &self.raw_crash {
            raw = read_json_object(p)?;
            strip_collector_fields(&mut raw, self.keep_uuid);
        }
        for p in &self.annotation_files {
            raw.extend(read_json_object(p)?);
        }
        for (k, v) in &self.pairs {
            raw.insert(k.clone(), v.clone().into());
        }
        Ok(raw)
    }

    /// Nothing to send: no raw crash, annotation file, `KEY=VALUE` or dump.
    pub fn is_empty(&self) -> bool {
        self.raw_crash.is_none() && self.annotation_files.is_empty() && self.pairs.is_empty() && self.dumps.is_empty()
    }

    /// Reads every file and builds the crash; an [empty](Self::is_empty) spec is an error
    /// (an empty crash is never what was meant).
    pub fn build(&self) -> anyhow::Result<Outgoing> {
        anyhow::ensure!(
            !self.is_empty(),
            "nothing to send: give --dump FILE, KEY=VALUE annotations, --annotations FILE.json or --raw-crash FILE \
             (or --from-store DIR, --generate N)"
        );
        let annotations = self.annotations()?;
        // two names the collector maps to one dump would lose one of them
        let mut seen = std::collections::HashMap::new();
        for d in &self.dumps {
            let Ok(name) = crate::crash::DumpName::sanitize(&d.field) else { continue };
            if let Some(first) = seen.insert(name.clone(), d.field.clone()) {
                anyhow::bail!(
                    "dumps {first:?} and {:?} would both be stored as {name}: give them different names",
                    d.field
                );
            }
        }
        let dumps = self.dumps.iter().map(DumpArg::read).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Outgoing { annotations, dumps })
    }
}

/// Every crash ID in a store, oldest day first.
pub fn all_ids(store: &dyn CrashStore) -> anyhow::Result<Vec<CrashId>> {
    let mut ids = Vec::new();
    for date in store.list_dates()? {
        ids.extend(store.list_raw(date)?.ids);
    }
    Ok(ids)
}

/// A crash read back from a store, ready to send again: collector fields dropped, `overrides`
/// merged on top, dumps under their real names (the main dump alone when no names were kept).
pub fn load_from_store(
    store: &dyn CrashStore,
    id: &CrashId,
    overrides: &RawCrash,
    keep_uuid: bool,
) -> anyhow::Result<Outgoing> {
    let mut crash = store.get_crash(id).with_context(|| format!("crash {id} in {}", store.describe()))?;
    if crash.dumps.is_empty() {
        let main = crate::crash::DumpName::main();
        if let Ok(bytes) = store.get_dump(id, &main) {
            crash.add_dump(main, crate::crash::DumpData::Bytes(bytes.into()));
        }
    }
    strip_collector_fields(&mut crash.raw, keep_uuid);
    crash.raw.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut dumps = Vec::new();
    for d in &crash.dumps {
        let data = d.data.read().with_context(|| format!("crash {id}: dump {}", d.name))?.into_owned();
        dumps.push(DumpPart { field: d.name.to_string(), filename: format!("{}.dmp", d.name), data: data.into() });
    }
    Ok(Outgoing { annotations: crash.raw, dumps })
}

/// Where one crash to send comes from.
#[derive(Clone)]
pub enum SubmitSource {
    /// Built once (repeats send the same bytes).
    Built(Arc<Outgoing>),
    /// Read from a store when its turn comes.
    Store { store: Arc<dyn CrashStore>, id: CrashId, overrides: Arc<RawCrash>, keep_uuid: bool },
    /// Generated when its turn comes: crash number `index` of a run seeded with `seed`
    /// (the same seed and index give the same crash), `overrides` merged on top.
    Generated { seed: u64, index: u64, now: DateTime<Utc>, overrides: Arc<RawCrash> },
}

/// `n` generated crashes for a run seeded with `seed` (random when `None`), received `now`.
pub fn generated(n: u64, seed: Option<u64>, now: DateTime<Utc>, overrides: RawCrash) -> Vec<SubmitSource> {
    let seed = seed.unwrap_or_else(rand::random);
    let overrides = Arc::new(overrides);
    (0..n).map(|index| SubmitSource::Generated { seed, index, now, overrides: Arc::clone(&overrides) }).collect()
}

/// A generated crash as a client sends it (dumps under their names, `overrides` on top).
pub fn generate_one(seed: u64, index: u64, now: DateTime<Utc>, overrides: &RawCrash) -> Outgoing {
    // One generator per crash (seeds spread by a 64-bit odd constant), so crashes can be made
    // in any order, on any thread, and still be the same for a seed.
    let crash_seed = seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let sub = crate::generate::Generator::new(Some(crash_seed), now).submission();
    let mut annotations = sub.annotations;
    annotations.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let dumps = sub
        .dumps
        .into_iter()
        .map(|(name, data)| DumpPart { field: name.to_string(), filename: format!("{name}.dmp"), data: data.into() })
        .collect();
    Outgoing { annotations, dumps }
}

impl SubmitSource {
    /// A label for output (the crash ID for store crashes).
    pub fn label(&self) -> Option<String> {
        match self {
            SubmitSource::Built(_) => None,
            SubmitSource::Store { id, .. } => Some(id.to_string()),
            SubmitSource::Generated { index, .. } => Some(format!("generated:{index}")),
        }
    }

    /// The crash (blocking: may read files).
    pub fn load(&self) -> anyhow::Result<Arc<Outgoing>> {
        match self {
            SubmitSource::Built(c) => Ok(Arc::clone(c)),
            SubmitSource::Store { store, id, overrides, keep_uuid } => {
                load_from_store(store.as_ref(), id, overrides, *keep_uuid).map(Arc::new)
            }
            SubmitSource::Generated { seed, index, now, overrides } => {
                Ok(Arc::new(generate_one(*seed, *index, *now, overrides)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_args_and_pairs() {
        assert_eq!(DumpArg::parse("a/b.dmp").unwrap(), DumpArg { field: MAIN_DUMP.into(), path: "a/b.dmp".into() });
        let d = DumpArg::parse("../../etc/passwd=x.dmp").unwrap();
        assert_eq!((d.field.as_str(), d.path.to_str().unwrap()), ("../../etc/passwd", "x.dmp"));
        assert!(DumpArg::parse("name=").is_err());
        // issue 12, defects 2 and 3: names the collector refuses
        for bad in ["dump=x.dmp", "d-u-m-p=x.dmp"] {
            assert!(DumpArg::parse(bad).is_err(), "{bad}");
        }
        assert!(DumpArg::parse("v1=x.dmp").is_ok(), "sent as given: the collector refuses it");
        let spec = CrashSpec {
            raw_crash: None,
            annotation_files: Vec::new(),
            pairs: Vec::new(),
            dumps: vec![DumpArg::parse("a-b=x").unwrap(), DumpArg::parse("ab=y").unwrap()],
            keep_uuid: false,
        };
        let e = spec.build().unwrap_err().to_string();
        assert!(e.contains("both be stored as ab"), "{e}");
        assert_eq!(parse_pair("ProductName=Fire=fox"), Some(("ProductName".into(), "Fire=fox".into())));
        assert_eq!(parse_pair("https://x/report/index/abc?x=1"), None);
        assert_eq!(parse_pair("de1bb258-cbbf-4589-a673-34f800160918"), None);
    }

    #[test]
    fn generated_crashes_are_valid_and_reproducible() {
        let now = chrono::Utc::now();
        let mut overrides = RawCrash::new();
        overrides.insert("ProductName".into(), "LoadTest".into());
        let a = generate_one(7, 3, now, &overrides);
        assert_eq!(a, generate_one(7, 3, now, &overrides));
        assert_ne!(a, generate_one(7, 4, now, &overrides));
        assert_eq!(a.annotations["ProductName"], "LoadTest");
        assert_eq!(a.dumps[0].field, MAIN_DUMP);
        assert!(a.dumps[0].data.starts_with(b"MDMP"));
        let all = generated(5, Some(7), now, RawCrash::new());
        assert_eq!(all.len(), 5);
        assert_eq!(all[4].label().as_deref(), Some("generated:4"));
    }

    #[test]
    fn raw_crash_files_lose_collector_fields_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.json");
        std::fs::write(
            &raw,
            r#"{"ProductName":"Firefox","uuid":"x","metadata":{},"version":2,"submitted_timestamp":"t"}"#,
        )
        .unwrap();
        let ann = dir.path().join("a.json");
        std::fs::write(&ann, r#"{"Version":"1","ProductName":"Thunderbird"}"#).unwrap();
        let spec = CrashSpec {
            raw_crash: Some(raw),
            annotation_files: vec![ann],
            pairs: vec![("Version".into(), "2".into())],
            ..CrashSpec::default()
        };
        let a = spec.annotations().unwrap();
        assert_eq!(serde_json::Value::Object(a), serde_json::json!({"ProductName": "Thunderbird", "Version": "2"}));
        let keep = CrashSpec { keep_uuid: true, ..spec };
        assert_eq!(keep.annotations().unwrap()["uuid"], "x");
    }
}
