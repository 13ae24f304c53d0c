//! The local directory store: Socorro's bucket layout under a root directory (`v1/...`), so a
//! local store can be uploaded to a bucket as is; crashstats-tools' `fetch-data` folders (no
//! `v1/` prefix, main dump under its own name, pretty JSON) are detected and used in place.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use std::time::Duration;

use chrono::NaiveDate;

use super::crash_store::{parse_date_key, CrashStore, Listing, Result, StoreError};
use crate::crash::{Crash, CrashId, DumpName, ProcessedCrash, RawCrash};
use crate::fsutil;

/// The directory under the store's root where objects are written before they are renamed
/// into place.
pub const TMP_DIR: &str = ".tmp";

/// Which tree a local store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Socorro's bucket layout: `v1/raw_crash/YYYYMMDD/<id>`, `v1/dump/<id>`, ...
    V1,
    /// crashstats-tools `fetch-data OUTDIR`: `raw_crash/YYYYMMDD/<id>`, `upload_file_minidump/<id>`, ...
    FetchData,
}

/// A crash store in a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    /// `root/v1` or `root`.
    base: PathBuf,
    layout: Layout,
}

/// A directory, and not a symbolic link to one.
fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// A regular file, and not a symbolic link to one.
fn is_real_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { op, path, source }
}

impl FsStore {
    /// Opens the store at `root`, detecting the layout: a `root/raw_crash` folder without a
    /// `root/v1/raw_crash` means a fetch-data folder; anything else (a v1 store, an empty or
    /// new root) gets v1. A folder named `v1` alone does not make a fetch-data folder read as
    /// v1 (it could be a dump's folder: such names are refused now, but older folders exist).
    pub fn open(root: impl Into<PathBuf>, create: bool) -> anyhow::Result<FsStore> {
        let root = root.into();
        if !root.is_dir() {
            if create {
                fs::create_dir_all(&root)
                    .map_err(|e| anyhow::anyhow!("store {}: cannot create directory: {e}", root.display()))?;
            } else if root.exists() {
                anyhow::bail!("store {}: not a directory", root.display());
            } else {
                anyhow::bail!("store {}: no such directory", root.display());
            }
        }
        let layout = if is_real_dir(&root.join("raw_crash")) && !is_real_dir(&root.join("v1").join("raw_crash")) {
            Layout::FetchData
        } else {
            Layout::V1
        };
        Ok(FsStore::with_layout(root, layout))
    }

    pub fn with_layout(root: PathBuf, layout: Layout) -> FsStore {
        let base = match layout {
            Layout::V1 => root.join("v1"),
            Layout::FetchData => root.clone(),
        };
        FsStore { root, base, layout }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn raw_path(&self, id: &CrashId) -> PathBuf {
        self.base.join("raw_crash").join(id.date_key()).join(id.as_str())
    }

    fn dump_names_path(&self, id: &CrashId) -> PathBuf {
        self.base.join("dump_names").join(id.as_str())
    }

    /// The main dump is stored as `dump` in the v1 layout, under its own name in fetch-data.
    fn dump_path(&self, id: &CrashId, name: &DumpName) -> PathBuf {
        let dir = if name.is_main() && self.layout == Layout::V1 { "dump" } else { name.as_str() };
        self.base.join(dir).join(id.as_str())
    }

    fn processed_path(&self, id: &CrashId) -> PathBuf {
        self.base.join("processed_crash").join(id.as_str())
    }

    fn to_json(&self, value: &impl serde::Serialize) -> Vec<u8> {
        let r = match self.layout {
            Layout::V1 => serde_json::to_vec(value),
            Layout::FetchData => serde_json::to_vec_pretty(value),
        };
        r.expect("JSON values always serialize")
    }

    fn read(&self, id: &CrashId, object: &str, path: &Path) -> Result<Vec<u8>> {
        // no symbolic link is followed, nothing but a regular file is read
        match fsutil::read_regular(path, u64::MAX).map_err(io_err("read", path))? {
            Some(b) => Ok(b),
            None => Err(StoreError::NotFound { id: id.clone(), object: object.to_string(), store: self.describe() }),
        }
    }

    /// Where objects are written before the rename that publishes them (outside the layout:
    /// readers and uploads of `v1/` never see it; what a killed writer leaves is found here).
    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        fsutil::write_atomic_via(&self.tmp_dir(), path, bytes, false).map_err(io_err("write", path))
    }

