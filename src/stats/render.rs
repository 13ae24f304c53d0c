//! How [`Stats`] shows itself: a table for people (with a per-hour histogram and loud hot
//! spots), JSON for scripts, and Prometheus text exposition for a node-exporter textfile.

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::{QueueStats, Rates, Stats};
use super::spool::SpoolStats;
use super::store::{DayCount, StoreStats};
use super::time::format_time;

/// Histogram bar width in characters.
const BAR_WIDTH: usize = 40;
/// With more hours than this the histogram shows days.
const MAX_HOUR_ROWS: usize = 48;

impl Stats {
    /// Pretty JSON (one document).
    pub fn print_json(&self, w: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self)?;
        writeln!(w)
    }

    /// One line of JSON (for `--watch`: JSON Lines).
    pub fn print_json_line(&self, w: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, self)?;
        writeln!(w)
    }

    /// A table for people; `color` makes hot spots red.
    pub fn print_table(&self, w: &mut impl Write, color: bool) -> io::Result<()> {
        let paint = Paint(color);
        for p in self.unavailable() {
            writeln!(w, "{}", paint.alarm(&format!("!!! UNAVAILABLE {}", p.message)))?;
        }
        if let Some(s) = &self.spool {
            s.print_table(w, paint)?;
        }
        if let Some(q) = &self.queue {
            q.print_table(w)?;
        }
        if let Some(s) = &self.store {
            s.print_table(w)?;
        }
        if let Some(r) = &self.rates {
            r.print_table(w)?;
        }
        if self.problems_total > 0 {
            writeln!(w, "Problems: {} (listed on stderr and in --format json)", thousands(self.problems_total))?;
        }
        Ok(())
    }

    /// Prometheus text exposition format (for node-exporter's textfile collector).
    pub fn print_prometheus(&self, w: &mut impl Write) -> io::Result<()> {
        let mut p = Prom { w };
        p.gauge(
            "crashctl_scan_timestamp_seconds",
            "When the scan started (Unix time).",
            &[(vec![], self.scanned_at.timestamp_millis() as f64 / 1000.0)],
        )?;
        p.gauge("crashctl_scan_duration_seconds", "How long the scan took.", &[(vec![], self.scan_seconds)])?;
        if let Some(s) = &self.spool {
            s.print_prometheus(&mut p)?;
        }
        if let Some(q) = &self.queue {
            let mut samples = Vec::new();
            let mut ages = Vec::new();
            for d in &q.queues {
                for (state, n) in d.counts() {
                    // NaN: the backend cannot count (Pub/Sub on the emulator), never a wrong 0
                    let n = n.map_or(f64::NAN, |n| n as f64);
                    samples.push((vec![("queue", d.queue.clone()), ("state", state.to_string())], n));
                }
                if let Some(age) = d.oldest_unacked_secs {
                    ages.push((vec![("queue", d.queue.clone())], age as f64));
                }
            }
            p.gauge(
                "crashctl_queue_messages",
                "Messages per queue and state (claimed_expired is part of claimed).",
                &samples,
            )?;
            if !ages.is_empty() {
                p.gauge(
                    "crashctl_queue_oldest_unacked_seconds",
                    "Age of each queue's oldest unacknowledged message (Pub/Sub, from Cloud Monitoring).",
                    &ages,
                )?;
            }
        }
        if let Some(s) = &self.store {
            s.print_prometheus(&mut p)?;
        }
        p.gauge(
            "crashctl_problems",
            "Stray files, invalid names and unreadable entries found.",
            &[(vec![], self.problems_total as f64)],
        )
    }
}

