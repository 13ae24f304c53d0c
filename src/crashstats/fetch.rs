//! Downloading crashes from Crash Stats into a store: raw crash (`RawCrash?format=meta`), its
//! dumps (`RawCrash?format=raw&name=...`) and the processed crash (`ProcessedCrash`), many
//! crashes at once and each crash's requests overlapping. Into any [`CrashStore`] (Socorro's
//! v1 layout, as its `fetch_crash_data` writes it, so `process --store` reads it at once), or
//! into a folder laid out byte for byte as crashstats-tools' `fetch-data` writes it.
//! A crash that cannot be fetched whole is reported with why, and the run goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::format::python_json_sorted_ascii;
use super::{Session, PROCESSED_CRASH_PATH, RAW_CRASH_PATH};
use crate::api::GetError;
use crate::crash::{Crash, CrashId, DumpData, DumpName, RawCrash};
use crate::fsutil;
use crate::progress::Progress;
use crate::store::CrashStore;

/// What to fetch of each crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    pub raw: bool,
    pub dumps: bool,
    pub processed: bool,
    /// Fetch again what is already there (else it is skipped, so a rerun resumes).
    pub overwrite: bool,
    /// Crashes in flight at once.
    pub concurrency: usize,
}

/// Where fetched crashes go.
#[derive(Clone)]
pub enum Target {
    /// Any crash store (local v1 layout, s3://, ...).
    Store(Arc<dyn CrashStore>),
    /// crashstats-tools' `fetch-data OUTPUTDIR` folders, byte for byte.
    FetchData(FetchDataDir),
}

/// One problem with one crash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// `raw crash`, `dump upload_file_minidump`, `processed crash`.
    pub object: String,
    /// A stable name: `not_found`, `forbidden`, `gave_up`, `invalid_dump_name`, `store_error`...
    pub kind: String,
    pub message: String,
}

/// What happened to one crash.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CrashOutcome {
    pub id: String,
    pub fetched: Vec<String>,
    /// Already there (and not `--overwrite`).
    pub skipped: Vec<String>,
    pub problems: Vec<Problem>,
}