    fn parse_object<T: serde::de::DeserializeOwned>(id: &CrashId, object: &str, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            object: object.to_string(),
            reason: e.to_string(),
        })
    }

    fn list_ids(dir: &Path) -> Result<Listing> {
        let mut listing = Listing::default();
        for name in fsutil::sorted_names(dir).map_err(io_err("list", dir))? {
            if fsutil::is_temp_name(&name) {
                continue;
            }
            match CrashId::parse_lax(&name) {
                Ok(id) => listing.ids.push(id),
                Err(_) => listing.invalid.push(name),
            }
        }
        Ok(listing)
    }

    fn remove(path: &Path) -> Result<()> {
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", path)(e)),
        }
    }
}

impl CrashStore for FsStore {
    fn describe(&self) -> String {
        let layout = match self.layout {
            Layout::V1 => "v1 layout",
            Layout::FetchData => "fetch-data layout",
        };
        format!("{} ({layout})", self.root.display())
    }

    fn put_crash(&self, crash: &Crash) -> Result<()> {
        let id = &crash.id;
        // two dumps stored at one path would lose one: refuse before writing anything
        let mut paths: Vec<PathBuf> = crash.dumps.iter().map(|d| self.dump_path(id, &d.name)).collect();
        paths.sort();
        if let Some(w) = paths.windows(2).find(|w| w[0] == w[1]) {
            return Err(StoreError::Io {
                op: "write",
                path: w[0].display().to_string(),
                source: io::Error::other("two dumps of the crash would be stored here"),
            });
        }
        for dump in &crash.dumps {
            let path = self.dump_path(id, &dump.name);
            match &dump.data {
                crate::crash::DumpData::Bytes(b) => self.write(&path, b)?,
                crate::crash::DumpData::File(src) => {
                    fsutil::copy_atomic_via(&self.tmp_dir(), src, &path, false).map_err(io_err("copy", src))?;
                }
            }
        }
        let mut names = crash.dump_names();
        names.sort();
        self.write(&self.dump_names_path(id), &self.to_json(&names))?;
        self.write(&self.raw_path(id), &self.to_json(&crash.raw))
    }

    fn get_raw_crash(&self, id: &CrashId) -> Result<RawCrash> {
        let bytes = self.read(id, "raw crash", &self.raw_path(id))?;
        Self::parse_object(id, "raw crash", &bytes)
    }

