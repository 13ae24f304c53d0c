//! The command line: one clap definition for the whole tool, with argument groups shared by
//! the subcommands so the same idea has the same flag everywhere.

use std::path::PathBuf;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use crashctl::queue::CrashQueue;
use crashctl::remote::RemoteOptions;
use crashctl::spool::Spool;
use crashctl::store::CrashStore;

use crate::cmd;
use crate::ui::Context;

#[derive(Debug, Parser)]
#[command(
    name = "crashctl",
    version,
    about = "A crash toolkit: submit, collect, move, process, requeue, reprocess and inspect crashes",
    long_about = "crashctl runs each stage of a Socorro-style crash pipeline against local directories \
                  (the default: no server needed) or remote endpoints.\n\n\
                  Exit codes: 0 ok, 1 some items failed (or a stats threshold was crossed), \
                  2 usage or fatal error, 130 interrupted.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// No progress bars or status lines on stderr (CI=true does the same)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Config file (TOML with spool, store, queue); default ./crashctl.toml when present
    #[arg(long, global = true, env = "CRASHCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an HTTP crash collector that saves what crash reporters submit (spool, or store and queue)
    Collect(cmd::collect::Args),
    /// Submit crashes to a collector (or a spool), as a crash reporter does
    Submit(cmd::submit::Args),
    /// Move spooled crashes into the store and queue them for processing
    Move(cmd::move_::Args),
    /// Stackwalk, derive fields, sign and save processed crashes
    Process(cmd::process::Args),
    /// Put crash IDs back on a queue (stale claims, dead letters, quarantine, unprocessed)
    Requeue(cmd::requeue::Args),
    /// Show backlogs: spool, queues and store, as a table, JSON or Prometheus text
    Stats(cmd::stats::Args),
    /// Reprocess crashes, on Crash Stats or locally
    Reprocess(cmd::reprocess::Args),
    /// Run the whole local pipeline on generated crashes, in a folder of its own
    Demo(cmd::demo::Args),
    /// Generate realistic test crashes (valid minidumps) into a store, with matching symbols
    Generate(cmd::generate::Args),
    /// Print shell completions
    Completions(cmd::completions::Args),
    /// Print the man page (roff)
    Man,
}

/// The spool directory (the collector's disk queue).
#[derive(Debug, Clone, Args)]
pub struct SpoolArg {
    /// Spool directory [env: CRASHCTL_SPOOL; config: spool]
    #[arg(long, env = "CRASHCTL_SPOOL", value_name = "DIR", hide_env = true)]
    pub spool: Option<String>,
}

/// The crash store.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Crash store: a directory (v1 bucket layout, or a fetch-data folder), s3://BUCKET[/PREFIX], or gs://BUCKET[/PREFIX] (GCS: $STORAGE_EMULATOR_HOST, else Application Default Credentials) [env: CRASHCTL_STORE; config: store]
    #[arg(long, env = "CRASHCTL_STORE", value_name = "DIR|s3://BUCKET[/PREFIX]|gs://BUCKET[/PREFIX]", hide_env = true)]
    pub store: Option<String>,
    /// Endpoint of an S3-compatible server for s3:// stores (MinIO, moto, https://storage.googleapis.com) [default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS]
    #[arg(long, value_name = "URL")]
    pub s3_endpoint_url: Option<String>,
    /// Path-style S3 addressing (http://host/bucket/key); on by default when an endpoint URL is set (--s3-path-style=false turns it off)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub s3_path_style: Option<bool>,
    /// AWS region of the bucket [default: $AWS_REGION, the profile's region, else us-east-1]
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Create the bucket of an s3:// or gs:// store when it does not exist (else that is an error)
    #[arg(long)]
    pub create_bucket: bool,
}

