//! Integration tests: the real `crashctl` binary on temp-dir fixtures. One test binary, one
//! module per subcommand.

mod collect;
mod common;
mod direct;
mod faults;
mod general;
mod generate;
mod process;
mod remote;
mod stats;
mod submit;