    fn get_dump_names(&self, id: &CrashId) -> Result<Vec<DumpName>> {
        match self.read(id, "dump names", &self.dump_names_path(id)) {
            Ok(bytes) => Self::parse_object(id, "dump names", &bytes),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn get_dump(&self, id: &CrashId, name: &DumpName) -> Result<Vec<u8>> {
        self.read(id, &format!("dump {name}"), &self.dump_path(id, name))
    }

    fn put_processed(&self, id: &CrashId, processed: &ProcessedCrash) -> Result<()> {
        self.write(&self.processed_path(id), &self.to_json(processed))
    }

    fn put_processed_json(&self, id: &CrashId, json: &[u8]) -> Result<()> {
        match self.layout {
            Layout::V1 => self.write(&self.processed_path(id), json),
            Layout::FetchData => self.put_processed(id, &Self::parse_object(id, "processed crash", json)?),
        }
    }

    fn get_processed(&self, id: &CrashId) -> Result<Option<ProcessedCrash>> {
        match self.read(id, "processed crash", &self.processed_path(id)) {
            Ok(bytes) => Self::parse_object(id, "processed crash", &bytes).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn has_raw(&self, id: &CrashId) -> Result<bool> {
        Ok(is_real_file(&self.raw_path(id)))
    }

    fn has_processed(&self, id: &CrashId) -> Result<bool> {
        Ok(is_real_file(&self.processed_path(id)))
    }

    fn list_dates(&self) -> Result<Vec<NaiveDate>> {
        let dir = self.base.join("raw_crash");
        let names = fsutil::sorted_names(&dir).map_err(io_err("list", &dir))?;
        Ok(names.iter().filter_map(|n| parse_date_key(n)).collect())
    }

    fn list_raw(&self, date: NaiveDate) -> Result<Listing> {
        Self::list_ids(&self.base.join("raw_crash").join(date.format("%Y%m%d").to_string()))
    }

    fn list_processed(&self) -> Result<Listing> {
        Self::list_ids(&self.base.join("processed_crash"))
    }

    fn delete_crash(&self, id: &CrashId) -> Result<()> {
        let names = self.get_dump_names(id).unwrap_or_default();
        Self::remove(&self.raw_path(id))?;
        for name in names {
            Self::remove(&self.dump_path(id, &name))?;
        }
        Self::remove(&self.dump_names_path(id))?;
        Self::remove(&self.processed_path(id))
    }

    fn sync(&self) -> Result<()> {
        fsutil::sync_filesystem(&self.root).map_err(io_err("sync", &self.root))
    }

    fn cleanup(&self, tmp_age: Duration) -> Result<usize> {
        let dir = self.tmp_dir();
        fsutil::remove_stale_files(&dir, tmp_age).map_err(io_err("clean up", &dir))
    }

    /// Writes and removes a temporary file in the root (listings skip temporary names).
    fn check_writable(&self) -> Result<()> {
        let probe = fsutil::temp_sibling(&self.root.join("heartbeat"));
        let written = fs::write(&probe, b"ok").map_err(io_err("write", &probe));
        // removed even when the write failed (a full disk), so failing probes do not pile up
        let removed = Self::remove(&probe);
        written.and(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::DumpData;

    fn id() -> CrashId {
        CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160918").unwrap()
    }

    fn crash() -> Crash {
        let mut raw = RawCrash::new();
        raw.insert("ProductName".into(), "Firefox".into());
        raw.insert("BuildID".into(), "20160918000000".into());
        let mut c = Crash::new(id(), raw);
        c.add_dump(DumpName::main(), DumpData::Bytes(bytes::Bytes::from_static(b"MDMP main")));
        c.add_dump(
            DumpName::parse("upload_file_minidump_browser").unwrap(),
            DumpData::Bytes(bytes::Bytes::from_static(b"MDMP b")),
        );
        c
    }

    #[test]
    fn writes_go_through_the_tmp_dir_and_cleanup_removes_only_stale_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), true).unwrap();
        store.put_crash(&crash()).unwrap();
        store.put_processed(&id(), &ProcessedCrash::new()).unwrap();
        let tmp = dir.path().join(TMP_DIR);
        assert!(tmp.is_dir() && fsutil::sorted_names(&tmp).unwrap().is_empty(), "written there, renamed away");
        let beside: Vec<_> = walkdir::WalkDir::new(dir.path().join("v1"))
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| fsutil::is_temp_name(&e.file_name().to_string_lossy()))
            .collect();
        assert!(beside.is_empty(), "no temporary file beside the objects: {beside:?}");
        // what a killed writer left an hour ago goes; a write in progress stays
        let hour = Duration::from_secs(3600);
        fs::write(tmp.join(".tmp.dump.1.0"), b"MDMP half").unwrap();
        fs::write(tmp.join(".tmp.raw.2.0"), b"{").unwrap();
        crate::testutil::set_age(&tmp.join(".tmp.dump.1.0"), 2 * hour);
        assert_eq!(store.cleanup(hour).unwrap(), 1);
        assert_eq!(fsutil::sorted_names(&tmp).unwrap(), vec![".tmp.raw.2.0".to_string()]);
        assert_eq!(store.get_crash(&id()).unwrap(), crash(), "the crash is untouched");
    }

    #[test]
    fn v1_layout_keys_match_socorro() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), false).unwrap();
        assert_eq!(store.layout(), Layout::V1);
        store.put_crash(&crash()).unwrap();
        let r = dir.path();
        let raw = fs::read_to_string(r.join("v1/raw_crash/20160918/de1bb258-cbbf-4589-a673-34f800160918")).unwrap();
        // sorted keys, compact
        assert_eq!(raw, r#"{"BuildID":"20160918000000","ProductName":"Firefox"}"#);
        assert_eq!(fs::read(r.join("v1/dump/de1bb258-cbbf-4589-a673-34f800160918")).unwrap(), b"MDMP main");
        assert_eq!(
            fs::read(r.join("v1/upload_file_minidump_browser/de1bb258-cbbf-4589-a673-34f800160918")).unwrap(),
            b"MDMP b"
        );
        assert_eq!(
            fs::read_to_string(r.join("v1/dump_names/de1bb258-cbbf-4589-a673-34f800160918")).unwrap(),
            r#"["upload_file_minidump","upload_file_minidump_browser"]"#
        );
        // reopening detects v1; the crash reads back whole
        let again = FsStore::open(dir.path(), false).unwrap();
        assert_eq!(again.get_crash(&id()).unwrap(), crash());
        assert!(again.has_raw(&id()).unwrap());
        assert!(!again.has_processed(&id()).unwrap());
        assert_eq!(again.list_dates().unwrap(), vec![id().date()]);
        assert_eq!(again.list_raw(id().date()).unwrap().ids, vec![id()]);
    }

