//! The S3 store: Socorro's bucket layout (`v1/raw_crash/YYYYMMDD/<id>`, `v1/dump_names/<id>`,
//! `v1/dump/<id>`, `v1/<dump name>/<id>`, `v1/processed_crash/<id>`) in an S3 or
//! S3-compatible bucket (AWS, MinIO, Ceph, GCS interoperability), under an optional prefix:
//! `s3://bucket[/prefix]`. The objects are byte for byte what [`super::FsStore`] writes in its
//! v1 layout, so a local store uploaded as is and a bucket downloaded as is are the same.
//!
//! Every PUT is confirmed by S3 before the call returns, so `sync()` has nothing to do.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use chrono::NaiveDate;

use super::bucket::{usage_by_day, Object};
use super::crash_store::{parse_date_key, CrashStore, DayUsage, Listing, Result, StoreError};
use crate::crash::{Crash, CrashId, DumpData, DumpName, ProcessedCrash, RawCrash};
use crate::remote::{self, block_on, RemoteOptions};

/// A crash store in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// `""` or `prefix/`.
    prefix: String,
    /// Keys per ListObjectsV2 page (`None`: the server's default, 1000 on S3).
    page_size: Option<i32>,
}

/// What one listing found: objects, and with a delimiter the common prefixes (relative,
/// without the trailing delimiter).
#[derive(Debug, Default)]
struct Found {
    objects: Vec<Object>,
    prefixes: Vec<String>,
}