impl SpoolStats {
    fn print_table(&self, w: &mut impl Write, paint: Paint) -> io::Result<()> {
        if !self.hot_spots.is_empty() {
            let n = self.hot_spots.len();
            let line = format!(
                "!!! HOT SPOT{}: {n} director{} over {} entries (deletes and listings get slow)",
                if n == 1 { "" } else { "S" },
                if n == 1 { "y" } else { "ies" },
                thousands(self.hot_spot_threshold)
            );
            writeln!(w, "{}", paint.alarm(&line))?;
        }
        writeln!(w, "Spool {}", self.path)?;
        let size = format!("{} in {} files", human_bytes(self.bytes), thousands(self.files));
        writeln!(w, "  waiting      {} crashes ({size})", thousands(self.crashes))?;
        writeln!(w, "  oldest       {}", when(self.oldest, self.oldest_age_seconds))?;
        writeln!(w, "  newest       {}", when(self.newest, self.newest_age_seconds))?;
        writeln!(w, "  quarantined  {}", thousands(self.quarantined))?;
        writeln!(
            w,
            "  leftovers    {} in .tmp, {} in .trash",
            thousands(self.tmp_leftovers),
            thousands(self.trash_leftovers)
        )?;
        for h in &self.hot_spots {
            let line = format!("  HOT SPOT     {} has {} entries", h.path, thousands(h.entries));
            writeln!(w, "{}", paint.alarm(&line))?;
        }
        let (unit, rows) = self.histogram();
        if !rows.is_empty() {
            writeln!(w, "  received per {unit} (UTC)")?;
            let max = rows.iter().map(|r| r.1).max().unwrap_or(1);
            for (label, n) in rows {
                writeln!(w, "    {label:<16} {} {}", bar(n, max, BAR_WIDTH), thousands(n))?;
            }
        }
        Ok(())
    }

    fn print_prometheus(&self, p: &mut Prom<impl Write>) -> io::Result<()> {
        let l = || vec![("spool", self.path.clone())];
        p.gauge("crashctl_spool_crashes", "Crashes waiting in the spool.", &[(l(), self.crashes as f64)])?;
        p.gauge("crashctl_spool_bytes", "Bytes of the crashes waiting in the spool.", &[(l(), self.bytes as f64)])?;
        p.gauge("crashctl_spool_files", "Files of the crashes waiting in the spool.", &[(l(), self.files as f64)])?;
        if let (Some(t), Some(age)) = (self.oldest, self.oldest_age_seconds) {
            let help = "When the oldest waiting crash was received (Unix time, minute precision).";
            p.gauge("crashctl_spool_oldest_timestamp_seconds", help, &[(l(), t.timestamp() as f64)])?;
            p.gauge("crashctl_spool_oldest_age_seconds", "Age of the oldest waiting crash.", &[(l(), age as f64)])?;
        }
        if let Some(t) = self.newest {
            let help = "When the newest waiting crash was received (Unix time, minute precision).";
            p.gauge("crashctl_spool_newest_timestamp_seconds", help, &[(l(), t.timestamp() as f64)])?;
        }
        p.gauge("crashctl_spool_quarantined", "Crashes in the spool's quarantine.", &[(l(), self.quarantined as f64)])?;
        let left = |area: &str, n: u64| {
            let mut labels = l();
            labels.push(("area", area.to_string()));
            (labels, n as f64)
        };
        p.gauge(
            "crashctl_spool_leftovers",
            "Entries in .tmp (being written) and .trash (being deleted).",
            &[left(".tmp", self.tmp_leftovers), left(".trash", self.trash_leftovers)],
        )?;
        let help = "Directories with more entries than the hot-spot threshold.";
        p.gauge("crashctl_spool_hot_spots", help, &[(l(), self.hot_spots.len() as f64)])?;
        let samples: Vec<_> = self
            .hot_spots
            .iter()
            .map(|h| {
                let mut labels = l();
                labels.push(("path", h.path.clone()));
                (labels, h.entries as f64)
            })
            .collect();
        p.gauge("crashctl_spool_hot_spot_entries", "Entries of each hot-spot directory.", &samples)
    }
}

impl QueueStats {
    fn print_table(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "Queues {}", self.location)?;
        writeln!(w, "  {:<14}{:>12}{:>12}{:>12}{:>12}", "queue", "pending", "claimed", "expired", "failed")?;
        for d in self.queues.iter().filter(|d| d.unknown) {
            writeln!(w, "  {:<14}{:>12}", d.queue, crate::queue::UNKNOWN)?;
        }
        for d in self.queues.iter().filter(|d| !d.unknown) {
            let [p, c, e, f] = d.counts().map(|(_, n)| n.map_or_else(|| crate::queue::UNKNOWN.to_string(), thousands));
            let age = match d.oldest_unacked_secs {
                Some(s) => format!("  oldest unacked {}", humantime::format_duration(Duration::from_secs(s))),
                None => String::new(),
            };
            writeln!(w, "  {:<14}{p:>12}{c:>12}{e:>12}{f:>12}{age}", d.queue)?;
        }
        Ok(())
    }
}