impl CrashOutcome {
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The whole run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchReport {
    pub crashes: Vec<CrashOutcome>,
    /// Crashes not started because the run was stopped.
    pub not_started: usize,
}

impl FetchReport {
    pub fn incomplete(&self) -> usize {
        self.crashes.iter().filter(|c| !c.complete()).count()
    }
}

/// Fetches `ids` into `target`; `on_done` hears about each crash as it finishes.
pub async fn fetch(
    session: &Session,
    target: &Target,
    ids: &[CrashId],
    opts: &FetchOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
    on_done: &(dyn Fn(&CrashOutcome) + Sync),
) -> FetchReport {
    progress.set_total(ids.len() as u64);
    let mut report = FetchReport::default();
    let mut results = stream::iter(ids.iter().cloned())
        .map(|id| async move {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            Some(fetch_one(session, target, &id, opts).await)
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(outcome) = results.next().await {
        match outcome {
            Some(o) => {
                progress.inc(1);
                on_done(&o);
                report.crashes.push(o);
            }
            None => report.not_started += 1,
        }
    }
    progress.finish();
    report
}

fn problem(object: &str, err: &GetError, id: &CrashId) -> Problem {
    let message = match err {
        GetError::NotFound { .. } => format!("crash {id}: no {object} on the server (HTTP 404)"),
        GetError::Forbidden { message, .. } if object.starts_with("dump") => format!(
            "crash {id}: {object}: HTTP 403: {message} (the API token needs the \"View Raw Dumps\" permission, crashstats.view_rawdump)"
        ),
        GetError::Forbidden { message, .. } => {
            format!("crash {id}: {object}: HTTP 403: {message} (check the API token and its permissions)")
        }
        other => format!("crash {id}: {object}: {other}"),
    };
    Problem { object: object.to_string(), kind: err.name().to_string(), message }
}

fn store_problem(object: &str, id: &CrashId, err: impl std::fmt::Display) -> Problem {
    Problem { object: object.to_string(), kind: "store_error".into(), message: format!("crash {id}: {object}: {err}") }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("store task panicked")
}

async fn fetch_one(session: &Session, target: &Target, id: &CrashId, opts: &FetchOptions) -> CrashOutcome {
    let mut out = CrashOutcome { id: id.to_string(), ..CrashOutcome::default() };
    let raw_part = async {
        let mut part = CrashOutcome::default();
        if opts.raw {
            fetch_raw_and_dumps(session, target, id, opts, &mut part).await;
        }
        part
    };
    let processed_part = async {
        let mut part = CrashOutcome::default();
        if opts.processed {
            fetch_processed(session, target, id, opts, &mut part).await;
        }
        part
    };
    let (a, b) = tokio::join!(raw_part, processed_part);
    for part in [a, b] {
        out.fetched.extend(part.fetched);
        out.skipped.extend(part.skipped);
        out.problems.extend(part.problems);
    }
    out
}

/// The raw crash, fetched or read back from the target when already there.
async fn raw_crash(
    session: &Session,
    target: &Target,
    id: &CrashId,
    opts: &FetchOptions,
    out: &mut CrashOutcome,
) -> Option<(Vec<u8>, bool)> {
    if !opts.overwrite {
        let (t, i) = (target.clone(), id.clone());
        match blocking(move || t.existing_raw(&i)).await {
            Ok(Some(bytes)) => {
                out.skipped.push("raw crash".into());
                return Some((bytes, false));
            }
            Ok(None) => {}
            Err(e) => {
                out.problems.push(store_problem("raw crash", id, e));
                return None;
            }
        }
    }
    let query = [("crash_id".to_string(), id.to_string()), ("format".to_string(), "meta".to_string())];
    match session.get_bytes(RAW_CRASH_PATH, &query).await {
        Ok(b) => Some((b.to_vec(), true)),
        Err(e) => {
            out.problems.push(problem("raw crash", &e, id));
            None
        }
    }
}

async fn fetch_raw_and_dumps(
    session: &Session,
    target: &Target,
    id: &CrashId,
    opts: &FetchOptions,
    out: &mut CrashOutcome,
) {
    let Some((raw_bytes, fresh)) = raw_crash(session, target, id, opts, out).await else { return };
    let raw: RawCrash = match serde_json::from_slice(&raw_bytes) {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(Problem {
                object: "raw crash".into(),
                kind: "corrupt".into(),
                message: format!("crash {id}: the raw crash is not a JSON object: {e}"),
            });
            return;
        }
    };
    let mut dumps: Vec<(DumpName, Vec<u8>)> = Vec::new();
    let mut names: Vec<DumpName> = Vec::new();
    if opts.dumps {
        for name in dump_checksum_names(&raw_bytes) {
            match DumpName::parse(&name) {
                Ok(n) => names.push(n),
                Err(e) => out.problems.push(Problem {
                    object: format!("dump {name:?}"),
                    kind: "invalid_dump_name".into(),
                    message: format!("crash {id}: {e}; not fetched"),
                }),
            }
        }
        let (t, i, n) = (target.clone(), id.clone(), names.clone());
        let present = if opts.overwrite { Ok(Vec::new()) } else { blocking(move || t.existing_dumps(&i, &n)).await };
        let present = match present {
            Ok(p) => p,
            Err(e) => {
                out.problems.push(store_problem("dumps", id, e));
                return;
            }
        };
        let wanted: Vec<&DumpName> = names.iter().filter(|n| !present.contains(n)).collect();
        for n in &present {
            out.skipped.push(format!("dump {n}"));
        }
        let fetches = wanted.iter().map(|name| async move {
            let request_name = if name.is_main() { "dump" } else { name.as_str() };
            let query = [
                ("crash_id".to_string(), id.to_string()),
                ("format".to_string(), "raw".to_string()),
                ("name".to_string(), request_name.to_string()),
            ];
            (*name, session.get_bytes(RAW_CRASH_PATH, &query).await)
        });
        for (name, result) in futures_util::future::join_all(fetches).await {
            match result {
                Ok(b) => dumps.push((name.clone(), b.to_vec())),
                Err(e) => out.problems.push(problem(&format!("dump {name}"), &e, id)),
            }
        }
    }
    if !fresh && dumps.is_empty() {
        return;
    }
    let fetched: Vec<String> = (if fresh { vec!["raw crash".to_string()] } else { vec![] })
        .into_iter()
        .chain(dumps.iter().map(|(n, _)| format!("dump {n}")))
        .collect();
    let (t, i) = (target.clone(), id.clone());
    let write_names = opts.dumps.then_some(names);
    match blocking(move || t.write_raw(&i, &raw, &raw_bytes, write_names.as_deref(), dumps)).await {
        Ok(()) => out.fetched.extend(fetched),
        Err(e) => out.problems.push(store_problem("raw crash", id, e)),
    }
}

async fn fetch_processed(
    session: &Session,
    target: &Target,
    id: &CrashId,
    opts: &FetchOptions,
    out: &mut CrashOutcome,
) {
    if !opts.overwrite {
        let (t, i) = (target.clone(), id.clone());
        match blocking(move || t.has_processed(&i)).await {
            Ok(true) => {
                out.skipped.push("processed crash".into());
                return;
            }
            Ok(false) => {}
            Err(e) => {
                out.problems.push(store_problem("processed crash", id, e));
                return;
            }
        }
    }
    let query = [("crash_id".to_string(), id.to_string())];
    let bytes = match session.get_bytes(PROCESSED_CRASH_PATH, &query).await {
        Ok(b) => b,
        Err(e) => {
            out.problems.push(problem("processed crash", &e, id));
            return;
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            out.problems.push(Problem {
                object: "processed crash".into(),
                kind: "corrupt".into(),
                message: format!("crash {id}: the processed crash is not a JSON object"),
            });
            return;
        }
    };
    let (t, i) = (target.clone(), id.clone());
    match blocking(move || t.write_processed(&i, &value)).await {
        Ok(()) => out.fetched.push("processed crash".into()),
        Err(e) => out.problems.push(store_problem("processed crash", id, e)),
    }
}

/// The keys of `metadata.dump_checksums` in the order the server sent them (that order is
/// what crashstats-tools writes to `dump_names`).
pub fn dump_checksum_names(raw_json: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        metadata: Option<Meta>,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        dump_checksums: Option<Keys>,
    }
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Raw>(raw_json)
        .ok()
        .and_then(|r| r.metadata)
        .and_then(|m| m.dump_checksums)
        .map(|k| k.0)
        .unwrap_or_default()
}

impl Target {
    /// The raw crash's bytes when already there.
    fn existing_raw(&self, id: &CrashId) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Target::Store(s) => match s.get_raw_crash(id) {
                Ok(raw) => Ok(Some(serde_json::to_vec(&raw)?)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e.into()),
            },
            Target::FetchData(d) => Ok(fsutil::read_optional(&d.raw_path(id))?),
        }
    }

    /// Which of `names` are already there.
    fn existing_dumps(&self, id: &CrashId, names: &[DumpName]) -> anyhow::Result<Vec<DumpName>> {
        match self {
            Target::Store(s) => {
                let recorded = s.get_dump_names(id)?;
                Ok(names.iter().filter(|n| recorded.contains(n)).cloned().collect())
            }
            Target::FetchData(d) => Ok(names.iter().filter(|n| d.dump_path(id, n).is_file()).cloned().collect()),
        }
    }

    fn has_processed(&self, id: &CrashId) -> anyhow::Result<bool> {
        match self {
            Target::Store(s) => Ok(s.has_processed(id)?),
            Target::FetchData(d) => Ok(d.processed_path(id).is_file()),
        }
    }

    /// Saves the raw crash and the dumps fetched. `names`: every dump name of the crash (when
    /// dumps were asked for).
    fn write_raw(
        &self,
        id: &CrashId,
        raw: &RawCrash,
        raw_bytes: &[u8],
        names: Option<&[DumpName]>,
        dumps: Vec<(DumpName, Vec<u8>)>,
    ) -> anyhow::Result<()> {
        match self {
            Target::Store(s) => {
                let mut crash = Crash::new(id.clone(), raw.clone());
                // dumps already in the store stay part of the crash
                for name in names.unwrap_or_default() {
                    if !dumps.iter().any(|(n, _)| n == name) {
                        if let Ok(bytes) = s.get_dump(id, name) {
                            crash.add_dump(name.clone(), DumpData::Bytes(bytes.into()));
                        }
                    }
                }
                for (name, bytes) in dumps {
                    crash.add_dump(name, DumpData::Bytes(bytes.into()));
                }
                Ok(s.put_crash(&crash)?)
            }
            Target::FetchData(d) => d.write_raw(id, raw_bytes, names, dumps),
        }
    }

    fn write_processed(&self, id: &CrashId, processed: &Value) -> anyhow::Result<()> {
        match self {
            Target::Store(s) => Ok(s.put_processed_json(id, &serde_json::to_vec(processed)?)?),
            Target::FetchData(d) => d.write(&d.processed_path(id), python_json_sorted_ascii(processed).as_bytes()),
        }
    }
}

