//! Integration tests: the real `crashctl` binary on temp-dir fixtures. One test binary, one
//! module per subcommand.

mod common;
mod general;
mod generate;
mod reprocess;
