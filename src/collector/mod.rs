//! The collector: turns a crash submission (HTTP request headers and body) into a crash in the
//! spool (or directly in the store, published to the `standard` queue: see [`Sink`]), answering
//! exactly as Mozilla's collector (Antenna) does. [`Collector::handle`] is the whole decision
//! for one request, without any HTTP server: the server ([`server`]) and the submitter's spool
//! target both call it.

pub mod budget;
pub mod metrics;
pub mod parse;
pub mod server;
pub mod sink;
mod submission;
pub mod throttle;

pub use budget::{MemoryBudget, Reservation, DEFAULT_MAX_MEMORY};
pub use metrics::Metrics;
pub use parse::{Limits, Malformed, Payload, Rejection, RequestInfo, DEFAULT_MAX_DUMPS};
pub use server::{serve, Event, ServeOptions};
pub use sink::Sink;
pub use submission::{
    finish_raw_crash, result_name, Answer, Collector, CollectorOptions, CrashRecord, DEFAULT_MAX_BODY,
    DEFAULT_MAX_DECOMPRESSED, PRIVATE_ANNOTATIONS,
};
pub use throttle::{Decision, Throttler};

#[cfg(test)]
mod tests;
