//! Rules that read crash annotations: product and version, process type, dates and times.

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;

use super::rule::{annotation, CrashContext, ProcessorRule};

/// `product` (`ProductName`), `version` (`Version`), `major_version` (the number before the
/// first `.`, else 0), `release_channel` (`ReleaseChannel`), `build` (`BuildID`), `productid`
/// (`ProductID`). Missing annotations give empty strings.
pub struct Product;

impl ProcessorRule for Product {
    fn name(&self) -> &'static str {
        "product"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        for (field, key) in [
            ("product", "ProductName"),
            ("version", "Version"),
            ("release_channel", "ReleaseChannel"),
            ("build", "BuildID"),
            ("productid", "ProductID"),
        ] {
            let value = annotation(cx.crash, key).map(|v| v.trim().to_string()).unwrap_or_default();
            cx.processed.insert(field.into(), value.into());
        }
        let major = annotation(cx.crash, "Version").map(|v| major_version(&v)).unwrap_or(0);
        cx.processed.insert("major_version".into(), major.into());
        Ok(())
    }
}

/// `140.0.1` -> 140; anything unparseable -> 0.
pub fn major_version(version: &str) -> u64 {
    version.trim().split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
}

/// `process_type` from `ProcessType`; absent, empty or `main` means `parent`.
pub struct ProcessType;

impl ProcessorRule for ProcessType {
    fn name(&self) -> &'static str {
        "process_type"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let pt = annotation(cx.crash, "ProcessType").map(|s| s.trim().to_string()).unwrap_or_default();
        let pt = if pt.is_empty() || pt == "main" { "parent".to_string() } else { pt };
        cx.processed.insert("process_type".into(), pt.into());
        Ok(())
    }
}

/// `submitted_timestamp` and `date_processed` (the collector's `submitted_timestamp`, else the
/// crash ID's date), `crash_time` (`CrashTime`, else the submission time, in epoch seconds),
/// `client_crash_date`, `uptime` (`crash_time - StartupTime`, at least 0), `install_age`
/// (`crash_time - InstallTime`), `last_crash` (`SecondsSinceLastCrash`).
pub struct Dates;

impl ProcessorRule for Dates {
    fn name(&self) -> &'static str {
        "dates"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let submitted = submitted(cx);
        cx.processed.insert("submitted_timestamp".into(), submitted.to_rfc3339().into());
        cx.processed.insert("date_processed".into(), submitted.to_rfc3339().into());
        let crash_time = match seconds(cx, "CrashTime") {
            Some(t) => t,
            None => {
                cx.notes.push("CrashTime is missing or not a number; crash_time is the submission time".into());
                submitted.timestamp()
            }
        };
        cx.processed.insert("crash_time".into(), crash_time.into());
        if let Some(date) = DateTime::<Utc>::from_timestamp(crash_time, 0) {
            cx.processed.insert("client_crash_date".into(), date.to_rfc3339().into());
        }
        let uptime = seconds(cx, "StartupTime").map(|s| crash_time.saturating_sub(s).max(0)).unwrap_or(0);
        cx.processed.insert("uptime".into(), uptime.into());
        let install_age = seconds(cx, "InstallTime").map(|s| crash_time.saturating_sub(s)).unwrap_or(0);
        cx.processed.insert("install_age".into(), install_age.into());
        if let Some(last) = seconds(cx, "SecondsSinceLastCrash") {
            cx.processed.insert("last_crash".into(), last.into());
        }
        Ok(())
    }
}

fn seconds(cx: &CrashContext<'_>, key: &str) -> Option<i64> {
    annotation(cx.crash, key)?.trim().parse().ok()
}

fn submitted(cx: &mut CrashContext<'_>) -> DateTime<Utc> {
    if let Some(Value::String(s)) = cx.crash.raw.get("submitted_timestamp") {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return t.with_timezone(&Utc);
        }
        cx.notes.push(format!("submitted_timestamp {s:?} is not a date; using the crash ID's date"));
    }
    cx.crash.id.date().and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major_version("140.0.1"), 140);
        assert_eq!(major_version("68.0a1"), 68);
        assert_eq!(major_version("abc"), 0);
        assert_eq!(major_version(""), 0);
    }
}
