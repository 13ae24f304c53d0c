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

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::api::{CrashStatsClient, GetError, RateLimiter};

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
