//! Integration tests: the real `crashctl` binary on temp-dir fixtures. One test binary, one
//! module per subcommand.

mod collect;
mod common;
mod crashstats;
mod demo;
mod direct;
mod exit_codes;
mod faults;
mod gcs;
mod general;
mod generate;
mod move_;
mod pipeline_remote;
mod process;
mod queue;
mod remote;
mod reprocess;
mod requeue;
mod standin;
mod stats;
mod submit;
