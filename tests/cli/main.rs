//! Integration tests: the real `crashctl` binary on temp-dir fixtures. One test binary, one
//! module per subcommand.

mod collect;
mod common;
mod general;
mod generate;
mod process;
mod remote;
mod reprocess;
mod stats;
mod submit;
