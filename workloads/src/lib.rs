//! eventflow workloads: the processes the operator runs for an `EventPipeline`.
//!
//! One binary, `eventflow`, with a subcommand per role: `producer` (HTTP ingest into Kafka and
//! a query API over MongoDB), `consumer` (Kafka into MongoDB in batches) and `loadgen`.

pub mod admin;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod contract;
pub mod document;
pub mod error;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod loadgen;
pub mod producer;
pub mod telemetry;
pub mod testkit;

pub use error::{Error, Result};
