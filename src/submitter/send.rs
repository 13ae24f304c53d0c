//! Sending one encoded crash: over HTTP with retries (connection errors, 429 and 5xx, honouring
//! Retry-After; never 4xx), or straight into a local spool through the collector's own code.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue};

use super::encode::Body;
use crate::api::parse_retry_after;
use crate::collector::Collector;

/// Longest wait between two attempts, whatever Retry-After says.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Where crashes go.
#[derive(Clone)]
pub enum Target {
    /// A collector's submit URL.
    Url(reqwest::Url),
    /// A local spool, written by the collector's own code.
    Spool(Arc<Collector>),
}

/// What came back for one crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// The submit URL for what the user typed: `/submit` is added when the URL has no path.
pub fn submit_url(s: &str) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(s).map_err(|e| anyhow::anyhow!("{s}: not a URL: {e}"))?;
    anyhow::ensure!(matches!(url.scheme(), "http" | "https"), "{s}: only http and https URLs");
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/submit");
    }
    Ok(url)
}

/// How long to wait before another attempt, or `None` when the answer is final.
/// `status` is `None` for a connection error; `attempt` counts from 1.
pub fn retry_delay(status: Option<u16>, retry_after: Option<&str>, attempt: u32, base: Duration) -> Option<Duration> {
    let retryable = match status {
        None => true,
        Some(s) => s == 429 || (500..600).contains(&s),
    };
    if !retryable {
        return None;
    }
    let backoff = base.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
    let wait = retry_after.and_then(|v| parse_retry_after(v, chrono::Utc::now())).unwrap_or(backoff);
    Some(wait.min(MAX_RETRY_WAIT))
}

/// How to send.
#[derive(Clone)]
pub struct Sender {
    pub client: reqwest::Client,
    pub target: Target,
    pub bearer_token: Option<String>,
    pub user_agent: String,
    /// Attempts after the first one.
    pub retries: u32,
    pub retry_delay: Duration,
}

impl Sender {
    /// The request headers (Content-Length only for the spool target: reqwest sets its own).
    fn headers(&self, body: &Body, with_length: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""));
        h.insert(CONTENT_TYPE, value(&body.content_type));
        h.insert(USER_AGENT, value(&self.user_agent));
        if body.gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some(t) = &self.bearer_token {
            let mut v = value(&format!("Bearer {t}"));
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        if with_length {
            h.insert(CONTENT_LENGTH, HeaderValue::from(body.bytes.len()));
        }
        h
    }

    /// Sends one crash, retrying as allowed. Returns the final reply (or the last error) and
    /// the number of attempts.
    pub async fn send(&self, body: &Body) -> (Result<Reply, String>, u32) {
        let mut attempt = 1;
        loop {
            let (result, retry_after) = self.attempt(body).await;
            let status = result.as_ref().ok().map(|r| r.status);
            match retry_delay(status, retry_after.as_deref(), attempt, self.retry_delay) {
                Some(wait) if attempt <= self.retries => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return (result, attempt),
            }
        }
    }

    async fn attempt(&self, body: &Body) -> (Result<Reply, String>, Option<String>) {
        match &self.target {
            Target::Url(url) => {
                let req = self.client.post(url.clone()).headers(self.headers(body, false)).body(body.bytes.clone());
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let retry_after =
                            resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
                        let text = resp.text().await.unwrap_or_default();
                        (Ok(Reply { status, body: text }), retry_after)
                    }
                    Err(e) => (Err(crate::error::chain(&e)), None),
                }
            }
            Target::Spool(collector) => {
                let collector = Arc::clone(collector);
                let headers = self.headers(body, true);
                let bytes = body.bytes.clone();
                let handled =
                    tokio::task::spawn_blocking(move || collector.handle(&headers, bytes, chrono::Utc::now())).await;
                match handled {
                    Ok(a) => (Ok(Reply { status: a.status, body: a.body }), None),
                    Err(e) => (Err(format!("spool writer failed: {e}")), None),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_connection_errors_429_and_5xx() {
        let base = Duration::from_millis(100);
        assert_eq!(retry_delay(None, None, 1, base), Some(base));
        assert_eq!(retry_delay(Some(503), None, 3, base), Some(Duration::from_millis(400)));
        assert_eq!(retry_delay(Some(500), None, 1, base), Some(base));
        assert_eq!(retry_delay(Some(429), Some("7"), 1, base), Some(Duration::from_secs(7)));
        assert_eq!(retry_delay(Some(503), Some("3600"), 1, base), Some(MAX_RETRY_WAIT));
        for final_status in [200, 400, 401, 404, 413] {
            assert_eq!(retry_delay(Some(final_status), Some("1"), 1, base), None, "{final_status}");
        }
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let d = retry_delay(Some(429), Some(&later), 1, base).unwrap();
        assert!(d > Duration::from_secs(20) && d <= Duration::from_secs(30), "{d:?}");
    }

    #[test]
    fn submit_urls() {
        assert_eq!(submit_url("http://127.0.0.1:8000").unwrap().as_str(), "http://127.0.0.1:8000/submit");
        assert_eq!(submit_url("https://crash-reports.example/submit").unwrap().path(), "/submit");
        assert_eq!(submit_url("http://h/custom/path").unwrap().path(), "/custom/path");
        assert!(submit_url("ftp://h/").is_err());
    }
}
