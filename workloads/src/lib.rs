//! eventflow workloads: the processes the operator runs for an `EventPipeline`.
//!
//! One binary, `eventflow`, with a subcommand per role: `producer` (HTTP ingest into Kafka and
//! a query API over MongoDB), `consumer` (Kafka into MongoDB in batches) and `loadgen`.

pub mod cli;
pub mod config;
pub mod consumer;
pub mod document;
pub mod error;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod kafka_log;
pub mod loadgen;
pub mod producer;
/// Test helpers (dev services, private servers, unique names): only with the `testkit` feature,
/// which the workspace's tests and benchmarks turn on; not part of the library's API.
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{Error, Result};
