//! The building blocks of the command line: clap argument groups that several subcommands
//! share, so the same idea has the same flag, heading and grammar everywhere.
//!
//! A leaf module: it uses clap and the library, nothing else of the binary. Each subcommand's
//! `Args` (in `cmd/`) flattens the groups it needs:
//! - locations: [`SpoolArg`], [`StoreArg`], [`QueueArg`] (flag > env > config file > default,
//!   resolved by `crashctl::config::Config`), and [`RemoteArgs`] (S3/SQS settings, under
//!   "Remote backends"; a new backend adds its flags there);
//! - output: [`OutputArgs`] (`--format`, `--json`) with the library's one [`Format`] type;
//! - processing: [`ProcessingArgs`] (symbols, signature lists, timeout, -j), used by `process`
//!   and `reprocess --now`;
//! - tuning: [`JobsArg`]; every duration flag parses with [`parse_duration`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use crashctl::config::{Config, Location};
use crashctl::processor::{ProcessorOptions, SymbolOptions, DEFAULT_MAX_CACHED_MODULES, DEFAULT_TIMEOUT};
use crashctl::queue::CrashQueue;
use crashctl::remote::RemoteOptions;
use crashctl::spool::Spool;
use crashctl::store::CrashStore;
pub use crashctl::Format;

/// Help headings (the same words in every command's `--help` and man page).
pub const LOCATIONS: &str = "Locations";
pub const REMOTE: &str = "Remote backends";
pub const OUTPUT: &str = "Output";
pub const PROCESSING: &str = "Processing";
pub const TUNING: &str = "Tuning";
pub const CRASH_STATS: &str = "Crash Stats";

/// Options every command takes (before or after the subcommand).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Less on stderr: no progress, status lines or summaries (errors and data stay)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More on stderr: which spool, store and queues, each crash, each request and its attempts
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Config file (TOML with spool, store, queue; relative paths in it are relative to the
    /// file); default ./crashctl.toml when present
    #[arg(long, global = true, env = "CRASHCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The spool directory (the collector's disk queue).
#[derive(Debug, Clone, Args)]
pub struct SpoolArg {
    /// Spool directory [env: CRASHCTL_SPOOL; config: spool; default: ./crashctl-data/spool]
    #[arg(long, env = "CRASHCTL_SPOOL", value_name = "DIR", hide_env = true, help_heading = LOCATIONS)]
    pub spool: Option<String>,
}

/// The crash store.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Crash store: a directory (v1 bucket layout, or a fetch-data folder), s3://BUCKET[/PREFIX],
    /// or gs://BUCKET[/PREFIX] (GCS: $STORAGE_EMULATOR_HOST, else Application Default
    /// Credentials) [env: CRASHCTL_STORE; config: store; default: ./crashctl-data/store]
    #[arg(long, env = "CRASHCTL_STORE", value_name = "DIR|s3://BUCKET[/PREFIX]|gs://BUCKET[/PREFIX]", hide_env = true, help_heading = LOCATIONS)]
    pub store: Option<String>,
}

/// The queues.
#[derive(Debug, Clone, Args)]
pub struct QueueArg {
    /// Queues: a directory holding the priority, standard and reprocessing queues,
    /// sqs://PREFIX (queues PREFIX-standard, PREFIX-priority, PREFIX-reprocessing),
    /// sqs://?standard=URL&priority=URL&reprocessing=URL, or
    /// pubsub://PROJECT[?standard=TOPIC:SUB&priority=...&reprocessing=...] (Google Pub/Sub;
    /// Socorro's PUBSUB_*_NAME settings by default; $PUBSUB_EMULATOR_HOST, else Application
    /// Default Credentials) [env: CRASHCTL_QUEUE; config: queue; default: ./crashctl-data/queue]
    #[arg(long, env = "CRASHCTL_QUEUE", value_name = "DIR|sqs://PREFIX|pubsub://PROJECT", hide_env = true, help_heading = LOCATIONS)]
    pub queue: Option<String>,
}

