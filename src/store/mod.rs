//! Crash storage: where crashes live for good. One trait, [`CrashStore`], with a local
//! directory backend ([`FsStore`], Socorro's `v1/` bucket layout, and reading crashstats-tools'
//! `fetch-data` layout), an S3 backend ([`S3Store`], the same keys in a bucket) and a GCS backend
//! ([`GcsStore`], the same keys in Google Cloud Storage, as today's Socorro keeps them). Stages
//! see only the trait. It is not small (19 methods, 14 a backend must write): a core that every
//! stage uses, and methods only one stage or tool needs, listed on the trait.

mod bucket;
mod crash_store;
mod fs;
mod gcs;
mod s3;

pub use bucket::Object;
pub use crash_store::{parse_date_key, CrashStore, DayUsage, Listing, Result, StoreError};
pub use fs::{FsStore, Layout};
pub use gcs::GcsStore;
pub use s3::S3Store;

use std::sync::Arc;

/// Opens a store from a location given by the user: a directory path, `file://PATH`,
/// `s3://bucket[/prefix]` (with the S3 settings of the environment: `AWS_ENDPOINT_URL`,
/// `AWS_REGION`, ...) or `gs://bucket[/prefix]` (`STORAGE_EMULATOR_HOST`, else Application
/// Default Credentials). `create` makes a missing directory (for commands that write); a
/// missing bucket is an error.
pub fn open(location: &str, create: bool) -> anyhow::Result<Arc<dyn CrashStore>> {
    open_with(location, create, &crate::remote::RemoteOptions::default())
}

/// [`open`], with explicit settings for a remote store (endpoint, path style, region,
/// `create` for the bucket); they do not matter for a local one.
pub fn open_with(
    location: &str,
    create: bool,
    remote: &crate::remote::RemoteOptions,
) -> anyhow::Result<Arc<dyn CrashStore>> {
    crate::remote::check_scheme("store", location, SCHEMES)?;
    if location.starts_with("s3://") {
        return s3::open(location, remote);
    }
    if location.starts_with("gs://") {
        return gcs::open(location, remote);
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    Ok(Arc::new(FsStore::open(path, create)?))
}

/// The location schemes [`open_with`] knows (a plain path is a local directory too); a
/// location with any other `scheme://` is an error naming these.
pub const SCHEMES: &[&str] = &["file", "s3", "gs"];
