//! The operator's error type.

/// Everything that can go wrong in the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline's spec cannot be turned into a running pipeline; waits for a change.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A Secret or one of its keys that the pipeline refers to is missing or unreadable.
    #[error("secret {name}: {reason}")]
    Secret { name: String, reason: String },
    /// The Kubernetes API refused or failed a request.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// Kafka refused or failed an admin operation.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// An admin call failed after the broker refused the connection's credentials (SASL) or
    /// its TLS handshake: `reason` is librdkafka's account of the refusal, never a secret.
    #[error(
        "kafka refused the connection's credentials or TLS: {reason} (the call failed: {call})"
    )]
    KafkaRefused { reason: String, call: Box<Error> },
    /// Kafka answered an admin operation for one resource with an error.
    #[error("kafka {operation} {resource}: {message}")]
    KafkaResource {
        operation: &'static str,
        resource: String,
        message: String,
    },
    /// A deleted pipeline's cleanup failed `attempts` times; the next attempt is due in `wait`
    /// (not a failure of this reconcile: [`crate::controller::error_policy`] requeues for then).
    #[error("cleanup of the deleted pipeline failed {attempts} time(s); next attempt in {wait:?}")]
    CleanupWaiting {
        attempts: u32,
        wait: std::time::Duration,
    },
    /// kube's finalizer helper could not add or remove the finalizer (the reconcile's own
    /// errors come through it unwrapped, see the `From` impl).
    #[error("{0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    /// A value could not be serialised.
    #[error("serialisation: {0}")]
    Serialization(#[from] serde_json::Error),
    /// A metric could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A workload-side helper failed (admin server).
    #[error("{0}")]
    Workloads(#[from] eventflow_contract::Error),
    /// Leader election failed in a way that ends the process.
    #[error("leader election: {0}")]
    Leader(String),
    /// A pipeline file of the local runtime gives no pipeline.
    #[error("{}: {problem}", path.display())]
    PipelineFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: crate::local::pipeline_file::FileProblem,
    },
    /// The local runtime could not do its job.
    #[error("local runtime: {0}")]
    Local(String),
}

impl Error {
    /// A short, stable label for metrics (`errors_total{kind=...}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "invalid_spec",
            Self::Secret { .. } => "secret",
            Self::Kube(_) => "kubernetes",
            Self::Kafka(_) | Self::KafkaRefused { .. } | Self::KafkaResource { .. } => "kafka",
            Self::Finalizer(_) => "finalizer",
            Self::CleanupWaiting { .. } => "cleanup_waiting",
            Self::Serialization(_) => "serialization",
            Self::Metrics(_) => "metrics",
            Self::Io(_) => "io",
            Self::Workloads(_) => "workloads",
            Self::Leader(_) => "leader",
            Self::Local(_) | Self::PipelineFile { .. } => "local",
        }
    }

    /// Whether retrying without a change of the pipeline cannot help (the reconcile of an
    /// invalid spec writes `Ready=False` and then fails with [`Error::InvalidSpec`]).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::InvalidSpec(_))
    }
}

impl From<kube::runtime::finalizer::Error<Error>> for Error {
    fn from(error: kube::runtime::finalizer::Error<Error>) -> Self {
        use kube::runtime::finalizer::Error as Finalizer;
        match error {
            Finalizer::ApplyFailed(error) | Finalizer::CleanupFailed(error) => error,
            other => Self::Finalizer(Box::new(other)),
        }
    }
}

/// `Result` with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