/// Settings of the remote backends (s3:// and gs:// stores, sqs:// and pubsub:// queues; the
/// Google ones take their settings from Google's environment variables). A new backend adds its
/// flags here, so every command that opens a store or queue gets them.
#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Endpoint of an S3-compatible server for s3:// stores (MinIO, moto,
    /// https://storage.googleapis.com) [default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS]
    #[arg(long, value_name = "URL", help_heading = REMOTE)]
    pub s3_endpoint_url: Option<String>,
    /// Path-style S3 addressing (http://host/bucket/key); on by default when an endpoint URL is
    /// set (--s3-path-style=false turns it off)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = REMOTE)]
    pub s3_path_style: Option<bool>,
    /// AWS region of the bucket [default: $AWS_REGION, the profile's region, else us-east-1]
    #[arg(long, value_name = "REGION", help_heading = REMOTE)]
    pub s3_region: Option<String>,
    /// Create the bucket of an s3:// or gs:// store when it does not exist (else that is an error)
    #[arg(long, help_heading = REMOTE)]
    pub create_bucket: bool,
    /// Endpoint of an SQS-compatible server for sqs:// queues (moto, ElasticMQ)
    /// [default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, else AWS]
    #[arg(long, value_name = "URL", help_heading = REMOTE)]
    pub sqs_endpoint_url: Option<String>,
    /// AWS region of the queues [default: $AWS_REGION, the profile's region, else us-east-1]
    #[arg(long, value_name = "REGION", help_heading = REMOTE)]
    pub sqs_region: Option<String>,
    /// Create missing SQS queues and their -failed dead-letter queues, or Pub/Sub topics and
    /// subscriptions and their -failed ones (else a missing one is an error naming it)
    #[arg(long, help_heading = REMOTE)]
    pub create_queues: bool,
}

impl RemoteArgs {
    /// The S3 settings given on the command line (the rest comes from the AWS environment).
    pub fn s3(&self) -> RemoteOptions {
        RemoteOptions {
            endpoint_url: self.s3_endpoint_url.clone(),
            path_style: self.s3_path_style,
            region: self.s3_region.clone(),
            create: self.create_bucket,
            ..RemoteOptions::default()
        }
    }

    /// The SQS settings given on the command line (the rest comes from the AWS environment).
    pub fn sqs(&self) -> RemoteOptions {
        RemoteOptions {
            endpoint_url: self.sqs_endpoint_url.clone(),
            region: self.sqs_region.clone(),
            create: self.create_queues,
            ..RemoteOptions::default()
        }
    }
}

impl SpoolArg {
    /// The spool location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, config: &Config) -> Option<String> {
        config.location(Location::Spool, self.spool.as_deref())
    }

    /// Opens the spool (flag, env, config file, else the default).
    pub fn open(&self, config: &Config, create: bool) -> anyhow::Result<Spool> {
        let loc = or_default(config, Location::Spool, self.spool.as_deref());
        crashctl::remote::check_scheme("spool", &loc, &[])?; // a spool is a local directory
        Spool::open(loc, create)
    }
}

impl StoreArg {
    /// The store location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, config: &Config) -> Option<String> {
        config.location(Location::Store, self.store.as_deref())
    }

    /// Opens the store (flag, env, config file, else the default).
    pub fn open(&self, config: &Config, remote: &RemoteArgs, create: bool) -> anyhow::Result<Arc<dyn CrashStore>> {
        let loc = or_default(config, Location::Store, self.store.as_deref());
        crashctl::store::open_with(&loc, create, &remote.s3())
    }
}

impl QueueArg {
    /// The queue location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, config: &Config) -> Option<String> {
        config.location(Location::Queue, self.queue.as_deref())
    }

    /// Opens the queues (flag, env, config file, else the default).
    pub fn open(&self, config: &Config, remote: &RemoteArgs, create: bool) -> anyhow::Result<Arc<dyn CrashQueue>> {
        let loc = or_default(config, Location::Queue, self.queue.as_deref());
        crashctl::queue::open_with(&loc, create, &remote.sqs())
    }
}

/// `--quiet`, for the few status lines printed where no `ui::Context` is at hand (set by it) (see
/// [`default_location`]).
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says (once per location, unless `--quiet`) that a command fell back to the default
/// location, so data never goes to `./crashctl-data/...` silently.
pub fn default_location(what: &str, path: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) || said.iter().any(|w| w == what) {
        return;
    }
    said.push(what.to_string());
    crate::ui::errln!(
        "crashctl: no --{what} given (nor CRASHCTL_{}, nor a config file): using {path}",
        what.to_uppercase()
    );
}

