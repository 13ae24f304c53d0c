//! Counting a crash store per day: raw crashes, processed crashes, and raw crashes that were
//! never processed (the processor's backlog, or crashes it could not process).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::problem::{Problem, ProblemKind};
use crate::crash::CrashId;
use chrono::NaiveDate;

use crate::store::{CrashStore, DayUsage, Listing, Result};

/// One day of a store (the day of the crash ID).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`
    pub date: String,
    pub raw: u64,
    pub processed: u64,
    pub raw_without_processed: u64,
    /// Every object of the day's crashes and their bytes, where the store can tell (S3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// A store, per day and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub location: String,
    pub raw: u64,
    pub processed: u64,
    pub raw_without_processed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Oldest day first.
    pub days: Vec<DayCount>,
}

/// Counts a store. Entries that are not crash IDs go to `problems`.
pub fn count(store: &dyn CrashStore, problems: &mut Vec<Problem>) -> Result<StoreStats> {
    let location = store.describe();
    let processed = store.list_processed()?;
    report_invalid(&processed, "processed_crash", &location, problems);
    let processed: HashSet<CrashId> = processed.ids.into_iter().collect();
    let mut days: BTreeMap<String, DayCount> = BTreeMap::new();
    for id in &processed {
        day_of(&mut days, id).processed += 1;
    }
    for date in store.list_dates()? {
        let listing = store.list_raw(date)?;
        report_invalid(&listing, &format!("raw_crash/{}", date.format("%Y%m%d")), &location, problems);
        for id in &listing.ids {
            let day = day_of(&mut days, id);
            day.raw += 1;
            if !processed.contains(id) {
                day.raw_without_processed += 1;
            }
        }
    }
    let usage = store.usage()?;
    if let Some(usage) = &usage {
        add_usage(&mut days, usage);
    }
    let days: Vec<DayCount> = days.into_values().collect();
    let total = |f: fn(&DayCount) -> Option<u64>| usage.as_ref().map(|_| days.iter().filter_map(f).sum());
    Ok(StoreStats {
        location,
        raw: days.iter().map(|d| d.raw).sum(),
        processed: days.iter().map(|d| d.processed).sum(),
        raw_without_processed: days.iter().map(|d| d.raw_without_processed).sum(),
        objects: total(|d| d.objects),
        bytes: total(|d| d.bytes),
        days,
    })
}

/// Objects and bytes on every day (0 on a day with counts but no objects).
fn add_usage(days: &mut BTreeMap<String, DayCount>, usage: &BTreeMap<NaiveDate, DayUsage>) {
    for date in usage.keys() {
        let date = date.format("%Y-%m-%d").to_string();
        days.entry(date.clone()).or_insert_with(|| DayCount { date, ..DayCount::default() });
    }
    for day in days.values_mut() {
        let u = NaiveDate::parse_from_str(&day.date, "%Y-%m-%d").ok().and_then(|d| usage.get(&d)).copied();
        let u = u.unwrap_or_default();
        (day.objects, day.bytes) = (Some(u.objects), Some(u.bytes));
    }
}

fn day_of<'a>(days: &'a mut BTreeMap<String, DayCount>, id: &CrashId) -> &'a mut DayCount {
    let date = id.date().format("%Y-%m-%d").to_string();
    days.entry(date.clone()).or_insert_with(|| DayCount { date, ..DayCount::default() })
}

fn report_invalid(listing: &Listing, under: &str, location: &str, problems: &mut Vec<Problem>) {
    for name in &listing.invalid {
        let path = Path::new(under).join(name);
        problems.push(Problem::new(
            ProblemKind::InvalidCrashId,
            &path,
            format!("store {location}: {under}/{name} is not a crash ID"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::{Crash, RawCrash, Throttle};
    use crate::store::FsStore;

    #[test]
    fn counts_per_day_with_raw_without_processed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path(), true).unwrap();
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let ids: Vec<CrashId> = [25, 26, 26].iter().map(|&d| CrashId::generate(Throttle::Accept, day(d))).collect();
        for id in &ids {
            store.put_crash(&Crash::new(id.clone(), RawCrash::new())).unwrap();
        }
        store.put_processed(&ids[1], &Default::default()).unwrap();
        std::fs::write(dir.path().join("v1/raw_crash/20261126/junk"), "x").unwrap();
        let mut problems = Vec::new();
        let s = count(&store, &mut problems).unwrap();
        assert_eq!((s.raw, s.processed, s.raw_without_processed), (3, 1, 2));
        let days: Vec<_> =
            s.days.iter().map(|d| (d.date.as_str(), d.raw, d.processed, d.raw_without_processed)).collect();
        assert_eq!(days, vec![("2026-11-25", 1, 0, 1), ("2026-11-26", 2, 1, 1)]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ProblemKind::InvalidCrashId);
    }
}
