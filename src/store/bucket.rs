//! What the bucket backends (S3, GCS) share: the [`Bucket`] operations each client provides,
//! the one [`CrashStore`] implementation of Socorro's v1 layout over them
//! (`v1/raw_crash/YYYYMMDD/<id>`, `v1/dump_names/<id>`, `v1/dump/<id>`, `v1/<dump name>/<id>`,
//! `v1/processed_crash/<id>`), the objects a listing returns, and the usage per day they add
//! up to.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::NaiveDate;

use super::crash_store::{parse_date_key, CrashStore, DayUsage, Listing, Result, StoreError};
use crate::crash::{Crash, CrashId, DumpData, DumpName, ProcessedCrash, RawCrash};
use crate::remote::block_on;

/// An object of the store: its key relative to the store (`v1/dump/<id>`) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// What one listing found: objects, and with a delimiter the common prefixes. From
/// [`Bucket::list_keys`] the keys are full (with the store's prefix, common prefixes with
/// their trailing delimiter); from [`list`] they are relative, without the trailing delimiter.
#[derive(Debug, Default)]
pub struct Found {
    pub objects: Vec<Object>,
    pub prefixes: Vec<String>,
}

/// The object operations of a bucket client (S3, GCS) that the v1 layout needs. Keys are full
/// keys in the bucket (the store's prefix included). Every write is confirmed before it
/// returns. Each error names the object's URL ([`Bucket::url`]).
pub trait Bucket: Send + Sync {
    /// The URL scheme: `s3`, `gs`.
    const SCHEME: &'static str;

    /// The bucket's name, and the store's prefix in it (`""` or `prefix/`).
    fn location(&self) -> (&str, &str);

    /// Writes `data` at `key`; Ok once the bucket confirmed it.
    fn put(&self, key: String, data: &DumpData) -> impl Future<Output = Result<()>>;

    /// The object's bytes, or `None` when there is no such key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    fn exists(&self, key: &str) -> Result<bool>;

    fn delete(&self, key: &str) -> Result<()>;

    /// One listing under the full key prefix `prefix`, all pages.
    fn list_keys(&self, prefix: &str, delimiter: Option<&str>) -> Result<Found>;

    /// The key of `rel` (a key relative to the store, like `v1/dump/<id>`).
    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.location().1)
    }

    fn url(&self, key: &str) -> String {
        format!("{}://{}/{key}", Self::SCHEME, self.location().0)
    }
}

/// The bytes of the object at `rel` (a key relative to the store), `None` when missing.
pub(super) fn read_object<B: Bucket>(b: &B, rel: &str) -> Result<Option<Vec<u8>>> {
    b.get(&b.key(rel))
}

/// Every object under `rel` (a prefix relative to the store, like `v1/raw_crash/20261126/`),
/// following pagination.
pub(super) fn objects<B: Bucket>(b: &B, rel: &str) -> Result<Vec<Object>> {
    Ok(list(b, rel, None)?.objects)
}

/// One listing under `rel` (relative to the store), all pages, keys relative to the store.
fn list<B: Bucket>(b: &B, rel: &str, delimiter: Option<&str>) -> Result<Found> {
    let found = b.list_keys(&b.key(rel), delimiter)?;
    let strip = |k: &str| k.strip_prefix(b.location().1).unwrap_or(k).to_string();
    Ok(Found {
        objects: found.objects.into_iter().map(|o| Object { key: strip(&o.key), size: o.size }).collect(),
        prefixes: found.prefixes.iter().map(|p| strip(p.trim_end_matches('/'))).collect(),
    })
}

/// Crash IDs of the objects directly under `rel` (`v1/processed_crash/`).
fn list_ids<B: Bucket>(b: &B, rel: &str) -> Result<Listing> {
    let mut listing = Listing::default();
    for o in list(b, rel, Some("/"))?.objects {
        let name = o.key.rsplit('/').next().unwrap_or_default();
        match CrashId::parse_lax(name) {
            Ok(id) => listing.ids.push(id),
            Err(_) => listing.invalid.push(name.to_string()),
        }
    }
    listing.ids.sort();
    Ok(listing)
}

fn raw_key<B: Bucket>(b: &B, id: &CrashId) -> String {
    b.key(&format!("v1/raw_crash/{}/{id}", id.date_key()))
}

fn dump_names_key<B: Bucket>(b: &B, id: &CrashId) -> String {
    b.key(&format!("v1/dump_names/{id}"))
}

/// The main dump is stored as `dump`, as in Socorro's bucket.
fn dump_key<B: Bucket>(b: &B, id: &CrashId, name: &DumpName) -> String {
    let dir = if name.is_main() { "dump" } else { name.as_str() };
    b.key(&format!("v1/{dir}/{id}"))
}

fn processed_key<B: Bucket>(b: &B, id: &CrashId) -> String {
    b.key(&format!("v1/processed_crash/{id}"))
}

fn read<B: Bucket>(b: &B, id: &CrashId, object: &str, key: &str) -> Result<Vec<u8>> {
    b.get(key)?.ok_or_else(|| StoreError::NotFound { id: id.clone(), object: object.to_string(), store: b.describe() })
}

