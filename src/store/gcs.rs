//! The GCS store: Socorro's bucket layout (`v1/raw_crash/YYYYMMDD/<id>`, `v1/dump_names/<id>`,
//! `v1/dump/<id>`, `v1/<dump name>/<id>`, `v1/processed_crash/<id>`) in a Google Cloud
//! Storage bucket, under an optional prefix: `gs://bucket[/prefix]`. Today's Socorro and
//! Antenna keep their crashes there. The objects are byte for byte what [`super::FsStore`]
//! writes in its v1 layout (and what [`super::S3Store`] writes), uploaded as `text/plain` as
//! Socorro's and Antenna's `upload_from_string` does.
//!
//! Spoken over the JSON API (the `gcloud-storage` crate), so the same code talks to GCS and
//! to an emulator (`STORAGE_EMULATOR_HOST`, anonymous then). Transient errors (408, 429, 5xx,
//! connection errors) are retried with backoff; every upload is confirmed before the call
//! returns, so `sync()` has nothing to do. This file is the GCS client's [`Bucket`] operations;
//! the layout itself is in [`super::bucket`].

use std::sync::Arc;

use gcloud_storage::client::{Client, ClientConfig};
use gcloud_storage::http::buckets::get::GetBucketRequest;
use gcloud_storage::http::buckets::insert::{InsertBucketParam, InsertBucketRequest};
use gcloud_storage::http::objects::delete::DeleteObjectRequest;
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;
use gcloud_storage::http::objects::list::ListObjectsRequest;
use gcloud_storage::http::objects::upload::{Media, UploadObjectRequest, UploadType};
use gcloud_storage::http::Error as GcsError;

use super::bucket::{self, Bucket, Found, Object};
use super::crash_store::{CrashStore, Result, StoreError};
use crate::crash::DumpData;
use crate::remote::{self, block_on, RemoteOptions};

/// The content type Socorro and Antenna give every object (google-cloud-storage's default for
/// `upload_from_string`), dumps included.
const CONTENT_TYPE: &str = "text/plain";

/// A crash store in a GCS bucket.
#[derive(Clone)]
pub struct GcsStore {
    client: Client,
    bucket: String,
    /// `""` or `prefix/`.
    prefix: String,
    /// Objects per listing page (`None`: the server's default, 1000 on GCS).
    page_size: Option<i32>,
    attempts: u32,
}

impl std::fmt::Debug for GcsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStore").field("bucket", &self.bucket).field("prefix", &self.prefix).finish()
    }
}

