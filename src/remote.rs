//! What the remote backends (S3 store, SQS queues) share: the options that say where the
//! service is ([`RemoteOptions`]), one AWS SDK configuration (credential chain, region,
//! retries, HTTP client), and the tokio runtime the synchronous backend traits block on.
//!
//! The backend traits are synchronous; the AWS SDK is async. Each backend method runs its
//! requests with [`block_on`] on one process-wide runtime that is never dropped, so a
//! backend can be used from plain threads (the mover's pool) and from `spawn_blocking`
//! threads of another runtime (the collector). Called from an async task of a multi-thread
//! runtime it still works (through `block_in_place`, which hands the worker's other tasks to
//! another thread), but `spawn_blocking` is the right way; from a current-thread runtime's
//! task it panics (tokio cannot block there).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The region used when neither a flag, the environment nor a profile names one (local
/// S3/SQS-compatible servers accept any region).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Attempts per request (first try + retries, with exponential backoff and jitter) when
/// neither the options nor `AWS_MAX_ATTEMPTS` say: throttling, 5xx and connection errors
/// are retried by the SDK.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Default for [`RemoteOptions::read_timeout`] (generous: it covers uploading a large dump).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Time to open a connection before the attempt fails (and is retried).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to reach a remote service. Every field is optional: what is not set comes
/// from the standard AWS environment and profile (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`,
/// `AWS_ENDPOINT_URL_SQS`, `AWS_REGION`, `AWS_PROFILE`, `AWS_MAX_ATTEMPTS`, ...).
/// Credentials always come from the standard AWS chain (environment, profile, SSO cache,
/// web identity, container and instance roles) and are never printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteOptions {
    /// Endpoint of an S3- or SQS-compatible server (MinIO, moto, GCS interoperability...).
    pub endpoint_url: Option<String>,
    /// S3 only: path-style addressing (`http://host/bucket/key`). `None`: on when an
    /// endpoint URL is given (by option or environment), off for AWS itself.
    pub path_style: Option<bool>,
    pub region: Option<String>,
    /// Create what is missing (S3: the bucket; SQS: the queues and their dead-letter
    /// queues) instead of failing with an error that names it.
    pub create: bool,
    /// Attempts per request (see [`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: Option<u32>,
    /// How long one attempt may wait for the server's answer, upload included (see
    /// [`DEFAULT_READ_TIMEOUT`]): a server that accepts a connection and then hangs is an
    /// error, not a stuck collector.
    pub read_timeout: Option<Duration>,
}

impl RemoteOptions {
    /// Is an endpoint URL set for `service` (`S3`, `SQS`), by option or environment?
    pub fn has_endpoint(&self, service: &str) -> bool {
        self.endpoint_url.is_some() || env_set(&format!("AWS_ENDPOINT_URL_{service}")) || env_set("AWS_ENDPOINT_URL")
    }

    /// Path-style addressing as configured, else on exactly when an endpoint URL is set.
    pub fn s3_path_style(&self) -> bool {
        self.path_style.unwrap_or_else(|| self.has_endpoint("S3"))
    }

    /// The endpoint for messages (`AWS` when none is set).
    pub fn endpoint_for_messages(&self, service: &str) -> String {
        let var = format!("AWS_ENDPOINT_URL_{service}");
        self.endpoint_url
            .clone()
            .or_else(|| std::env::var(&var).ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_else(|| "AWS".to_string())
    }
}

fn env_set(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty())
}

/// The process-wide runtime remote backends block on (two worker threads drive the I/O;
/// each calling thread runs its own request future).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("crashctl-remote")
            .enable_all()
            .build()
            .expect("cannot start the tokio runtime for remote backends")
    })
}

/// Runs a future to completion on the remote backends' runtime: from any plain or
/// `spawn_blocking` thread, or (see the module docs) a multi-thread runtime's task.
pub fn block_on<F: Future>(f: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let on_async_worker = Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if on_async_worker {
        tokio::task::block_in_place(|| runtime().block_on(f))
    } else {
        runtime().block_on(f)
    }
}

/// Sleeps on the remote runtime (inside a future run by [`block_on`]).
pub(crate) async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}

/// Loads the shared AWS configuration: credentials by the standard chain, the region (option,
/// then environment and profile, then [`DEFAULT_REGION`]), the endpoint, retries with backoff,
/// and an HTTPS client on rustls.
pub(crate) async fn load_config(opts: &RemoteOptions) -> SdkConfig {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(opts.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http).timeout_config(timeouts);
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let attempts = opts.max_attempts.or_else(|| (!env_set("AWS_MAX_ATTEMPTS")).then_some(DEFAULT_MAX_ATTEMPTS));
    if let Some(n) = attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(n.max(1)));
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config.into_builder().region(Region::new(DEFAULT_REGION)).build()
}

/// The AWS SDK configuration the backends use, for code that calls an AWS service directly
/// (tests, tools): same credentials, region, endpoint, retries and HTTP client.
pub fn sdk_config(opts: &RemoteOptions) -> SdkConfig {
    block_on(load_config(opts))
}

/// For tests: options for the moto server of `.ci/moto.sh` (`CRASHCTL_TEST_S3_ENDPOINT`), or
/// `None` after printing why the test is skipped (to stderr directly, so the skip shows in
/// `cargo test` output).
#[cfg(test)]
pub(crate) fn test_options() -> Option<RemoteOptions> {
    use std::io::Write;
    match std::env::var("CRASHCTL_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => {
            Some(RemoteOptions { endpoint_url: Some(url), create: true, max_attempts: Some(2), ..Default::default() })
        }
        _ => {
            let test = std::thread::current().name().unwrap_or("?").to_string();
            let line = format!("skipped: CRASHCTL_TEST_S3_ENDPOINT not set (run .ci/moto.sh start) [{test}]\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_never_answers_is_a_timeout_error() {
        // needs the (dummy) credentials .ci/moto.sh exports, not the server itself
        if test_options().is_none() {
            return;
        }
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let opts = RemoteOptions {
            endpoint_url: Some(url),
            max_attempts: Some(1),
            read_timeout: Some(Duration::from_millis(500)),
            ..Default::default()
        };
        // the listener's backlog accepts the connection; nobody ever answers
        let e = crate::store::open_with("s3://silent-bucket", false, &opts).err().unwrap();
        let e = format!("{e:#}");
        assert!(e.contains("silent-bucket") && e.contains("timeout"), "{e}");
    }

    #[test]
    fn path_style_follows_the_endpoint_unless_set() {
        let with = RemoteOptions { endpoint_url: Some("http://127.0.0.1:9000".into()), ..Default::default() };
        assert!(with.s3_path_style());
        let off = RemoteOptions { path_style: Some(false), ..with.clone() };
        assert!(!off.s3_path_style());
        let on = RemoteOptions { path_style: Some(true), ..Default::default() };
        assert!(on.s3_path_style());
    }

    #[test]
    fn block_on_works_from_plain_and_spawn_blocking_threads_and_async_tasks() {
        let plain = std::thread::spawn(|| block_on(async { 1 })).join().unwrap();
        let other = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        let from_blocking =
            other.block_on(async { tokio::task::spawn_blocking(|| block_on(async { 2 })).await.unwrap() });
        let from_task = other.block_on(async { tokio::spawn(async { block_on(async { 3 }) }).await.unwrap() });
        let current = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let from_current_blocking =
            current.block_on(async { tokio::task::spawn_blocking(|| block_on(async { 4 })).await.unwrap() });
        assert_eq!((plain, from_blocking, from_task, from_current_blocking), (1, 2, 3, 4));
    }
}