impl StoreStats {
    fn print_table(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "Store {}", self.location)?;
        write!(w, "  {:<14}{:>12}{:>12}{:>24}", "day", "raw", "processed", "raw without processed")?;
        let usage = self.bytes.is_some();
        if usage {
            write!(w, "{:>12}{:>16}", "objects", "bytes")?;
        }
        writeln!(w)?;
        let rows = self
            .days
            .iter()
            .map(|d| (d.date.as_str(), d.raw, d.processed, d.raw_without_processed, d.objects, d.bytes));
        let total = ("total", self.raw, self.processed, self.raw_without_processed, self.objects, self.bytes);
        for (day, raw, processed, missing, objects, bytes) in rows.chain([total]) {
            let [r, p, m] = [raw, processed, missing].map(thousands);
            write!(w, "  {day:<14}{r:>12}{p:>12}{m:>24}")?;
            if usage {
                let [o, b] = [objects, bytes].map(|n| thousands(n.unwrap_or(0)));
                write!(w, "{o:>12}{b:>16}")?;
            }
            writeln!(w)?;
        }
        Ok(())
    }

    fn print_prometheus(&self, p: &mut Prom<impl Write>) -> io::Result<()> {
        let per_day = |f: fn(&DayCount) -> Option<u64>| -> Vec<_> {
            self.days
                .iter()
                .filter_map(|d| Some((vec![("store", self.location.clone()), ("date", d.date.clone())], f(d)? as f64)))
                .collect()
        };
        p.gauge(
            "crashctl_store_raw_crashes",
            "Raw crashes in the store, per crash-ID date.",
            &per_day(|d| Some(d.raw)),
        )?;
        let help = "Processed crashes in the store, per crash-ID date.";
        p.gauge("crashctl_store_processed_crashes", help, &per_day(|d| Some(d.processed)))?;
        let help = "Raw crashes without a processed crash, per crash-ID date.";
        p.gauge("crashctl_store_raw_without_processed_crashes", help, &per_day(|d| Some(d.raw_without_processed)))?;
        if self.bytes.is_some() {
            let help = "Objects of the crashes in the store (raw, dump names, dumps, processed), per crash-ID date.";
            p.gauge("crashctl_store_objects", help, &per_day(|d| d.objects))?;
            let help = "Bytes of those objects, per crash-ID date.";
            p.gauge("crashctl_store_bytes", help, &per_day(|d| d.bytes))?;
        }
        Ok(())
    }
}

impl Rates {
    fn print_table(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "Rates (over the last {:.1} s)", self.interval_seconds)?;
        if let (Some(a), Some(d), Some(ar), Some(dr)) =
            (self.spool_arrived, self.spool_drained, self.spool_arrival_per_second, self.spool_drain_per_second)
        {
            let (a, d, ar, dr) = (thousands(a), thousands(d), human_rate(ar), human_rate(dr));
            writeln!(w, "  spool        {a} arrived ({ar}), {d} drained ({dr})")?;
        }
        let signed = |r: f64| if r < 0.0 { format!("-{}", human_rate(-r)) } else { format!("+{}", human_rate(r)) };
        for (queue, net) in &self.queue_net_per_second {
            writeln!(w, "  {queue:<12} {} pending+claimed", signed(*net))?;
        }
        if let (Some(r), Some(p)) = (self.store_raw_per_second, self.store_processed_per_second) {
            writeln!(w, "  store        {} raw, {} processed", signed(r), signed(p))?;
        }
        Ok(())
    }
}

