//! The Crash Stats API client: its options, its errors, and `POST` requests with retries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::StatusCode;

use super::retry::{parse_retry_after, RetryPolicy};
use crate::crash::CrashId;
use crate::secret::Secret;

/// The endpoint that queues crashes for reprocessing.
pub const REPROCESSING_PATH: &str = "/api/Reprocessing/";

/// How to reach the API.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://crash-stats.mozilla.org`.
    pub host: String,
    pub token: Option<Secret>,
    pub retry: RetryPolicy,
    /// Timeout of one attempt (connect, send, answer).
    pub timeout: Duration,
    /// Set on Ctrl-C: waits between retries end early with [`ApiError::Interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
}

/// Why a request did not succeed. `name()` gives a stable machine name.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost { host: String, reason: String },
    #[error("the API token contains characters that cannot be sent in an HTTP header")]
    InvalidToken,
    #[error("POST {url}: HTTP 400 Bad Request: {message}")]
    BadRequest { url: String, message: String },
    #[error("POST {url}: HTTP 403 Forbidden: {message} (check the API token and its permissions)")]
    Forbidden { url: String, message: String },
    #[error("POST {url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("POST {url}: gave up after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("POST {url}: interrupted while waiting to retry")]
    Interrupted { url: String },
    #[error("HTTP client: {0}")]
    Client(String),
}

impl ApiError {
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::InvalidHost { .. } => "invalid_host",
            ApiError::InvalidToken => "invalid_token",
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::Status { .. } => "http_status",
            ApiError::GaveUp { .. } => "gave_up",
            ApiError::Interrupted { .. } => "interrupted",
            ApiError::Client(_) => "client_error",
        }
    }

    /// The HTTP status the server answered with, when that is why it failed.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::BadRequest { .. } => Some(400),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What one attempt came to.
enum Outcome {
    Done,
    Retry { reason: String, retry_after: Option<Duration> },
    Fail(ApiError),
}

/// The Crash Stats API client.
#[derive(Debug, Clone)]
pub struct CrashStatsClient {
    pub(super) http: reqwest::Client,
    host: String,
    pub(super) token: Option<Secret>,
    pub(super) retry: RetryPolicy,
    stop: Option<Arc<AtomicBool>>,
}

impl CrashStatsClient {
    pub fn new(opts: ClientOptions) -> Result<CrashStatsClient, ApiError> {
        let host = normalize_host(&opts.host)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("crashctl/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.timeout.min(Duration::from_secs(30)))
            .timeout(opts.timeout)
            // A redirect could carry the Auth-Token header to another host: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::Client(crate::error::chain(&e)))?;
        Ok(CrashStatsClient { http, host, token: opts.token, retry: opts.retry, stop: opts.stop })
    }

    /// The base URL, without a trailing slash.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.host)
    }

    /// `POST /api/Reprocessing/` with one `crash_ids` field per crash (`id:ruleset` with a
    /// ruleset). Retries as the policy says; `notify` hears about each retry. Returns how many
    /// attempts it took.
    pub async fn reprocess(
        &self,
        ids: &[CrashId],
        ruleset: Option<&str>,
        notify: &dyn Fn(&str),
    ) -> Result<u32, ApiError> {
        let form: Vec<(&str, String)> = ids
            .iter()
            .map(|id| match ruleset {
                Some(rs) => ("crash_ids", format!("{id}:{rs}")),
                None => ("crash_ids", id.to_string()),
            })
            .collect();
        self.post_form(REPROCESSING_PATH, &form, notify).await
    }

    /// Posts a form, retrying connection errors, 429 and 5xx. Returns the number of attempts.
    pub async fn post_form(&self, path: &str, form: &[(&str, String)], notify: &dyn Fn(&str)) -> Result<u32, ApiError> {
        let url = self.url(path);
        let mut retry = 0;
        loop {
            let (reason, retry_after) = match self.attempt(&url, form).await? {
                Outcome::Done => return Ok(retry + 1),
                Outcome::Fail(err) => return Err(err),
                Outcome::Retry { reason, retry_after } => (reason, retry_after),
            };
            if retry >= self.retry.retries {
                return Err(ApiError::GaveUp { url, attempts: retry + 1, last: reason });
            }
            let delay = self.retry.delay(retry, retry_after, rand::random::<f64>());
            retry += 1;
            notify(&format!(
                "{reason}; retry {retry}/{} in {}",
                self.retry.retries,
                humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
            ));
            self.wait(delay).await.map_err(|()| ApiError::Interrupted { url: url.clone() })?;
        }
    }