/// The location (flag, env, config file), else the default, which is said once on stderr.
fn or_default(config: &Config, which: Location, flag: Option<&str>) -> String {
    config.location(which, flag).unwrap_or_else(|| {
        let path = which.default_path();
        default_location(which.name(), &path);
        path
    })
}

/// How many at once.
#[derive(Debug, Clone, Args)]
pub struct JobsArg {
    /// How many crashes to work on at once [default: the number of cores]
    #[arg(short = 'j', long = "concurrency", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = TUNING)]
    pub concurrency: Option<u32>,
}

impl JobsArg {
    /// The number given, or the number of cores.
    pub fn get(&self) -> usize {
        self.concurrency
            .map(|n| n as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }
}

/// A value parser for `--format` that accepts only `allowed` (and their hidden aliases);
/// `--help` and completions list exactly those.
pub fn formats(allowed: &'static [Format]) -> impl TypedValueParser<Value = Format> {
    let values =
        allowed.iter().map(|f| PossibleValue::new(f.name()).help(f.help()).aliases(f.aliases().iter().copied()));
    PossibleValuesParser::new(values).map(|s| Format::from_name(&s).unwrap_or(Format::Text))
}

/// `--format` and its short spelling `--json`. A command restricts the values with
/// `#[command(mut_arg("format", |a| a.value_parser(formats(&[...]))))]`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format [default: text]
    #[arg(long, value_name = "FORMAT", value_parser = formats(&[Format::Text, Format::Json]), help_heading = OUTPUT)]
    pub format: Option<Format>,
    /// Short for --format json
    #[arg(long, conflicts_with = "format", help_heading = OUTPUT)]
    pub json: bool,
}

impl OutputArgs {
    pub fn get(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Text)
        }
    }
}

/// How crashes are processed: `process` and `reprocess --now` flatten this one group.
#[derive(Debug, Clone, Args)]
pub struct ProcessingArgs {
    /// A local symbols directory (`<debug_file>/<DEBUG_ID>/<file>.sym`); repeatable
    #[arg(long = "symbols-path", value_name = "DIR", help_heading = PROCESSING)]
    pub symbols_path: Vec<PathBuf>,

    /// A symbol server URL (Tecken/Breakpad layout), tried in order; repeatable
    #[arg(long = "symbols-url", value_name = "URL", help_heading = PROCESSING)]
    pub symbols_url: Vec<String>,

    /// Where downloaded symbols are cached [default: $TMPDIR/rust-minidump-cache]
    #[arg(long = "symbols-cache", value_name = "DIR", help_heading = PROCESSING)]
    pub symbols_cache: Option<PathBuf>,

    /// Folder of Socorro signature lists (irrelevant, prefix, line numbers, sentinels);
    /// default: the built-in lists
    #[arg(long, value_name = "DIR", help_heading = PROCESSING)]
    pub siglists: Option<PathBuf>,

    /// Longest time one dump may take to stackwalk; past it the walk is abandoned (status
    /// `timeout`, with a note) and the run goes on
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m", help_heading = TUNING)]
    pub timeout: Duration,

    /// Bound on the in-memory symbol cache, in modules: past it the next crashes start a fresh
    /// cache (symbols are read again as needed), so a long run does not grow for ever; 0: no bound
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CACHED_MODULES, help_heading = TUNING)]
    pub symbol_cache_modules: u64,

    #[command(flatten)]
    pub jobs: JobsArg,
}

impl ProcessingArgs {
    pub fn processor_options(&self) -> ProcessorOptions {
        ProcessorOptions {
            symbols: SymbolOptions {
                paths: self.symbols_path.clone(),
                urls: self.symbols_url.clone(),
                cache: self.symbols_cache.clone(),
                download_timeout: DEFAULT_TIMEOUT,
                max_cached_modules: (self.symbol_cache_modules > 0).then_some(self.symbol_cache_modules),
            },
            siglists: self.siglists.clone(),
            timeout: self.timeout,
            concurrency: self.jobs.get(),
        }
    }
}

