//! The collector's counters, rendered in the Prometheus text format at `/__metrics__`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the save-latency histogram buckets.
const SAVE_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    bytes: AtomicU64,
    save_errors: AtomicU64,
    in_flight: AtomicI64,
    /// Discarded crashes by reason (`malformed_no_annotations`, `rule_<name>`, ...).
    rejected: Mutex<BTreeMap<String, u64>>,
    /// Throttle decisions by `(rule, result)`.
    throttled: Mutex<BTreeMap<(String, String), u64>>,
    save: Mutex<Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; SAVE_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default() += 1;
}

impl Metrics {
    pub fn request_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Submissions being handled right now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn received_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, reason: &str) {
        bump(&self.rejected, reason.to_string());
    }

    pub fn throttled(&self, rule: &str, result: &str) {
        bump(&self.throttled, (rule.to_string(), result.to_string()));
    }

    pub fn save_error(&self) {
        self.save_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn saved(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let mut h = self.save.lock().unwrap_or_else(|e| e.into_inner());
        for (i, le) in SAVE_BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(&mut out, "accepted_total", "Crashes answered with a crash ID", &[("", load(&self.accepted))]);
        let rejected = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        let rows: Vec<(String, u64)> = rejected.iter().map(|(r, n)| (format!("reason=\"{r}\""), *n)).collect();
        counter_rows(&mut out, "rejected_total", "Crashes discarded, by reason", &rows);
        let throttled = self.throttled.lock().unwrap_or_else(|e| e.into_inner());
        let rows: Vec<(String, u64)> =
            throttled.iter().map(|((r, res), n)| (format!("rule=\"{r}\",result=\"{res}\""), *n)).collect();
        counter_rows(&mut out, "throttled_total", "Throttle decisions, by rule and result", &rows);
        counter(&mut out, "received_bytes_total", "Request body bytes received", &[("", load(&self.bytes))]);
        counter(&mut out, "save_errors_total", "Failed attempts to save a crash", &[("", load(&self.save_errors))]);
        let _ = writeln!(out, "# HELP crashctl_collector_requests_in_flight Submissions being handled");
        let _ = writeln!(out, "# TYPE crashctl_collector_requests_in_flight gauge");
        let _ = writeln!(out, "crashctl_collector_requests_in_flight {}", self.in_flight.load(Ordering::Relaxed));
        self.render_save(&mut out);
        out
    }

    fn render_save(&self, out: &mut String) {
        let h = self.save.lock().unwrap_or_else(|e| e.into_inner());
        let name = "crashctl_collector_save_seconds";
        let _ = writeln!(out, "# HELP {name} Time to save a crash durably in the spool");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (le, n) in SAVE_BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    }
}

fn counter(out: &mut String, name: &str, help: &str, rows: &[(&str, u64)]) {
    let rows: Vec<(String, u64)> = rows.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    counter_rows(out, name, help, &rows);
}

fn counter_rows(out: &mut String, name: &str, help: &str, rows: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP crashctl_collector_{name} {help}");
    let _ = writeln!(out, "# TYPE crashctl_collector_{name} counter");
    for (labels, n) in rows {
        if labels.is_empty() {
            let _ = writeln!(out, "crashctl_collector_{name} {n}");
        } else {
            let _ = writeln!(out, "crashctl_collector_{name}{{{labels}}} {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.accepted();
        m.rejected("malformed_no_annotations");
        m.rejected("malformed_no_annotations");
        m.throttled("accept_everything", "accept");
        m.saved(Duration::from_millis(3));
        let _guard = m.request_started();
        let text = m.render();
        assert!(text.contains("crashctl_collector_accepted_total 1\n"), "{text}");
        assert!(text.contains("crashctl_collector_rejected_total{reason=\"malformed_no_annotations\"} 2\n"));
        assert!(text.contains("crashctl_collector_throttled_total{rule=\"accept_everything\",result=\"accept\"} 1\n"));
        assert!(text.contains("crashctl_collector_save_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("crashctl_collector_save_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("crashctl_collector_save_seconds_count 1\n"));
        assert!(text.contains("crashctl_collector_requests_in_flight 1\n"));
    }
}
