//! The operator's error type.

/// Everything that can go wrong in the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A feature of the operator that this build does not have yet.
    #[error("{0} is not available in this build yet")]
    NotYet(&'static str),
    /// The local runtime could not do its job.
    #[error("local runtime: {0}")]
    Local(String),
    /// A socket, file or process operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