/// The one duration grammar of every flag: `30s`, `500ms`, `5m`, `2h`, `1d`, `1h 30m`, or a
/// bare number meaning seconds (`30`, `0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(t).map_err(|e| format!("{e} (a number of seconds, or e.g. 30s, 500ms, 5m, 2h, 1d)"))
}

/// A duration that must not be zero (an interval to sleep between scans).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be more than 0 (e.g. 1s, 500ms)".into()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn one_duration_grammar() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("30s"));
        assert!(parse_interval("0").is_err());
    }

    /// A command that takes both a store and queues, as move/process/collect do.
    #[derive(Debug, Parser)]
    struct Both {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        queue: QueueArg,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        output: OutputArgs,
    }

    #[test]
    fn remote_flags_coexist_and_reach_the_backends() {
        Both::command().debug_assert();
        let args = [
            "t",
            "--store=s3://crashes/prod",
            "--s3-endpoint-url=http://127.0.0.1:9000",
            "--s3-path-style=false",
            "--create-bucket",
            "--queue=sqs://socorro",
            "--sqs-region=eu-west-1",
            "--create-queues",
        ];
        let b = Both::try_parse_from(args).unwrap();
        let s = b.remote.s3();
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!((s.path_style, s.create), (Some(false), true));
        let q = b.remote.sqs();
        assert_eq!((q.region.as_deref(), q.create, q.endpoint_url), (Some("eu-west-1"), true, None));
        let plain = Both::try_parse_from(["t", "--s3-path-style"]).unwrap();
        assert_eq!((plain.remote.s3().path_style, plain.remote.sqs().create), (Some(true), false));
    }

    #[test]
    fn json_is_short_for_format_json_and_formats_are_restricted() {
        assert_eq!(Both::try_parse_from(["t", "--json"]).unwrap().output.get(), Format::Json);
        assert_eq!(Both::try_parse_from(["t", "--format", "json"]).unwrap().output.get(), Format::Json);
        assert_eq!(Both::try_parse_from(["t"]).unwrap().output.get(), Format::Text);
        assert!(Both::try_parse_from(["t", "--format", "prometheus"]).is_err(), "not offered here");
        assert!(Both::try_parse_from(["t", "--json", "--format", "text"]).is_err());
    }
}

/// How to reach Crash Stats (`search`, `facet`, `fetch`, `signature`).
#[derive(Debug, Clone, Args)]
pub struct CrashStatsArgs {
    /// Crash Stats base URL
    #[arg(long, value_name = "URL", env = "CRASHSTATS_HOST", default_value = crashctl::crashstats::DEFAULT_HOST, help_heading = CRASH_STATS)]
    pub host: String,
    /// API token [default: $CRASHSTATS_API_TOKEN, then CRASHSTATS_API_TOKEN=... in ./.env];
    /// prefer the environment: arguments are visible to other users
    #[arg(long, value_name = "TOKEN", hide_default_value = true, help_heading = CRASH_STATS)]
    pub token: Option<crashctl::secret::Secret>,
    /// At most this many requests a minute (N/min or N/s) instead of adapting to 429 answers
    #[arg(long, value_name = "N/min", value_parser = crashctl::api::parse_rate, help_heading = CRASH_STATS)]
    pub rate: Option<u32>,
    /// Retries of one request after connection errors, 429 and 5xx
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = TUNING)]
    pub retries: u32,
    /// Timeout of one request
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = TUNING)]
    pub request_timeout: Duration,
    /// First retry backoff, doubled each retry (for tests)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, hide = true)]
    pub retry_base_delay: Duration,
}

impl CrashStatsArgs {
    pub fn options(&self) -> crashctl::crashstats::SessionOptions {
        crashctl::crashstats::SessionOptions {
            host: self.host.clone(),
            token: self.token.clone(),
            rate_per_min: self.rate,
            retry: crashctl::api::RetryPolicy {
                retries: self.retries,
                base_delay: self.retry_base_delay,
                ..crashctl::api::RetryPolicy::default()
            },
            timeout: self.request_timeout,
        }
    }
}

/// Retry messages of the Crash Stats client on stderr, unless `quiet`.
pub fn retry_notifier(quiet: bool) -> Arc<dyn Fn(&str) + Send + Sync> {
    Arc::new(move |m: &str| {
        if !quiet {
            eprintln!("crashctl: {m}");
        }
    })
}
