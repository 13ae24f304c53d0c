//! When to retry a request: exponential backoff with jitter, and the server's `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How a client retries connection errors, 429 and 5xx answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub retries: u32,
    /// The backoff before the first retry; it doubles with each retry.
    pub base_delay: Duration,
    /// The longest backoff between two attempts.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one waits this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry). The server's `Retry-After`
    /// wins when given; otherwise `base * 2^retry`, capped at `max_delay`, with "equal jitter":
    /// half of it fixed, the other half scaled by `jitter` (a random number in `[0, 1)`), so
    /// clients that failed together do not retry together.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let exp = self.base_delay.saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Parses a `Retry-After` value: seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(8), ..RetryPolicy::default() }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(0, None, 0.0), Duration::from_millis(500));
        assert_eq!(p.delay(0, None, 1.0), Duration::from_secs(1));
        assert_eq!(p.delay(1, None, 0.0), Duration::from_secs(1));
        assert_eq!(p.delay(2, None, 0.5), Duration::from_secs(3));
        assert_eq!(p.delay(10, None, 1.0), Duration::from_secs(8), "capped at max_delay");
        assert_eq!(p.delay(100, None, 0.0), Duration::from_secs(4), "no overflow");
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(0, Some(Duration::from_secs(30)), 0.0), Duration::from_secs(30));
        assert_eq!(p.delay(3, Some(Duration::ZERO), 1.0), Duration::ZERO);
        assert_eq!(p.delay(0, Some(Duration::from_secs(100_000)), 0.0), p.max_retry_after);
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
