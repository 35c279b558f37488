//! The workloads' error type.

use std::path::PathBuf;

/// Everything that can go wrong in a workload process.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Kafka refused or failed an operation.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// MongoDB refused or failed an operation.
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    /// A contract input (the Kafka properties) could not be read, or the admin server not bound.
    #[error(transparent)]
    Contract(#[from] eventflow_contract::Error),
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The consumer did not flush and commit within its shutdown deadline.
    #[error("the consumer did not stop within {0:?} of the shutdown signal")]
    ShutdownTimeout(std::time::Duration),
    /// A metric could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// `Result` with the workloads' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