/// The queues.
#[derive(Debug, Clone, Args)]
pub struct QueueArg {
    /// Queues: a directory holding the priority, standard and reprocessing queues, sqs://PREFIX (queues PREFIX-standard, PREFIX-priority, PREFIX-reprocessing), sqs://?standard=URL&priority=URL&reprocessing=URL, or pubsub://PROJECT[?standard=TOPIC:SUB&priority=...&reprocessing=...] (Socorro's PUBSUB_*_NAME settings by default; $PUBSUB_EMULATOR_HOST, else Application Default Credentials) [env: CRASHCTL_QUEUE; config: queue]
    #[arg(long, env = "CRASHCTL_QUEUE", value_name = "DIR|sqs://PREFIX|pubsub://PROJECT", hide_env = true)]
    pub queue: Option<String>,
    /// Endpoint of an SQS-compatible server for sqs:// queues (moto, ElasticMQ) [default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, else AWS]
    #[arg(long, value_name = "URL")]
    pub sqs_endpoint_url: Option<String>,
    /// AWS region of the queues [default: $AWS_REGION, the profile's region, else us-east-1]
    #[arg(long, value_name = "REGION")]
    pub sqs_region: Option<String>,
    /// Create missing SQS queues and their -failed dead-letter queues, or Pub/Sub topics and subscriptions and their -failed ones (else a missing one is an error naming it)
    #[arg(long)]
    pub create_queues: bool,
}

impl SpoolArg {
    /// The spool location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, ctx: &Context) -> anyhow::Result<Option<String>> {
        Ok(ctx.config()?.spool(self.spool.as_deref()))
    }

    /// Opens the spool (flag, env, config file, else `./crashctl-data/spool`).
    pub fn open(&self, ctx: &Context, create: bool) -> anyhow::Result<Spool> {
        let loc = ctx.config()?.spool_or_default(self.spool.as_deref());
        Spool::open(loc, create)
    }
}

impl StoreArg {
    /// The store location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, ctx: &Context) -> anyhow::Result<Option<String>> {
        Ok(ctx.config()?.store(self.store.as_deref()))
    }

    /// Opens the store (flag, env, config file, else `./crashctl-data/store`).
    pub fn open(&self, ctx: &Context, create: bool) -> anyhow::Result<Arc<dyn CrashStore>> {
        let loc = ctx.config()?.store_or_default(self.store.as_deref());
        crashctl::store::open_with(&loc, create, &self.remote())
    }

    /// The S3 settings given on the command line (the rest comes from the AWS environment).
    pub fn remote(&self) -> RemoteOptions {
        RemoteOptions {
            endpoint_url: self.s3_endpoint_url.clone(),
            path_style: self.s3_path_style,
            region: self.s3_region.clone(),
            create: self.create_bucket,
            ..RemoteOptions::default()
        }
    }
}

impl QueueArg {
    /// The queue location: flag or env, else the config file (`None` when neither says).
    pub fn location(&self, ctx: &Context) -> anyhow::Result<Option<String>> {
        Ok(ctx.config()?.queue(self.queue.as_deref()))
    }

    /// Opens the queues (flag, env, config file, else `./crashctl-data/queue`).
    pub fn open(&self, ctx: &Context, create: bool) -> anyhow::Result<Arc<dyn CrashQueue>> {
        let loc = ctx.config()?.queue_or_default(self.queue.as_deref());
        crashctl::queue::open_with(&loc, create, &self.remote())
    }

    /// The SQS settings given on the command line (the rest comes from the AWS environment).
    pub fn remote(&self) -> RemoteOptions {
        RemoteOptions {
            endpoint_url: self.sqs_endpoint_url.clone(),
            region: self.sqs_region.clone(),
            create: self.create_queues,
            ..RemoteOptions::default()
        }
    }
}

/// How many at once.
#[derive(Debug, Clone, Args)]
pub struct JobsArg {
    /// How many crashes to work on at once
    #[arg(short = 'j', long = "concurrency", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
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

/// Output format of batch commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text
    Text,
    /// JSON (JSON Lines for streams)
    Json,
}

/// Parses a duration like `90s`, `5m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 5m, 2h, 1d)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// A command that takes both a store and queues, as move/process/collect do.
    #[derive(Debug, Parser)]
    struct Both {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        queue: QueueArg,
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
        let s = b.store.remote();
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!((s.path_style, s.create), (Some(false), true));
        let q = b.queue.remote();
        assert_eq!((q.region.as_deref(), q.create, q.endpoint_url), (Some("eu-west-1"), true, None));
        let plain = Both::try_parse_from(["t", "--s3-path-style"]).unwrap();
        assert_eq!((plain.store.remote().path_style, plain.queue.remote().create), (Some(true), false));
    }
}
