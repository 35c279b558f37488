//! Settings of `eventflow-operator local`.

use std::path::PathBuf;

use clap::Args;
use eventflow_contract::{self as contract, secret::ConnectionString};

/// Run one `EventPipeline` on this machine: the topic through the operator's Kafka code, the
/// producer and consumers as local processes with the env the operator would give their pods,
/// and the same lag-based scaling deciding how many consumers run.
///
/// The file's `kafka.bootstrapServers` and `sink.mongodb.uriSecretRef` name in-cluster
/// addresses; locally, Kafka and MongoDB come from `--kafka-bootstrap` and `--mongodb-uri` (or
/// their environment variables). When neither is given, the dev services are installed (first
/// run only) and started for this run, and stopped when it ends.
#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// The pipeline file: the same YAML you would `kubectl apply`.
    #[arg(short = 'f', long = "file", value_name = "PIPELINE.yaml")]
    pub file: PathBuf,
    /// Which pipeline of a multi-document file to run (by `metadata.name`).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the status as one JSON object per line (for scripts) instead of a status line. Both
    /// carry the Grafana dashboard's figures: lag and its trend, consumers current/desired/max and
    /// the scaling rule, ingest rate and p99, 4xx/5xx, write rate, batch p99, dead letters,
    /// readiness (docs/observability.md). The runtime's own log lines are JSON too.
    #[arg(long)]
    pub json: bool,
    /// Kafka bootstrap servers; with `--mongodb-uri`, no dev services are started.
    #[arg(long, env = contract::KAFKA_BOOTSTRAP, requires = "mongodb_uri")]
    pub kafka_bootstrap: Option<String>,
    /// MongoDB connection string.
    #[arg(long, env = contract::MONGODB_URI, requires = "kafka_bootstrap", hide_env_values = true)]
    pub mongodb_uri: Option<ConnectionString>,
    /// librdkafka properties for a pipeline with `kafka.secretRef` (file or directory).
    #[arg(long, env = contract::KAFKA_PROPERTIES_FILE)]
    pub kafka_properties_file: Option<PathBuf>,
    /// Bearer tokens for a pipeline with `producer.auth`, one per line.
    #[arg(long, env = contract::AUTH_TOKENS_FILE)]
    pub auth_tokens_file: Option<PathBuf>,
    /// JWT verification key for a pipeline with `producer.auth.jwt` (HS256 secret, PEM public
    /// keys or a JWKS document).
    #[arg(long, env = contract::JWT_KEY_FILE)]
    pub jwt_key_file: Option<PathBuf>,
    /// Port of the producer API (`POST /v1/events`).
    #[arg(long, env = "EVENTFLOW_LOCAL_HTTP_PORT", default_value_t = contract::DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// Port of the runtime's own `/metrics`, `/healthz`, `/readyz`.
    #[arg(long, env = "EVENTFLOW_LOCAL_METRICS_PORT", default_value_t = contract::DEFAULT_ADMIN_PORT)]
    pub metrics_port: u16,
    /// The `eventflow` workload binary (default: next to this executable, else on `PATH`).
    #[arg(long, env = "EVENTFLOW_WORKLOAD_BIN")]
    pub workload_bin: Option<PathBuf>,
    /// Directory for the workloads' logs and files (default: a new one under the system temp dir).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
}
