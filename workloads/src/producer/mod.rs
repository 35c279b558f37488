//! `eventflow producer`: HTTP ingest into Kafka and the query API over MongoDB.

use std::path::PathBuf;

use clap::Args;

use crate::{
    Error, Result,
    config::{KafkaArgs, MongoArgs, TelemetryArgs},
    contract,
};

/// Configuration of the producer.
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Kafka topic the events are written to.
    #[arg(long, env = contract::TOPIC)]
    pub topic: String,
    /// Event field whose value keys the Kafka message (`subject`, `type`, `data.userId`, ...).
    #[arg(long, env = contract::PARTITION_KEY, default_value = "subject")]
    pub partition_key: String,
    /// JSON Schema file that every event's `data` must satisfy.
    #[arg(long, env = contract::SCHEMA_FILE, value_name = "PATH")]
    pub schema_file: Option<PathBuf>,
    /// Allowed event types, comma separated (empty: any).
    #[arg(long, env = contract::ALLOWED_TYPES, value_delimiter = ',')]
    pub allowed_types: Vec<String>,
    /// File of accepted bearer tokens, one per line; when set, every /v1 route requires one.
    #[arg(long, env = contract::AUTH_TOKENS_FILE, value_name = "PATH")]
    pub auth_tokens_file: Option<PathBuf>,
    /// Port of the HTTP API.
    #[arg(long, env = contract::HTTP_PORT, default_value_t = contract::DEFAULT_HTTP_PORT)]
    pub http_port: u16,
}

/// Runs the producer until SIGTERM/SIGINT.
#[expect(clippy::unused_async, reason = "placeholder until the workload lands")]
pub async fn run(args: ProducerArgs) -> Result<()> {
    crate::telemetry::init(args.telemetry.log_format);
    Err(Error::Config(format!(
        "the producer for topic {} is not built yet",
        args.topic
    )))
}
