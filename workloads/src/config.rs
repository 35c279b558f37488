//! Argument groups shared by the subcommands, flattened into each of them.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Args;
use rdkafka::ClientConfig;

use eventflow_contract::{self as contract, logs::LogFormat, secret::ConnectionString};

use crate::{Result, error::Error};

/// How to reach Kafka.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, comma separated.
    #[arg(long = "kafka-bootstrap", env = contract::KAFKA_BOOTSTRAP, value_name = "HOST:PORT,...")]
    pub bootstrap: String,
    /// Extra librdkafka properties (security.protocol, sasl.*, ssl.*): a file of `key=value`
    /// lines, or a directory with one file per property (a mounted Secret).
    #[arg(long = "kafka-properties-file", env = contract::KAFKA_PROPERTIES_FILE, value_name = "PATH")]
    pub properties_file: Option<PathBuf>,
}

impl KafkaArgs {
    /// A librdkafka client configuration with the bootstrap servers and the extra properties.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        if let Some(path) = &self.properties_file {
            for (key, value) in eventflow_contract::properties::read(path)? {
                config.set(key, value);
            }
        }
        Ok(config)
    }
}

/// The text of a configured file; the error names the file.
pub fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// A duration as librdkafka's millisecond properties take it.
pub fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// Makes `config` an idempotent, `acks=all` producer whose messages fail when Kafka has not
/// acknowledged them within `timeout` (`message.timeout.ms`).
pub fn idempotent_producer(config: &mut ClientConfig, timeout: Duration) -> &mut ClientConfig {
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", millis(timeout))
}

/// Where the read model lives.
#[derive(Debug, Clone, Args)]
pub struct MongoArgs {
    /// MongoDB connection string.
    #[arg(long = "mongodb-uri", env = contract::MONGODB_URI, value_name = "URI", hide_env_values = true)]
    pub uri: ConnectionString,
    /// MongoDB database.
    #[arg(long = "mongodb-database", env = contract::MONGODB_DATABASE, default_value = "eventflow")]
    pub database: String,
    /// MongoDB collection that holds the events.
    #[arg(long = "mongodb-collection", env = contract::MONGODB_COLLECTION, default_value = "events")]
    pub collection: String,
}

/// Logging and the admin server.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format; the level comes from `RUST_LOG` (default `info`).
    #[arg(long = "log-format", env = contract::LOG_FORMAT, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Port of the admin server: `/healthz`, `/readyz`, `/metrics`.
    #[arg(long = "admin-port", env = contract::ADMIN_PORT, default_value_t = contract::DEFAULT_ADMIN_PORT)]
    pub admin_port: u16,
    /// Address the servers bind to.
    #[arg(long = "bind-address", env = contract::BIND_ADDRESS, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Pipeline name, attached to logs and metrics.
    #[arg(long = "pipeline", env = contract::PIPELINE, default_value = "default")]
    pub pipeline: String,
    /// Pipeline namespace: the metrics' `pipeline` label is `<namespace>/<pipeline>`.
    #[arg(long = "namespace", env = contract::NAMESPACE, default_value = "default")]
    pub namespace: String,
}

impl TelemetryArgs {
    /// The `pipeline` label of this process's metrics: `<namespace>/<pipeline>`.
    pub fn metrics_label(&self) -> String {
        contract::pipeline_key(&self.namespace, &self.pipeline)
    }
}