    #[test]
    fn reads_a_fetch_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let i = id();
        fs::create_dir_all(r.join("raw_crash/20160918")).unwrap();
        fs::create_dir_all(r.join("upload_file_minidump")).unwrap();
        fs::create_dir_all(r.join("dump_names")).unwrap();
        fs::write(r.join("raw_crash/20160918").join(i.as_str()), "{\n  \"ProductName\": \"Firefox\"\n}").unwrap();
        fs::write(r.join("upload_file_minidump").join(i.as_str()), b"MDMP").unwrap();
        fs::write(r.join("dump_names").join(i.as_str()), r#"["upload_file_minidump"]"#).unwrap();
        fs::write(r.join("raw_crash/20160918/not-an-id"), "{}").unwrap();
        let store = FsStore::open(r, false).unwrap();
        assert_eq!(store.layout(), Layout::FetchData);
        let c = store.get_crash(&i).unwrap();
        assert_eq!(c.raw["ProductName"], "Firefox");
        assert_eq!(c.dump("upload_file_minidump").unwrap().data, DumpData::Bytes(bytes::Bytes::from_static(b"MDMP")));
        let listing = store.list_raw(i.date()).unwrap();
        assert_eq!(listing.ids, vec![i.clone()]);
        assert_eq!(listing.invalid, vec!["not-an-id".to_string()]);
        // processed crashes are written in the folder's own layout
        let mut p = ProcessedCrash::new();
        p.insert("signature".into(), "foo".into());
        store.put_processed(&i, &p).unwrap();
        assert!(r.join("processed_crash").join(i.as_str()).is_file());
        assert_eq!(store.get_processed(&i).unwrap().unwrap()["signature"], "foo");
    }

    #[test]
    fn a_processed_crash_given_as_json_is_saved_in_the_layout() {
        let json = br#"{"json_dump":{"z":0,"a":1},"signature":"foo"}"#;
        let dir = tempfile::tempdir().unwrap();
        let v1 = FsStore::open(dir.path(), false).unwrap();
        v1.put_processed_json(&id(), json).unwrap();
        // v1: the bytes as they are (compact, as put_processed writes it)
        assert_eq!(fs::read(v1.processed_path(&id())).unwrap(), json);
        assert_eq!(v1.get_processed(&id()).unwrap().unwrap()["json_dump"]["z"], 0);
        let dir = tempfile::tempdir().unwrap();
        let fetch_data = FsStore::with_layout(dir.path().to_path_buf(), Layout::FetchData);
        fetch_data.put_processed_json(&id(), json).unwrap();
        let written = fs::read_to_string(fetch_data.processed_path(&id())).unwrap();
        assert!(written.contains("\n  \"signature\": \"foo\""), "pretty, as the folder's layout: {written}");
        assert_eq!(fetch_data.put_processed_json(&id(), b"[1]").unwrap_err().name(), "corrupt");
    }

