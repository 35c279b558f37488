//! Argument groups shared by the subcommands, flattened into each of them.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::Args;
use rdkafka::ClientConfig;

use crate::{Result, contract, error::Error};

/// How to reach Kafka.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, comma separated.
    #[arg(long = "kafka-bootstrap", env = contract::KAFKA_BOOTSTRAP, value_name = "HOST:PORT,...")]
    pub bootstrap: String,
    /// File of extra librdkafka properties, one `key=value` per line (security.protocol, sasl.*, ssl.*).
    #[arg(long = "kafka-properties-file", env = contract::KAFKA_PROPERTIES_FILE, value_name = "PATH")]
    pub properties_file: Option<PathBuf>,
}

impl KafkaArgs {
    /// A librdkafka client configuration with the bootstrap servers and the extra properties.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        if let Some(path) = &self.properties_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
                path: path.clone(),
                source,
            })?;
            for (key, value) in parse_properties(&text) {
                config.set(key, value);
            }
        }
        Ok(config)
    }
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped.
pub fn parse_properties(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
}

/// Where the read model lives.
#[derive(Debug, Clone, Args)]
pub struct MongoArgs {
    /// MongoDB connection string.
    #[arg(long = "mongodb-uri", env = contract::MONGODB_URI, value_name = "URI")]
    pub uri: String,
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
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Parses durations such as `5s`, `250ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 5s, 250ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn properties_skip_comments_and_blanks() {
        let parsed: Vec<_> =
            parse_properties("# sasl\nsecurity.protocol = SASL_SSL\n\nsasl.mechanism=PLAIN\n")
                .collect();
        assert_eq!(
            parsed,
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN")
            ]
        );
    }
}
