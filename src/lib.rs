//! crashctl: a crash toolkit that runs each stage of a Socorro-style crash pipeline (submit,
//! collect, move, process, requeue, reprocess, stats) against local directories or remote
//! endpoints. This library holds every stage's logic; the `crashctl` binary is a thin shell
//! over it (argument parsing, progress bars, exit codes).

pub mod api;
pub mod collector;
pub mod config;
pub mod crash;
pub mod crashstats;
pub mod error;
pub mod exit;
pub mod fsutil;
pub mod generate;
pub mod input;
pub mod mover;
pub mod processor;
pub mod progress;
pub mod queue;
pub mod remote;
pub mod report;
pub mod reprocess;
pub mod requeue;
pub mod secret;
pub mod siggen;
pub mod spool;
pub mod stats;
pub mod stop;
pub mod store;
pub mod submitter;
#[cfg(test)]
mod testutil;

pub use exit::ExitCode;
pub use report::Format;
