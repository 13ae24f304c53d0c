//! What the remote backends (S3 store, SQS queues, GCS store, Pub/Sub queues) share: the
//! options that say where the service is ([`RemoteOptions`]), one AWS SDK configuration
//! (credential chain, region, retries, HTTP client), Google's emulator and credential
//! settings ([`gcs_emulator`], [`pubsub_emulator`], [`no_credentials`]), retries with backoff
//! for the Google clients ([`with_retries`]), and the tokio runtime the synchronous backend
//! traits block on.
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
    /// gs:// and pubsub:// only: the emulator to talk to (`http://host:port` for GCS,
    /// `host:port` for Pub/Sub), anonymously; overrides `STORAGE_EMULATOR_HOST` /
    /// `PUBSUB_EMULATOR_HOST` (for code that talks to several emulators at once, like tests).
    pub emulator: Option<String>,
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

/// The GCS emulator as an endpoint URL (`http://` added when it has no scheme): the options'
/// [`RemoteOptions::emulator`], else `STORAGE_EMULATOR_HOST`, when set; Google's clients then
/// talk to it with anonymous credentials.
pub fn gcs_emulator(opts: &RemoteOptions) -> Option<String> {
    let host = opts.emulator.clone().or_else(|| std::env::var("STORAGE_EMULATOR_HOST").ok());
    let host = host.filter(|h| !h.trim().is_empty())?;
    let host = host.trim().trim_end_matches('/');
    Some(if host.contains("://") { host.to_string() } else { format!("http://{host}") })
}

/// The Pub/Sub emulator (`host:port`): the options' [`RemoteOptions::emulator`], else
/// `PUBSUB_EMULATOR_HOST`, when set.
pub fn pubsub_emulator(opts: &RemoteOptions) -> Option<String> {
    let host = opts.emulator.clone().or_else(|| std::env::var("PUBSUB_EMULATOR_HOST").ok());
    host.filter(|h| !h.trim().is_empty())
}

/// The one-line error for Google credentials that could not be found: what was looked for
/// (Application Default Credentials, in Google's order) and the emulator variable that would
/// make them unneeded. The library's own text is added only when a credentials file was named
/// (then it says what is wrong with the file).
pub fn no_credentials(emulator_var: &str, e: &dyn std::fmt::Display) -> anyhow::Error {
    let named = std::env::var("GOOGLE_APPLICATION_CREDENTIALS").ok().filter(|v| !v.is_empty());
    let home = std::env::var("HOME").unwrap_or_else(|_| "~".into());
    let adc = format!("{home}/.config/gcloud/application_default_credentials.json");
    match named {
        Some(file) => anyhow::anyhow!("no usable Google credentials: GOOGLE_APPLICATION_CREDENTIALS={file}: {e}"),
        None => anyhow::anyhow!(
            "no Google credentials: looked for $GOOGLE_APPLICATION_CREDENTIALS (not set), the gcloud ADC file {adc} (run `gcloud auth application-default login`) and the GCE metadata server (not reachable); for an emulator set {emulator_var}"
        ),
    }
}

/// Runs `f` up to `attempts` times while its error is `transient`, waiting between attempts
/// with exponential backoff and jitter (0.2 s doubling, at most 5 s).
pub async fn with_retries<T, E, F, Fut>(attempts: u32, transient: impl Fn(&E) -> bool, mut f: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let policy = crate::api::RetryPolicy {
        retries: attempts.saturating_sub(1),
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(5),
        ..Default::default()
    };
    let mut retry = 0;
    loop {
        match f().await {
            Err(e) if retry < policy.retries && transient(&e) => {
                sleep(policy.delay(retry, None, rand::random::<f64>())).await;
                retry += 1;
            }
            other => return other,
        }
    }
}

/// For tests: options for the moto server of `.ci/moto.sh` (`CRASHCTL_TEST_S3_ENDPOINT`), or
/// `None` after printing why the test is skipped (to stderr directly, so the skip shows in
/// `cargo test` output).
#[cfg(test)]
pub(crate) fn test_options() -> Option<RemoteOptions> {
    match std::env::var("CRASHCTL_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => {
            Some(RemoteOptions { endpoint_url: Some(url), create: true, max_attempts: Some(2), ..Default::default() })
        }
        _ => {
            crate::testutil::skip("the S3/SQS emulator: CRASHCTL_TEST_S3_ENDPOINT not set (run .ci/moto.sh start)");
            None
        }
    }
}

/// For tests: options for the GCS emulator and Pub/Sub fake of `.ci/gcp.sh`
/// (`STORAGE_EMULATOR_HOST`, `PUBSUB_EMULATOR_HOST`), or `None` after printing why the test is
/// skipped; under `CI=true` a missing emulator fails the test instead.
#[cfg(test)]
pub(crate) fn gcp_test_options() -> Option<RemoteOptions> {
    use std::io::Write;
    let none = RemoteOptions::default();
    if gcs_emulator(&none).is_some() && pubsub_emulator(&none).is_some() {
        return Some(RemoteOptions { create: true, max_attempts: Some(2), ..Default::default() });
    }
    let why = "STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST not set (run .ci/gcp.sh start)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}, and CI=true: a missing emulator is a failure");
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let _ = std::io::stderr().write_all(format!("skipped: {why} [{test}]\n").as_bytes());
    None
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

/// Refuses a location with a `scheme://` that is not in `known` (so `gs://bucket` is never a
/// local folder named `gs:`), naming the schemes this build knows.
pub fn check_scheme(what: &str, location: &str, known: &[&str]) -> anyhow::Result<()> {
    let Some((scheme, _)) = location.split_once("://") else { return Ok(()) };
    let looks_like_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !looks_like_scheme || known.contains(&scheme) {
        return Ok(());
    }
    let names: Vec<String> = known.iter().map(|k| format!("{k}://")).chain(["a plain directory path".into()]).collect();
    anyhow::bail!("{what} {location}: unknown scheme {scheme}:// (this build knows {})", names.join(", "))
}

#[cfg(test)]
mod scheme_tests {
    use super::check_scheme;

    #[test]
    fn unknown_schemes_are_refused_naming_the_known_ones() {
        // Regression: `move --store gs://bucket` wrote into a local folder named `gs:`.
        let e = check_scheme("store", "gs://bucket", &["file", "s3"]).unwrap_err().to_string();
        assert!(e.contains("unknown scheme gs://") && e.contains("file://, s3://"), "{e}");
        assert!(check_scheme("store", "S3://b", &["file", "s3"]).is_err(), "schemes are exact");
        for fine in ["s3://b/p", "file:///tmp/x", "./store", "/srv/store"] {
            assert!(check_scheme("store", fine, &["file", "s3"]).is_ok(), "{fine}");
        }
    }
}