    #[test]
    fn missing_and_corrupt_objects_name_the_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), false).unwrap();
        let e = store.get_raw_crash(&id()).unwrap_err();
        assert_eq!(e.name(), "not_found");
        assert!(e.to_string().contains("de1bb258-cbbf-4589-a673-34f800160918"), "{e}");
        fs::create_dir_all(dir.path().join("v1/raw_crash/20160918")).unwrap();
        fs::write(dir.path().join("v1/raw_crash/20160918").join(id().as_str()), "{not json").unwrap();
        let e = store.get_raw_crash(&id()).unwrap_err();
        assert_eq!(e.name(), "corrupt");
        assert!(store.get_processed(&id()).unwrap().is_none());
    }

    /// Issue 12, defect 3: a dump named `v1` in a fetch-data folder made the folder read as
    /// a v1 store, hiding every crash.
    #[test]
    fn a_dump_folder_named_v1_does_not_hide_a_fetch_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let i = id();
        fs::create_dir_all(r.join("raw_crash/20160918")).unwrap();
        fs::create_dir_all(r.join("v1")).unwrap();
        fs::write(r.join("raw_crash/20160918").join(i.as_str()), "{}").unwrap();
        fs::write(r.join("v1").join(i.as_str()), b"a dump named v1").unwrap();
        let store = FsStore::open(r, false).unwrap();
        assert_eq!(store.layout(), Layout::FetchData);
        assert_eq!(store.list_raw(i.date()).unwrap().ids, vec![i.clone()]);
        // a real v1 store (with its raw_crash folder) still reads as v1, even beside a
        // raw_crash folder
        fs::create_dir_all(r.join("v1/raw_crash")).unwrap();
        assert_eq!(FsStore::open(r, false).unwrap().layout(), Layout::V1);
    }

    /// Issue 12, symlinks: a `v1/dump/ID` symbolic link was read as the dump.
    #[test]
    fn symbolic_links_and_non_files_in_the_store_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), false).unwrap();
        store.put_crash(&crash()).unwrap();
        let dump = store.dump_path(&id(), &DumpName::main());
        let secret = dir.path().join("secret");
        fs::write(&secret, b"not yours").unwrap();
        fs::remove_file(&dump).unwrap();
        std::os::unix::fs::symlink(&secret, &dump).unwrap();
        let e = store.get_dump(&id(), &DumpName::main()).unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains(id().as_str()), "{e}");
        assert!(!e.contains("not yours"));
        fs::remove_file(&dump).unwrap();
        fs::create_dir(&dump).unwrap();
        let e = store.get_dump(&id(), &DumpName::main()).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // a raw crash that is a link does not count as stored
        let raw = store.raw_path(&id());
        fs::rename(&raw, &secret).unwrap();
        std::os::unix::fs::symlink(&secret, &raw).unwrap();
        assert!(!store.has_raw(&id()).unwrap());
    }

    #[test]
    fn delete_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), false).unwrap();
        store.put_crash(&crash()).unwrap();
        store.put_processed(&id(), &ProcessedCrash::new()).unwrap();
        store.delete_crash(&id()).unwrap();
        assert!(!store.has_raw(&id()).unwrap());
        assert!(!store.has_processed(&id()).unwrap());
        assert!(store.get_dump(&id(), &DumpName::main()).unwrap_err().is_not_found());
        store.delete_crash(&id()).unwrap();
    }
}