fn parse_object<T: serde::de::DeserializeOwned>(id: &CrashId, object: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        id: id.clone(),
        object: object.to_string(),
        reason: e.to_string(),
    })
}

fn json(value: &impl serde::Serialize) -> DumpData {
    DumpData::Bytes(serde_json::to_vec(value).expect("JSON values always serialize").into())
}

/// Socorro's v1 layout in any bucket. Every write is confirmed before it returns, so `sync()`
/// has nothing to do.
impl<B: Bucket> CrashStore for B {
    fn describe(&self) -> String {
        let (bucket, prefix) = self.location();
        format!("{}://{bucket}/{}", B::SCHEME, prefix.trim_end_matches('/')).trim_end_matches('/').to_string()
    }

    /// The dumps and the dump names at once, then (all confirmed) the raw crash.
    fn put_crash(&self, crash: &Crash) -> Result<()> {
        let id = &crash.id;
        let mut names = crash.dump_names();
        names.sort();
        block_on(async {
            let dumps = crash.dumps.iter().map(|d| self.put(dump_key(self, id, &d.name), &d.data));
            let names = json(&names);
            let names = self.put(dump_names_key(self, id), &names);
            futures_util::future::try_join(futures_util::future::try_join_all(dumps), names).await?;
            self.put(raw_key(self, id), &json(&crash.raw)).await
        })
    }

    fn get_raw_crash(&self, id: &CrashId) -> Result<RawCrash> {
        let bytes = read(self, id, "raw crash", &raw_key(self, id))?;
        parse_object(id, "raw crash", &bytes)
    }

    fn get_dump_names(&self, id: &CrashId) -> Result<Vec<DumpName>> {
        match self.get(&dump_names_key(self, id))? {
            Some(bytes) => parse_object(id, "dump names", &bytes),
            None => Ok(Vec::new()),
        }
    }

    fn get_dump(&self, id: &CrashId, name: &DumpName) -> Result<Vec<u8>> {
        read(self, id, &format!("dump {name}"), &dump_key(self, id, name))
    }

    fn put_processed(&self, id: &CrashId, processed: &ProcessedCrash) -> Result<()> {
        block_on(self.put(processed_key(self, id), &json(processed)))
    }

    fn put_processed_json(&self, id: &CrashId, json: &[u8]) -> Result<()> {
        block_on(self.put(processed_key(self, id), &DumpData::Bytes(bytes::Bytes::copy_from_slice(json))))
    }

    fn get_processed(&self, id: &CrashId) -> Result<Option<ProcessedCrash>> {
        match self.get(&processed_key(self, id))? {
            Some(bytes) => parse_object(id, "processed crash", &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn has_raw(&self, id: &CrashId) -> Result<bool> {
        self.exists(&raw_key(self, id))
    }

    fn has_processed(&self, id: &CrashId) -> Result<bool> {
        self.exists(&processed_key(self, id))
    }

    fn list_dates(&self) -> Result<Vec<NaiveDate>> {
        let prefixes = list(self, "v1/raw_crash/", Some("/"))?.prefixes;
        let mut dates: Vec<NaiveDate> =
            prefixes.iter().filter_map(|p| parse_date_key(p.rsplit('/').next().unwrap_or_default())).collect();
        dates.sort();
        Ok(dates)
    }

    fn list_raw(&self, date: NaiveDate) -> Result<Listing> {
        list_ids(self, &format!("v1/raw_crash/{}/", date.format("%Y%m%d")))
    }

    fn list_processed(&self) -> Result<Listing> {
        list_ids(self, "v1/processed_crash/")
    }

    fn delete_crash(&self, id: &CrashId) -> Result<()> {
        let names = self.get_dump_names(id).unwrap_or_default();
        self.delete(&raw_key(self, id))?;
        for name in names {
            self.delete(&dump_key(self, id, &name))?;
        }
        self.delete(&dump_names_key(self, id))?;
        self.delete(&processed_key(self, id))
    }

    /// One listing of `v1/`: each object counts for the day of the crash ID that ends its key
    /// (keys that do not end in a crash ID are left out).
    fn usage(&self) -> Result<Option<BTreeMap<NaiveDate, DayUsage>>> {
        Ok(Some(usage_by_day(&objects(self, "v1/")?)))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// Objects and bytes per crash-ID day of a bucket listing: each object counts for the day of
/// the crash ID that ends its key (keys that do not end in a crash ID are left out).
pub(super) fn usage_by_day(objects: &[Object]) -> BTreeMap<NaiveDate, DayUsage> {
    let mut days: BTreeMap<NaiveDate, DayUsage> = BTreeMap::new();
    for o in objects {
        let last = o.key.rsplit('/').next().unwrap_or_default();
        if let Ok(id) = CrashId::parse_lax(last) {
            let day = days.entry(id.date()).or_default();
            day.objects += 1;
            day.bytes += o.size;
        }
    }
    days
}