/// crashstats-tools' `fetch-data` folder: `raw_crash/20YYMMDD/ID`, `dump_names/ID`,
/// `<dump name>/ID`, `processed_crash/ID` (no `v1/`; the main dump under its own name).
#[derive(Debug, Clone)]
pub struct FetchDataDir {
    root: PathBuf,
}

impl FetchDataDir {
    /// A folder that exists or can be made (an existing file is an error).
    pub fn open(root: &Path) -> anyhow::Result<FetchDataDir> {
        if root.exists() && !root.is_dir() {
            anyhow::bail!("{} is not a directory", root.display());
        }
        std::fs::create_dir_all(root)
            .map_err(|e| anyhow::anyhow!("{}: cannot create directory: {e}", root.display()))?;
        Ok(FetchDataDir { root: root.to_path_buf() })
    }

    pub fn raw_path(&self, id: &CrashId) -> PathBuf {
        self.root.join("raw_crash").join(id.date_key()).join(id.as_str())
    }

    pub fn dump_path(&self, id: &CrashId, name: &DumpName) -> PathBuf {
        self.root.join(name.as_str()).join(id.as_str())
    }

    pub fn dump_names_path(&self, id: &CrashId) -> PathBuf {
        self.root.join("dump_names").join(id.as_str())
    }