/// `s3://bucket[/prefix]` -> (bucket, prefix without slashes at either end).
pub fn parse_location(location: &str) -> anyhow::Result<(String, String)> {
    let rest = location
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow::anyhow!("store {location}: an S3 location starts with s3://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    if !valid {
        anyhow::bail!(
            "store {location}: {bucket:?} is not a valid bucket name (3-63 of a-z, 0-9, '-', '.', '_'); expected s3://bucket[/prefix]"
        );
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl S3Store {
    /// Opens `s3://bucket[/prefix]`, checking the bucket is there (creating it with
    /// `opts.create`). A missing bucket, bad credentials or an unreachable endpoint is an
    /// error naming the bucket and the endpoint.
    pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<S3Store> {
        let (bucket, prefix) = parse_location(location)?;
        let client = block_on(async {
            let sdk = remote::load_config(opts).await;
            let conf = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(opts.s3_path_style())
                // Checksums only where an operation requires them: S3-compatible servers do not
                // all accept the SDK's default trailing checksums.
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
                .build();
            Client::from_conf(conf)
        });
        let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}/") };
        let store = S3Store { client, bucket, prefix, page_size: None };
        store
            .check_bucket(opts)
            .map_err(|e| anyhow::anyhow!("store {location} at {}: {e}", opts.endpoint_for_messages("S3")))?;
        Ok(store)
    }

    fn check_bucket(&self, opts: &RemoteOptions) -> std::result::Result<(), String> {
        let head = block_on(self.client.head_bucket().bucket(&self.bucket).send());
        match head {
            Ok(_) => Ok(()),
            Err(e) if is_404(&e) && opts.create => self.create_bucket(),
            Err(e) if is_404(&e) => {
                Err(format!("bucket {} does not exist (create it, or rerun with --create-bucket)", self.bucket))
            }
            // Allowed to write but not to list (HeadBucket needs s3:ListBucket), as a collector
            // often is: go on; a real problem shows at the first read or write, naming the key.
            Err(e) if status(&e) == Some(403) && !opts.create => Ok(()),
            Err(e) => Err(format!("cannot reach bucket {}: {}", self.bucket, crate::error::chain(&e))),
        }
    }

    fn create_bucket(&self) -> std::result::Result<(), String> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        let region = self.client.config().region().map(|r| r.to_string()).unwrap_or_default();
        let mut req = self.client.create_bucket().bucket(&self.bucket);
        if !region.is_empty() && region != "us-east-1" {
            let c = BucketLocationConstraint::from(region.as_str());
            req = req.create_bucket_configuration(CreateBucketConfiguration::builder().location_constraint(c).build());
        }
        match block_on(req.send()) {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => Ok(()),
            Err(e) => Err(format!("cannot create bucket {}: {}", self.bucket, crate::error::chain(&e))),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key of `rel` (a key relative to the store, like `v1/dump/<id>`).
    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn raw_key(&self, id: &CrashId) -> String {
        self.key(&format!("v1/raw_crash/{}/{id}", id.date_key()))
    }

    fn dump_names_key(&self, id: &CrashId) -> String {
        self.key(&format!("v1/dump_names/{id}"))
    }

    /// The main dump is stored as `dump`, as in Socorro's bucket.
    fn dump_key(&self, id: &CrashId, name: &DumpName) -> String {
        let dir = if name.is_main() { "dump" } else { name.as_str() };
        self.key(&format!("v1/{dir}/{id}"))
    }

    fn processed_key(&self, id: &CrashId) -> String {
        self.key(&format!("v1/processed_crash/{id}"))
    }

    fn err<E: std::error::Error + 'static>(&self, op: &str, key: &str, e: SdkError<E>) -> StoreError {
        StoreError::Backend(format!("{op} {}: {}", self.url(key), crate::error::chain(&e)))
    }

    /// One PUT; Ok once S3 confirmed it.
    async fn put(&self, key: String, body: ByteStream) -> Result<()> {
        let req = self.client.put_object().bucket(&self.bucket).key(&key).body(body);
        req.send().await.map_err(|e| self.err("write", &key, e))?;
        Ok(())
    }

    async fn put_dump(&self, key: String, data: &DumpData) -> Result<()> {
        let body = match data {
            DumpData::Bytes(b) => ByteStream::from(b.clone()),
            DumpData::File(path) => ByteStream::from_path(path).await.map_err(|e| StoreError::Io {
                op: "read",
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?,
        };
        self.put(key, body).await
    }

    /// The object's bytes, or `None` when there is no such key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        block_on(async {
            let resp = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(r) => r,
                Err(e) if is_missing_key(&e) => return Ok(None),
                Err(e) => return Err(self.err("read", key, e)),
            };
            let body = resp
                .body
                .collect()
                .await
                .map_err(|e| StoreError::Backend(format!("read {}: {}", self.url(key), crate::error::chain(&e))))?;
            Ok(Some(body.into_bytes().to_vec()))
        })
    }

    fn read(&self, id: &CrashId, object: &str, key: &str) -> Result<Vec<u8>> {
        self.get(key)?.ok_or_else(|| StoreError::NotFound {
            id: id.clone(),
            object: object.to_string(),
            store: self.describe(),
        })
    }

    fn exists(&self, key: &str) -> Result<bool> {
        match block_on(self.client.head_object().bucket(&self.bucket).key(key).send()) {
            Ok(_) => Ok(true),
            Err(e) if is_missing_key(&e) => Ok(false),
            Err(e) => Err(self.err("check", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        block_on(self.client.delete_object().bucket(&self.bucket).key(key).send())
            .map_err(|e| self.err("delete", key, e))?;
        Ok(())
    }

    /// The bytes of the object at `rel` (a key relative to the store), `None` when missing.
    pub fn read_object(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        self.get(&self.key(rel))
    }

    /// Every object under `rel` (a prefix relative to the store, like `v1/raw_crash/20261126/`),
    /// following ListObjectsV2 pagination.
    pub fn objects(&self, rel: &str) -> Result<Vec<Object>> {
        Ok(self.list(rel, None)?.objects)
    }

    /// One listing under `rel` (relative to the store), all pages.
    fn list(&self, rel: &str, delimiter: Option<&str>) -> Result<Found> {
        let prefix = self.key(rel);
        let strip = |k: &str| k.strip_prefix(&self.prefix).unwrap_or(k).to_string();
        block_on(async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_delimiter(delimiter.map(str::to_string))
                .set_max_keys(self.page_size)
                .into_paginator()
                .send();
            let mut found = Found::default();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| self.err("list", &prefix, e))?;
                for o in page.contents() {
                    let size = o.size().unwrap_or(0).max(0) as u64;
                    found.objects.push(Object { key: strip(o.key().unwrap_or_default()), size });
                }
                for p in page.common_prefixes() {
                    found.prefixes.push(strip(p.prefix().unwrap_or_default().trim_end_matches('/')));
                }
            }
            Ok(found)
        })
    }

    /// Crash IDs of the objects directly under `rel` (`v1/processed_crash/`).
    fn list_ids(&self, rel: &str) -> Result<Listing> {
        let mut listing = Listing::default();
        for o in self.list(rel, Some("/"))?.objects {
            let name = o.key.rsplit('/').next().unwrap_or_default();
            match CrashId::parse_lax(name) {
                Ok(id) => listing.ids.push(id),
                Err(_) => listing.invalid.push(name.to_string()),
            }
        }
        listing.ids.sort();
        Ok(listing)
    }

    fn parse_object<T: serde::de::DeserializeOwned>(id: &CrashId, object: &str, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            id: id.clone(),
            object: object.to_string(),
            reason: e.to_string(),
        })
    }
}

/// The HTTP status S3 answered with, if it answered.
fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Did S3 answer 404 (no such bucket or key; a HEAD answer has no body to say which)?
fn is_404<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    status(e) == Some(404) || matches!(e.code(), Some("NoSuchKey" | "NoSuchBucket" | "NotFound"))
}

/// A missing key, not a missing bucket (a deleted bucket is an error, not a missing crash).
fn is_missing_key<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    is_404(e) && e.code() != Some("NoSuchBucket")
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values always serialize")
}

