//! What `search`, `facet`, `fetch` and `signature` share: the Crash Stats host, the token,
//! retries and the request rate, turned into one [`Session`] per run.

use std::sync::Arc;
use std::time::Duration;

use crashctl::api::{
    find_token, parse_rate, ClientOptions, CrashStatsClient, RateLimiter, RateMode, RetryPolicy,
    ANONYMOUS_LIMIT_PER_MIN, TOKEN_LIMIT_PER_MIN,
};
use crashctl::crashstats::{Session, DEFAULT_HOST};
use crashctl::secret::Secret;

use crate::cli::parse_duration;
use crate::ui::Context;

/// How to reach Crash Stats.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Crash Stats base URL
    #[arg(long, value_name = "URL", env = "CRASHSTATS_HOST", default_value = DEFAULT_HOST)]
    pub host: String,

    /// API token [default: $CRASHSTATS_API_TOKEN, then CRASHSTATS_API_TOKEN=... in ./.env];
    /// prefer the environment: arguments are visible to other users
    #[arg(long, value_name = "TOKEN", hide_default_value = true)]
    pub token: Option<Secret>,

    /// At most this many requests a minute (N/min or N/s) instead of adapting to the server's
    /// 429 answers
    #[arg(long, value_name = "N/min", value_parser = parse_rate)]
    pub rate: Option<u32>,

    /// Retries of one request after connection errors, 429 and 5xx
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// Timeout of one request
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// First retry backoff, doubled each retry (for tests)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, hide = true)]
    pub retry_base_delay: Duration,
}

impl ApiArgs {
    /// The session of this run; says which token it uses (masked) unless quiet.
    pub fn session(&self, ctx: &Context) -> anyhow::Result<Session> {
        let cwd = std::env::current_dir()?;
        let token = find_token(self.token.clone(), &cwd).map_err(|e| anyhow::anyhow!("reading ./.env: {e}"))?;
        if !ctx.quiet {
            match &token {
                Some((t, source)) => eprintln!("crashctl: using API token {t} (from {source})"),
                None => eprintln!(
                    "crashctl: no API token (--token, $CRASHSTATS_API_TOKEN or ./.env): public data only, 100 requests/min"
                ),
            }
        }
        let secret = token.map(|(t, _)| t);
        let mode = match self.rate {
            Some(per_min) => RateMode::Fixed { per_min },
            None if secret.is_some() => RateMode::Adaptive { limit_per_min: TOKEN_LIMIT_PER_MIN },
            None => RateMode::Adaptive { limit_per_min: ANONYMOUS_LIMIT_PER_MIN },
        };
        let client = CrashStatsClient::new(ClientOptions {
            host: self.host.clone(),
            token: secret,
            retry: RetryPolicy { retries: self.retries, base_delay: self.retry_base_delay, ..RetryPolicy::default() },
            timeout: self.request_timeout,
            stop: Some(ctx.stop_flag()),
        })?;
        let quiet = ctx.quiet;
        let notify: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |m: &str| {
            if !quiet {
                eprintln!("crashctl: {m}");
            }
        });
        Ok(Session::new(client, Arc::new(RateLimiter::new(mode))).with_notify(notify))
    }
}

/// A runtime for one command's requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the async runtime: {e}"))
}

/// Filters given as `FIELD=VALUE`, and a Super Search URL, merged (the arguments win, key by
/// key); `drop` names the URL keys (prefixes) this command ignores.
pub fn merged_params(
    url: Option<&str>,
    filters: &[String],
    drop: &[&str],
) -> anyhow::Result<crashctl::crashstats::params::Params> {
    use crashctl::crashstats::params::Params;
    let mut params = match url {
        Some(u) => Params::from_url(u)?,
        None => Params::new(),
    };
    params.remove_prefixed(drop);
    params.overlay(&Params::from_args(filters)?);
    Ok(params)
}