    async fn attempt(&self, url: &str, form: &[(&str, String)]) -> Result<Outcome, ApiError> {
        let mut req = self.http.post(url).form(form);
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(token.expose()).map_err(|_| ApiError::InvalidToken)?;
            value.set_sensitive(true);
            req = req.header("Auth-Token", value);
        }
        match req.send().await {
            Err(e) if e.is_builder() => Ok(Outcome::Fail(ApiError::Client(self.scrub(&crate::error::chain(&e))))),
            Err(e) => Ok(Outcome::Retry { reason: self.scrub(&crate::error::chain(&e)), retry_after: None }),
            Ok(resp) => Ok(self.classify(url, resp).await),
        }
    }

    async fn classify(&self, url: &str, resp: reqwest::Response) -> Outcome {
        let status = resp.status();
        if status.is_success() {
            return Outcome::Done;
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let location = resp.headers().get(reqwest::header::LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()));
        let location = location.map(|l| self.scrub(&l));
        // scrubbed before it is cut to length: a cut must not leave part of the token
        let mut message = error_message(self.scrub(&resp.text().await.unwrap_or_default()));
        if let (true, Some(to)) = (status.is_redirection(), location) {
            message = format!("redirected to {to} (not followed: give that address as --host)");
        }
        let message = self.scrub(&message);
        let url = url.to_string();
        match status {
            StatusCode::TOO_MANY_REQUESTS => Outcome::Retry { reason: format!("HTTP 429: {message}"), retry_after },
            s if s.is_server_error() => {
                Outcome::Retry { reason: format!("HTTP {}: {message}", s.as_u16()), retry_after }
            }
            StatusCode::BAD_REQUEST => Outcome::Fail(ApiError::BadRequest { url, message }),
            StatusCode::FORBIDDEN => Outcome::Fail(ApiError::Forbidden { url, message }),
            s => Outcome::Fail(ApiError::Status { url, status: s.as_u16(), message }),
        }
    }

    /// Sleeps, waking early (Err) when the stop flag is set.
    pub(super) async fn wait(&self, delay: Duration) -> Result<(), ()> {
        let deadline = tokio::time::Instant::now() + delay;
        loop {
            if self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Err(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(());
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(50))).await;
        }
    }

    pub(super) fn scrub(&self, text: &str) -> String {
        match &self.token {
            Some(t) => t.scrub(text),
            None => text.to_string(),
        }
    }
}

/// Checks a base URL (`http` or `https`, a host) and drops a trailing `/`.
pub fn normalize_host(host: &str) -> Result<String, ApiError> {
    let bad = |reason: &str| ApiError::InvalidHost { host: host.to_string(), reason: reason.to_string() };
    let url = reqwest::Url::parse(host).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("expected an http:// or https:// URL"));
    }
    if url.host_str().is_none() || url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("expected a base URL such as https://crash-stats.mozilla.org"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The server's message: `error` of a JSON body, else the body text (shortened).
pub(super) fn error_message(body: String) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&body) {
        if let Some(e) = map.get("error") {
            return match e {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return "(no message)".to_string();
    }
    let short: String = body.chars().take(300).collect();
    if short.len() < body.len() {
        format!("{short}...")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_checked_and_normalized() {
        assert_eq!(normalize_host("https://crash-stats.mozilla.org/").unwrap(), "https://crash-stats.mozilla.org");
        assert_eq!(normalize_host("http://127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000");
        assert_eq!(normalize_host("http://h/prefix/").unwrap(), "http://h/prefix");
        for bad in ["crash-stats.mozilla.org", "ftp://h", "http://u:p@h", "http://h/?q=1"] {
            assert_eq!(normalize_host(bad).unwrap_err().name(), "invalid_host", "{bad}");
        }
    }

    #[test]
    fn server_error_messages() {
        assert_eq!(error_message(r#"{"error": "Crash id x is not valid"}"#.into()), "Crash id x is not valid");
        assert_eq!(error_message("  plain text ".into()), "plain text");
        assert_eq!(error_message(String::new()), "(no message)");
        assert!(error_message("y".repeat(1000)).ends_with("..."));
    }
}
