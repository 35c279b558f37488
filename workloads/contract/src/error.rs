//! The contract's error type.

use std::path::PathBuf;

/// What can go wrong reading the contract's inputs or serving the admin endpoints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A metric could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A librdkafka properties file has a line that is not `key=value`.
    #[error("{}: {problem}", path.display())]
    Properties {
        path: PathBuf,
        problem: crate::properties::NotKeyValue,
    },
    /// A socket operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the contract's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