/// `gs://bucket[/prefix]` -> (bucket, prefix without slashes at either end).
pub fn parse_location(location: &str) -> anyhow::Result<(String, String)> {
    let rest = location
        .strip_prefix("gs://")
        .ok_or_else(|| anyhow::anyhow!("store {location}: a GCS location starts with gs://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let ends_ok = bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    let valid = (3..=63).contains(&bucket.len())
        && ends_ok
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    if !valid {
        anyhow::bail!(
            "store {location}: {bucket:?} is not a valid bucket name (3-63 of a-z, 0-9, '-', '.', '_', starting and ending with a letter or digit); expected gs://bucket[/prefix]"
        );
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// The HTTP status GCS answered with, if it answered (a JSON error, or one the crate could not
/// parse, as the emulator's empty 404).
fn status(e: &GcsError) -> Option<u16> {
    match e {
        GcsError::Response(r) => Some(r.code),
        GcsError::HttpClient(e) | GcsError::RawResponse(e, _) => e.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// Is a GCS error worth another attempt (408, 429, 5xx, a connection or timeout error)?
fn transient(e: &GcsError) -> bool {
    match (e, status(e)) {
        (_, Some(code)) => matches!(code, 408 | 429 | 500..=599),
        (GcsError::HttpClient(e) | GcsError::RawResponse(e, _), None) => {
            e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
        }
        (GcsError::HttpMiddleware(_), None) => true,
        _ => false,
    }
}

fn is_404(e: &GcsError) -> bool {
    status(e) == Some(404)
}

/// A missing object, not a missing bucket (a deleted bucket is an error, not a missing crash;
/// GCS says which, an emulator's bare 404 does not and counts as a missing object).
fn is_missing_object(e: &GcsError) -> bool {
    match e {
        GcsError::Response(r) => r.code == 404 && !r.message.to_lowercase().contains("bucket"),
        _ => is_404(e),
    }
}

/// The client configuration: anonymous against `STORAGE_EMULATOR_HOST`, else Application
/// Default Credentials; HTTP with the connect and read timeouts of the options.
async fn client_config(opts: &RemoteOptions) -> anyhow::Result<ClientConfig> {
    let http = reqwest013::Client::builder()
        .connect_timeout(remote::CONNECT_TIMEOUT)
        .timeout(opts.read_timeout.unwrap_or(remote::DEFAULT_READ_TIMEOUT))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build an HTTP client: {e}"))?;
    let http = Some(reqwest_middleware::ClientBuilder::new(http).build());
    match remote::gcs_emulator(opts) {
        Some(endpoint) => Ok(ClientConfig { http, storage_endpoint: endpoint, ..ClientConfig::default() }.anonymous()),
        None => {
            let config = ClientConfig { http, ..ClientConfig::default() };
            config.with_auth().await.map_err(|e| remote::no_credentials("STORAGE_EMULATOR_HOST", &e))
        }
    }
}

impl GcsStore {
    /// Opens `gs://bucket[/prefix]`, checking the bucket is there (creating it with
    /// `opts.create`). A missing bucket, missing credentials or an unreachable endpoint is one
    /// error naming the bucket and the endpoint.
    pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<GcsStore> {
        let (bucket, prefix) = parse_location(location)?;
        let endpoint = remote::gcs_emulator(opts).unwrap_or_else(|| "GCS".to_string());
        let client = block_on(async { client_config(opts).await.map(Client::new) })
            .map_err(|e| anyhow::anyhow!("store {location}: {e}"))?;
        let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}/") };
        let attempts = opts.max_attempts.unwrap_or(remote::DEFAULT_MAX_ATTEMPTS).max(1);
        let store = GcsStore { client, bucket, prefix, page_size: None, attempts };
        store.check_bucket(opts).map_err(|e| anyhow::anyhow!("store {location} at {endpoint}: {e}"))?;
        Ok(store)
    }

    /// Runs one request with retries (backoff and jitter) on transient errors.
    async fn retry<T, F, Fut>(&self, f: F) -> std::result::Result<T, GcsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, GcsError>>,
    {
        remote::with_retries(self.attempts, transient, f).await
    }

    fn check_bucket(&self, opts: &RemoteOptions) -> std::result::Result<(), String> {
        let req = GetBucketRequest { bucket: self.bucket.clone(), ..Default::default() };
        match block_on(self.retry(|| self.client.get_bucket(&req))) {
            Ok(_) => Ok(()),
            Err(e) if is_404(&e) && opts.create => self.create_bucket(),
            Err(e) if is_404(&e) => {
                Err(format!("bucket {} does not exist (create it, or rerun with --create-bucket)", self.bucket))
            }
            // Allowed to write objects but not to read the bucket's metadata (a collector often
            // is): go on; a real problem shows at the first read or write, naming the key.
            Err(e) if status(&e) == Some(403) && !opts.create => Ok(()),
            Err(e) => Err(format!("cannot reach bucket {}: {}", self.bucket, crate::error::chain(&e))),
        }
    }

    fn create_bucket(&self) -> std::result::Result<(), String> {
        let project = std::env::var("STORAGE_PROJECT_ID")
            .or_else(|_| std::env::var("GOOGLE_CLOUD_PROJECT"))
            .unwrap_or_else(|_| "test".to_string());
        let req = InsertBucketRequest {
            name: self.bucket.clone(),
            param: InsertBucketParam { project, ..Default::default() },
            ..Default::default()
        };
        match block_on(self.retry(|| self.client.insert_bucket(&req))) {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(409) => Ok(()), // made meanwhile
            Err(e) => Err(format!("cannot create bucket {}: {}", self.bucket, crate::error::chain(&e))),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn err(&self, op: &str, key: &str, e: GcsError) -> StoreError {
        StoreError::Backend(format!("{op} {}: {}", self.url(key), crate::error::chain(&e)))
    }

    /// The bytes of the object at `rel` (a key relative to the store), `None` when missing.
    pub fn read_object(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        bucket::read_object(self, rel)
    }

    /// Every object under `rel` (a prefix relative to the store), following pagination.
    pub fn objects(&self, rel: &str) -> Result<Vec<Object>> {
        bucket::objects(self, rel)
    }
}

impl Bucket for GcsStore {
    const SCHEME: &'static str = "gs";

    fn location(&self) -> (&str, &str) {
        (&self.bucket, &self.prefix)
    }

    /// One upload; Ok once GCS confirmed it.
    async fn put(&self, key: String, data: &DumpData) -> Result<()> {
        let body: bytes::Bytes = match data {
            DumpData::Bytes(b) => b.clone(),
            DumpData::File(path) => tokio::fs::read(path)
                .await
                .map_err(|source| StoreError::Io { op: "read", path: path.display().to_string(), source })?
                .into(),
        };
        let req = UploadObjectRequest { bucket: self.bucket.clone(), ..Default::default() };
        let mut media = Media::new(key.clone());
        media.content_type = CONTENT_TYPE.into();
        let kind = UploadType::Simple(media);
        self.retry(|| self.client.upload_object(&req, body.clone(), &kind))
            .await
            .map_err(|e| self.err("write", &key, e))?;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let req = GetObjectRequest { bucket: self.bucket.clone(), object: key.to_string(), ..Default::default() };
        let all = Range::default();
        match block_on(self.retry(|| self.client.download_object(&req, &all))) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if is_missing_object(&e) => Ok(None),
            Err(e) => Err(self.err("read", key, e)),
        }
    }

    fn exists(&self, key: &str) -> Result<bool> {
        let req = GetObjectRequest { bucket: self.bucket.clone(), object: key.to_string(), ..Default::default() };
        match block_on(self.retry(|| self.client.get_object(&req))) {
            Ok(_) => Ok(true),
            Err(e) if is_missing_object(&e) => Ok(false),
            Err(e) => Err(self.err("check", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let req = DeleteObjectRequest { bucket: self.bucket.clone(), object: key.to_string(), ..Default::default() };
        match block_on(self.retry(|| self.client.delete_object(&req))) {
            Ok(()) => Ok(()),
            Err(e) if is_missing_object(&e) => Ok(()),
            Err(e) => Err(self.err("delete", key, e)),
        }
    }

    fn list_keys(&self, prefix: &str, delimiter: Option<&str>) -> Result<Found> {
        block_on(async {
            let mut found = Found::default();
            let mut page_token = None;
            loop {
                let req = ListObjectsRequest {
                    bucket: self.bucket.clone(),
                    prefix: Some(prefix.to_string()),
                    delimiter: delimiter.map(str::to_string),
                    max_results: self.page_size,
                    page_token: page_token.take(),
                    ..Default::default()
                };
                let page =
                    self.retry(|| self.client.list_objects(&req)).await.map_err(|e| self.err("list", prefix, e))?;
                for o in page.items.unwrap_or_default() {
                    found.objects.push(Object { key: o.name, size: o.size.max(0) as u64 });
                }
                found.prefixes.extend(page.prefixes.unwrap_or_default());
                match page.next_page_token {
                    Some(t) if !t.is_empty() => page_token = Some(t),
                    _ => return Ok(found),
                }
            }
        })
    }
}

/// Opens a GCS store as a trait object.
pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<Arc<dyn CrashStore>> {
    Ok(Arc::new(GcsStore::open(location, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{Crash, CrashId, ProcessedCrash, RawCrash, Throttle};
    use chrono::NaiveDate;

    #[test]
    fn locations() {
        assert_eq!(parse_location("gs://crashes").unwrap(), ("crashes".into(), "".into()));
        assert_eq!(parse_location("gs://crashes/prod/eu/").unwrap(), ("crashes".into(), "prod/eu".into()));
        for bad in ["gs://", "gs://UPPER", "gs://a", "gs://x y/p", "gs://-dash", "s3://crashes"] {
            assert!(parse_location(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listing_follows_pagination() {
        let Some(opts) = remote::gcp_test_options() else { return };
        let bucket = format!("crashctl-unit-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut store = GcsStore::open(&format!("gs://{bucket}/p"), &opts).unwrap();
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
}
