//! What the bucket backends (S3, GCS) share: the objects a listing returns, and the usage per
//! day they add up to.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::crash_store::DayUsage;
use crate::crash::CrashId;

/// An object of the store: its key relative to the store (`v1/dump/<id>`) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
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
