//! Crash Stats from the command line: Super Search (`search`), its aggregations (`facet`),
//! downloading crashes into a store (`fetch`), and signatures regenerated locally against
//! what the server has (`signature`). Every request goes through the [`crate::api`] client
//! (token, retries, `Retry-After`) and one [`RateLimiter`] per run.

pub mod facet;
pub mod fetch;
pub mod format;
pub mod params;
pub mod signature;
pub mod supersearch;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::api::{
    find_token, ClientOptions, CrashStatsClient, GetError, RateLimiter, RateMode, RetryPolicy, ANONYMOUS_LIMIT_PER_MIN,
    TOKEN_LIMIT_PER_MIN,
};
use crate::secret::Secret;

/// How to reach Crash Stats (what the command line gives).
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub host: String,
    /// `--token`; else `$CRASHSTATS_API_TOKEN`, else `./.env`.
    pub token: Option<Secret>,
    /// A fixed rate (requests a minute) instead of the adaptive one.
    pub rate_per_min: Option<u32>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

/// A runtime for one command's requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))
}

/// The default host of the read-only commands.
pub const DEFAULT_HOST: &str = "https://crash-stats.mozilla.org";
pub const SUPERSEARCH_PATH: &str = "/api/SuperSearch/";
pub const RAW_CRASH_PATH: &str = "/api/RawCrash/";
pub const PROCESSED_CRASH_PATH: &str = "/api/ProcessedCrash/";

/// A client, the run's rate limiter and where retry messages go.
#[derive(Clone)]
pub struct Session {
    pub client: CrashStatsClient,
    pub limiter: Arc<RateLimiter>,
    pub notify: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Session {
    /// The session of a run: the token found (from `dir/.env` at the latest), the client, and
    /// the run's rate (adaptive at the documented limit for a token, or anonymous; or fixed).
    /// Also returns a line saying which token is used, masked.
    pub fn open(opts: &SessionOptions, dir: &Path, stop: Arc<AtomicBool>) -> anyhow::Result<(Session, String)> {
        let token = find_token(opts.token.clone(), dir).map_err(|e| anyhow::anyhow!("reading ./.env: {e}"))?;
        let note = match &token {
            Some((t, source)) => format!("crashctl: using API token {t} (from {source})"),
            None => {
                "crashctl: no API token (--token, $CRASHSTATS_API_TOKEN or ./.env): public data only, 100 requests/min"
                    .to_string()
            }
        };
        let secret = token.map(|(t, _)| t);
        let mode = match opts.rate_per_min {
            Some(per_min) => RateMode::Fixed { per_min },
            None if secret.is_some() => RateMode::Adaptive { limit_per_min: TOKEN_LIMIT_PER_MIN },
            None => RateMode::Adaptive { limit_per_min: ANONYMOUS_LIMIT_PER_MIN },
        };
        let client = CrashStatsClient::new(ClientOptions {
            host: opts.host.clone(),
            token: secret,
            retry: opts.retry.clone(),
            timeout: opts.timeout,
            stop: Some(stop),
        })?;
        Ok((Session::new(client, Arc::new(RateLimiter::new(mode))), note))
    }

    pub fn new(client: CrashStatsClient, limiter: Arc<RateLimiter>) -> Session {
        Session { client, limiter, notify: Arc::new(|_| {}) }
    }

    pub fn with_notify(mut self, notify: Arc<dyn Fn(&str) + Send + Sync>) -> Session {
        self.notify = notify;
        self
    }

    pub async fn get_bytes(&self, path: &str, query: &[(String, String)]) -> Result<Bytes, GetError> {
        let notify = self.notify.clone();
        self.client.get(path, query, Some(&self.limiter), &move |m: &str| notify(m)).await
    }

    /// A GET whose answer must be JSON.
    pub async fn get_json(&self, path: &str, query: &[(String, String)]) -> Result<Value, GetError> {
        let bytes = self.get_bytes(path, query).await?;
        serde_json::from_slice(&bytes).map_err(|e| GetError::Client {
            url: self.client.url(path),
            message: format!("the answer is not JSON: {e}"),
        })
    }
}
