//! The S3 store: Socorro's bucket layout (`v1/raw_crash/YYYYMMDD/<id>`, `v1/dump_names/<id>`,
//! `v1/dump/<id>`, `v1/<dump name>/<id>`, `v1/processed_crash/<id>`) in an S3 or
//! S3-compatible bucket (AWS, MinIO, Ceph, GCS interoperability), under an optional prefix:
//! `s3://bucket[/prefix]`. The objects are byte for byte what [`super::FsStore`] writes in its
//! v1 layout, so a local store uploaded as is and a bucket downloaded as is are the same.
//!
//! Every PUT is confirmed by S3 before the call returns, so `sync()` has nothing to do. This file
//! is the S3 client's [`Bucket`] operations; the layout itself is in [`super::bucket`].

use std::sync::Arc;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::bucket::{self, Bucket, Found, Object};
use super::crash_store::{CrashStore, Result, StoreError};
use crate::crash::DumpData;
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

    fn err<E: std::error::Error + 'static>(&self, op: &str, key: &str, e: SdkError<E>) -> StoreError {
        StoreError::Backend(format!("{op} {}: {}", self.url(key), crate::error::chain(&e)))
    }

    /// The bytes of the object at `rel` (a key relative to the store), `None` when missing.
    pub fn read_object(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        bucket::read_object(self, rel)
    }

    /// Every object under `rel` (a prefix relative to the store, like `v1/raw_crash/20261126/`),
    /// following ListObjectsV2 pagination.
    pub fn objects(&self, rel: &str) -> Result<Vec<Object>> {
        bucket::objects(self, rel)
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

impl Bucket for S3Store {
    const SCHEME: &'static str = "s3";

    fn location(&self) -> (&str, &str) {
        (&self.bucket, &self.prefix)
    }

    /// One PUT; Ok once S3 confirmed it.
    async fn put(&self, key: String, data: &DumpData) -> Result<()> {
        let body = match data {
            DumpData::Bytes(b) => ByteStream::from(b.clone()),
            DumpData::File(path) => ByteStream::from_path(path).await.map_err(|e| StoreError::Io {
                op: "read",
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            })?,
        };
        let req = self.client.put_object().bucket(&self.bucket).key(&key).body(body);
        req.send().await.map_err(|e| self.err("write", &key, e))?;
        Ok(())
    }

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

    fn list_keys(&self, prefix: &str, delimiter: Option<&str>) -> Result<Found> {
        block_on(async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_string))
                .set_max_keys(self.page_size)
                .into_paginator()
                .send();
            let mut found = Found::default();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| self.err("list", prefix, e))?;
                for o in page.contents() {
                    let size = o.size().unwrap_or(0).max(0) as u64;
                    found.objects.push(Object { key: o.key().unwrap_or_default().to_string(), size });
                }
                for p in page.common_prefixes() {
                    found.prefixes.push(p.prefix().unwrap_or_default().to_string());
                }
            }
            Ok(found)
        })
    }
}

/// Opens an S3 store as a trait object.
pub fn open(location: &str, opts: &RemoteOptions) -> anyhow::Result<Arc<dyn CrashStore>> {
    Ok(Arc::new(S3Store::open(location, opts)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{Crash, CrashId, ProcessedCrash, RawCrash, Throttle};
    use chrono::NaiveDate;

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