    pub fn processed_path(&self, id: &CrashId) -> PathBuf {
        self.root.join("processed_crash").join(id.as_str())
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        fsutil::write_atomic(path, bytes, false).map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))
    }

    fn write_raw(
        &self,
        id: &CrashId,
        raw_bytes: &[u8],
        names: Option<&[DumpName]>,
        dumps: Vec<(DumpName, Vec<u8>)>,
    ) -> anyhow::Result<()> {
        let raw: Value = serde_json::from_slice(raw_bytes)?;
        self.write(&self.raw_path(id), python_json_sorted_ascii(&raw).as_bytes())?;
        if let Some(names) = names {
            // json.dump(list(names), fp): one line, ", " between items
            let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            self.write(&self.dump_names_path(id), format!("[{}]", list.join(", ")).as_bytes())?;
        }
        for (name, bytes) in dumps {
            self.write(&self.dump_path(id, &name), &bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_names_keep_the_servers_order() {
        let raw = br#"{"metadata": {"dump_checksums": {"upload_file_minidump_content": "a", "upload_file_minidump": "b"}}, "z": 1}"#;
        assert_eq!(dump_checksum_names(raw), vec!["upload_file_minidump_content", "upload_file_minidump"]);
        assert!(dump_checksum_names(b"{}").is_empty());
        assert!(dump_checksum_names(b"[1]").is_empty());
    }

    #[test]
    fn fetch_data_files_are_written_as_crashstats_tools_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = FetchDataDir::open(dir.path()).unwrap();
        let id = CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160918").unwrap();
        let names = [DumpName::main(), DumpName::parse("memory_report").unwrap()];
        d.write_raw(&id, br#"{"b": "\u00e9", "a": 1}"#, Some(&names), vec![(DumpName::main(), b"MDMP".to_vec())])
            .unwrap();
        let r = dir.path();
        assert_eq!(
            std::fs::read_to_string(r.join("raw_crash/20160918").join(id.as_str())).unwrap(),
            "{\n  \"a\": 1,\n  \"b\": \"\\u00e9\"\n}"
        );
        assert_eq!(
            std::fs::read_to_string(r.join("dump_names").join(id.as_str())).unwrap(),
            "[\"upload_file_minidump\", \"memory_report\"]"
        );
        assert_eq!(std::fs::read(r.join("upload_file_minidump").join(id.as_str())).unwrap(), b"MDMP");
        std::fs::write(r.join("file"), "x").unwrap();
        assert!(FetchDataDir::open(&r.join("file")).unwrap_err().to_string().contains("is not a directory"));
    }
}