/// Hot spots in bold red on a terminal.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn alarm(self, s: &str) -> String {
        if self.0 {
            format!("\x1b[1;31m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Writes metric families.
struct Prom<'a, W: Write> {
    w: &'a mut W,
}

type Sample = (Vec<(&'static str, String)>, f64);

impl<W: Write> Prom<'_, W> {
    fn gauge(&mut self, name: &str, help: &str, samples: &[Sample]) -> io::Result<()> {
        writeln!(self.w, "# HELP {name} {help}")?;
        writeln!(self.w, "# TYPE {name} gauge")?;
        for (labels, value) in samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
            writeln!(self.w, "{name}{labels} {value}")?;
        }
        Ok(())
    }
}

/// A label value as the exposition format wants it (`\\`, `\"`, `\n` escaped).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl SpoolStats {
    /// The histogram's unit and rows, oldest first, empty buckets included so a gap shows:
    /// per minute when every waiting crash is under an hour old, else per hour up to the hour
    /// of the scan, or per day when there are too many hours.
    pub fn histogram(&self) -> (&'static str, Vec<(String, u64)>) {
        let (Some(oldest), Some(age)) = (self.oldest, self.oldest_age_seconds) else { return ("hour", Vec::new()) };
        let now = oldest + chrono::Duration::seconds(age.max(0));
        if age < 3600 && !self.last_hour_per_minute.is_empty() {
            let counts: std::collections::BTreeMap<_, _> =
                self.last_hour_per_minute.iter().map(|m| (m.hour, m.crashes)).collect();
            let rows = steps(oldest, now, chrono::Duration::minutes(1))
                .map(|t| (t.format("%Y-%m-%d %H:%M").to_string(), counts.get(&t).copied().unwrap_or(0)))
                .collect();
            return ("minute", rows);
        }
        let counts: std::collections::BTreeMap<_, _> = self.per_hour.iter().map(|h| (h.hour, h.crashes)).collect();
        let first = self.per_hour.first().map_or(oldest, |h| h.hour);
        let hours: Vec<(DateTime<Utc>, u64)> =
            steps(first, now, chrono::Duration::hours(1)).map(|t| (t, counts.get(&t).copied().unwrap_or(0))).collect();
        if hours.len() <= MAX_HOUR_ROWS {
            return ("hour", hours.iter().map(|(t, n)| (t.format("%Y-%m-%d %H:00").to_string(), *n)).collect());
        }
        let mut rows: Vec<(String, u64)> = Vec::new();
        for (t, n) in hours {
            let day = t.format("%Y-%m-%d").to_string();
            match rows.last_mut() {
                Some((d, total)) if *d == day => *total += n,
                _ => rows.push((day, n)),
            }
        }
        ("day", rows)
    }
}

/// `from`, `from + step`, ... up to the step holding `to` (at most 10,000 steps).
fn steps(from: DateTime<Utc>, to: DateTime<Utc>, step: chrono::Duration) -> impl Iterator<Item = DateTime<Utc>> {
    let n = ((to - from).num_seconds() / step.num_seconds()).clamp(0, 10_000);
    (0..=n).map(move |i| from + step * i as i32)
}

/// A bar of `n` out of `max` in `width` cells, with eighth-block precision.
fn bar(n: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = if max == 0 { 0 } else { (n as u128 * width as u128 * 8 / max as u128) as usize };
    let eighths = if n > 0 { eighths.max(1) } else { 0 };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    let cells = s.chars().count();
    s.push_str(&" ".repeat(width.saturating_sub(cells)));
    s
}

fn when(t: Option<DateTime<Utc>>, age: Option<i64>) -> String {
    match (t, age) {
        (Some(t), Some(age)) => format!("{} ({})", t.format("%Y-%m-%d %H:%M UTC"), minute_age(age)),
        (Some(t), None) => format_time(&t),
        _ => "-".to_string(),
    }
}

/// An age measured from a minute-precision timestamp: whole minutes at most (`under a minute
/// ago`, `5m ago`, `3h 2m ago`, `2d 1h ago`), never seconds the timestamp does not have.
pub(crate) fn minute_age(secs: i64) -> String {
    let m = secs.max(0) / 60;
    match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, 0) => "under a minute ago".to_string(),
        (0, 0, m) => format!("{m}m ago"),
        (0, h, m) => format!("{h}h {m}m ago"),
        (d, h, _) => format!("{d}d {h}h ago"),
    }
}

/// A rate for people: whole numbers with thousands separators (`1,640/s`), one decimal
/// below 10 (`2.5/s`).
pub fn human_rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second < 0.0 {
        return "-".to_string();
    }
    if per_second < 10.0 && per_second.fract() != 0.0 {
        format!("{per_second:.1}/s")
    } else {
        format!("{}/s", thousands(per_second.round() as u64))
    }
}

/// `1,234,567`
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12.3 MiB`
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_rate(1640.2796), "1,640/s");
        assert_eq!(human_rate(2.54), "2.5/s");
        assert_eq!(human_rate(3.0), "3/s");
    }

    #[test]
    fn ages_are_no_more_precise_than_minute_timestamps() {
        // Regression: a spool written seconds ago said "58s ago".
        assert_eq!(minute_age(58), "under a minute ago");
        assert_eq!(minute_age(119), "1m ago");
        assert_eq!(minute_age(3 * 3600 + 150), "3h 2m ago");
    }

    #[test]
    fn bars_scale_to_the_largest() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██  ");
        assert_eq!(bar(1, 1000, 4).trim_end(), "▏", "a non-zero count is never an empty bar");
        assert_eq!(bar(0, 10, 4), "    ");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
