//! GET requests for the read-only endpoints (SuperSearch, RawCrash, ProcessedCrash): the same
//! client, token header and retry policy as the Reprocessing POST, paced by a shared
//! [`RateLimiter`] when one is given. 404 and 403 are answers, not retried.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;

use super::client::{error_message, CrashStatsClient};
use super::rate::RateLimiter;
use super::retry::parse_retry_after;
use crate::error::chain as error_chain;

/// Why a GET did not succeed. `name()` gives a stable machine name; `status()` the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("GET {url}: HTTP 404 Not Found: {message}")]
    NotFound { url: String, message: String },
    #[error("GET {url}: HTTP 403 Forbidden: {message}")]
    Forbidden { url: String, message: String },
    #[error("GET {url}: HTTP 400 Bad Request: {message}")]
    BadRequest { url: String, message: String },
    #[error("GET {url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("GET {url}: gave up after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("GET {url}: interrupted")]
    Interrupted { url: String },
    #[error("GET {url}: {message}")]
    Client { url: String, message: String },
}

impl GetError {
    pub fn name(&self) -> &'static str {
        match self {
            GetError::NotFound { .. } => "not_found",
            GetError::Forbidden { .. } => "forbidden",
            GetError::BadRequest { .. } => "bad_request",
            GetError::Status { .. } => "http_status",
            GetError::GaveUp { .. } => "gave_up",
            GetError::Interrupted { .. } => "interrupted",
            GetError::Client { .. } => "client_error",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GetError::NotFound { .. } => Some(404),
            GetError::Forbidden { .. } => Some(403),
            GetError::BadRequest { .. } => Some(400),
            GetError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's own message (`error` of its JSON answer), when it gave one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            GetError::NotFound { message, .. }
            | GetError::Forbidden { message, .. }
            | GetError::BadRequest { message, .. }
            | GetError::Status { message, .. } => Some(message),
            _ => None,
        }
    }
}

enum Attempt {
    Done(Bytes),
    Retry { reason: String, retry_after: Option<Duration>, throttled: bool },
    Fail(GetError),
}

impl CrashStatsClient {
    /// The URL of `path` with `query` (repeated keys kept, in order).
    pub fn get_url(&self, path: &str, query: &[(String, String)]) -> Result<reqwest::Url, GetError> {
        let raw = self.url(path);
        let mut url =
            reqwest::Url::parse(&raw).map_err(|e| GetError::Client { url: raw.clone(), message: e.to_string() })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        Ok(url)
    }

    /// `GET path?query`: the body of a 2xx answer. Connection errors, 429 and 5xx are retried
    /// as the policy says (`Retry-After` honoured); each attempt first takes a slot of
    /// `limiter`, and tells it about 429s and successes. `notify` hears about each retry.
    pub async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
        limiter: Option<&RateLimiter>,
        notify: &(dyn Fn(&str) + Sync),
    ) -> Result<Bytes, GetError> {
        let url = self.get_url(path, query)?;
        let shown = url.to_string();
        let mut retry = 0;
        loop {
            if let Some(l) = limiter {
                let start = l.reserve();
                let now = tokio::time::Instant::now();
                if start > now {
                    self.wait(start - now).await.map_err(|()| GetError::Interrupted { url: shown.clone() })?;
                }
            }
            let (reason, retry_after) = match self.get_once(&url, &shown).await {
                Attempt::Done(b) => {
                    if let Some(l) = limiter {
                        l.succeeded();
                    }
                    return Ok(b);
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { reason, retry_after, throttled } => {
                    if let (Some(l), true) = (limiter, throttled) {
                        l.throttled(retry_after);
                    }
                    (reason, retry_after)
                }
            };
            if retry >= self.retry.retries {
                return Err(GetError::GaveUp { url: shown, attempts: retry + 1, last: reason });
            }
            let delay = self.retry.delay(retry, retry_after, rand::random::<f64>());
            retry += 1;
            notify(&format!(
                "GET {shown}: {reason}; retry {retry}/{} in {}",
                self.retry.retries,
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            ));
            self.wait(delay).await.map_err(|()| GetError::Interrupted { url: shown.clone() })?;
        }
    }

    async fn get_once(&self, url: &reqwest::Url, shown: &str) -> Attempt {
        let mut req = self.http.get(url.clone());
        if let Some(token) = &self.token {
            let Ok(mut value) = HeaderValue::from_str(token.expose()) else {
                return Attempt::Fail(GetError::Client {
                    url: shown.to_string(),
                    message: "the API token contains characters that cannot be sent in an HTTP header".into(),
                });
            };
            value.set_sensitive(true);
            req = req.header("Auth-Token", value);
        }
        let resp = match req.send().await {
            Err(e) if e.is_builder() => {
                return Attempt::Fail(GetError::Client {
                    url: shown.to_string(),
                    message: self.scrub(&error_chain(&e)),
                })
            }
            Err(e) => {
                return Attempt::Retry { reason: self.scrub(&error_chain(&e)), retry_after: None, throttled: false }
            }
            Ok(r) => r,
        };
        let status = resp.status();
        if status.is_success() {
            return match resp.bytes().await {
                Ok(b) => Attempt::Done(b),
                Err(e) => Attempt::Retry { reason: self.scrub(&error_chain(&e)), retry_after: None, throttled: false },
            };
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let message = self.scrub(&error_message(resp.text().await.unwrap_or_default()));
        let url = shown.to_string();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                Attempt::Retry { reason: "HTTP 429 Too Many Requests".into(), retry_after, throttled: true }
            }
            s if s.is_server_error() => {
                Attempt::Retry { reason: format!("HTTP {}: {message}", s.as_u16()), retry_after, throttled: false }
            }
            StatusCode::NOT_FOUND => Attempt::Fail(GetError::NotFound { url, message }),
            StatusCode::FORBIDDEN => Attempt::Fail(GetError::Forbidden { url, message }),
            StatusCode::BAD_REQUEST => Attempt::Fail(GetError::BadRequest { url, message }),
            s => Attempt::Fail(GetError::Status { url, status: s.as_u16(), message }),
        }
    }
}