impl CrashStore for S3Store {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/')).trim_end_matches('/').to_string()
    }

    /// The dumps and the dump names at once, then (all confirmed) the raw crash.
    fn put_crash(&self, crash: &Crash) -> Result<()> {
        let id = &crash.id;
        let mut names = crash.dump_names();
        names.sort();
        block_on(async {
            let dumps = crash.dumps.iter().map(|d| self.put_dump(self.dump_key(id, &d.name), &d.data));
            let names = self.put(self.dump_names_key(id), ByteStream::from(json(&names)));
            futures_util::future::try_join(futures_util::future::try_join_all(dumps), names).await?;
            self.put(self.raw_key(id), ByteStream::from(json(&crash.raw))).await
        })
    }

    fn get_raw_crash(&self, id: &CrashId) -> Result<RawCrash> {
        let bytes = self.read(id, "raw crash", &self.raw_key(id))?;
        Self::parse_object(id, "raw crash", &bytes)
    }

    fn get_dump_names(&self, id: &CrashId) -> Result<Vec<DumpName>> {
        match self.get(&self.dump_names_key(id))? {
            Some(bytes) => Self::parse_object(id, "dump names", &bytes),
            None => Ok(Vec::new()),
        }
    }

    fn get_dump(&self, id: &CrashId, name: &DumpName) -> Result<Vec<u8>> {
        self.read(id, &format!("dump {name}"), &self.dump_key(id, name))
    }

    fn put_processed(&self, id: &CrashId, processed: &ProcessedCrash) -> Result<()> {
        block_on(self.put(self.processed_key(id), ByteStream::from(json(processed))))
    }

    fn put_processed_json(&self, id: &CrashId, json: &[u8]) -> Result<()> {
        block_on(self.put(self.processed_key(id), ByteStream::from(json.to_vec())))
    }

    fn get_processed(&self, id: &CrashId) -> Result<Option<ProcessedCrash>> {
        match self.get(&self.processed_key(id))? {
            Some(bytes) => Self::parse_object(id, "processed crash", &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn has_raw(&self, id: &CrashId) -> Result<bool> {
        self.exists(&self.raw_key(id))
    }

    fn has_processed(&self, id: &CrashId) -> Result<bool> {
        self.exists(&self.processed_key(id))
    }

    fn list_dates(&self) -> Result<Vec<NaiveDate>> {
        let prefixes = self.list("v1/raw_crash/", Some("/"))?.prefixes;
        let mut dates: Vec<NaiveDate> =
            prefixes.iter().filter_map(|p| parse_date_key(p.rsplit('/').next().unwrap_or_default())).collect();
        dates.sort();
        Ok(dates)
    }

    fn list_raw(&self, date: NaiveDate) -> Result<Listing> {
        self.list_ids(&format!("v1/raw_crash/{}/", date.format("%Y%m%d")))
    }

    fn list_processed(&self) -> Result<Listing> {
        self.list_ids("v1/processed_crash/")
    }

    fn delete_crash(&self, id: &CrashId) -> Result<()> {
        let names = self.get_dump_names(id).unwrap_or_default();
        self.delete(&self.raw_key(id))?;
        for name in names {
            self.delete(&self.dump_key(id, &name))?;
        }
        self.delete(&self.dump_names_key(id))?;
        self.delete(&self.processed_key(id))
    }

    /// One listing of `v1/`: each object counts for the day of the crash ID that ends its key
    /// (keys that do not end in a crash ID are left out).
    fn usage(&self) -> Result<Option<BTreeMap<NaiveDate, DayUsage>>> {
        Ok(Some(usage_by_day(&self.objects("v1/")?)))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// Opens an S3 store as a trait object.
pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<Arc<dyn CrashStore>> {
    Ok(Arc::new(S3Store::open(location, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::Throttle;

    #[test]
    fn listing_follows_pagination() {
        let Some(opts) = remote::test_options() else { return };
        let bucket = format!("crashctl-unit-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut store = S3Store::open(&format!("s3://{bucket}/p"), &opts).unwrap();
        store.page_size = Some(2);
        let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let mut ids: Vec<CrashId> = (0..5).map(|_| CrashId::generate(Throttle::Accept, day)).collect();
        for id in &ids {
            store.put_crash(&Crash::new(id.clone(), RawCrash::new())).unwrap();
            store.put_processed(id, &ProcessedCrash::new()).unwrap();
        }
        let other = CrashId::generate(Throttle::Accept, day.pred_opt().unwrap());
        store.put_crash(&Crash::new(other, RawCrash::new())).unwrap();
        ids.sort();
        assert_eq!(store.list_raw(day).unwrap().ids, ids);
        assert_eq!(store.list_processed().unwrap().ids, ids);
        assert_eq!(store.list_dates().unwrap(), vec![day.pred_opt().unwrap(), day]);
        assert_eq!(store.objects("v1/").unwrap().len(), 5 * 3 + 2);
    }

    #[test]
    fn locations() {
        assert_eq!(parse_location("s3://crashes").unwrap(), ("crashes".into(), "".into()));
        assert_eq!(parse_location("s3://crashes/prod/eu/").unwrap(), ("crashes".into(), "prod/eu".into()));
        assert_eq!(parse_location("s3://gcs_bucket/p").unwrap(), ("gcs_bucket".into(), "p".into()));
        for bad in ["s3://", "s3://UPPER", "s3://a", "s3://x y/p"] {
            let e = parse_location(bad).unwrap_err().to_string();
            assert!(e.contains("not a valid bucket name"), "{bad}: {e}");
        }
    }
}
