//! A client for the Crash Stats web API (Socorro's webapp): authenticated requests with the
//! `Auth-Token` header, retries with backoff on connection errors, 429 and 5xx, and the server's
//! JSON error message on 400/403. The token is a [`Secret`](crate::secret::Secret) and is
//! scrubbed from every error.

mod client;
mod get;
mod rate;
mod retry;
mod token;

pub use client::{normalize_host, ApiError, ClientOptions, CrashStatsClient, REPROCESSING_PATH};
pub use get::GetError;
pub use rate::{parse_rate, RateLimiter, RateMode, RateState, ANONYMOUS_LIMIT_PER_MIN, TOKEN_LIMIT_PER_MIN};
pub use retry::{parse_retry_after, RetryPolicy};
pub use token::{dotenv_value, find_token, TokenSource, TOKEN_VAR};
