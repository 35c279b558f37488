//! Argument groups shared by the subcommands, flattened into each of them.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::Args;
use rdkafka::ClientConfig;

use crate::{Result, contract, error::Error};

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
            for (key, value) in read_properties(path)? {
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

/// Reads librdkafka properties from a `key=value` file or a directory of one file per key
/// (hidden entries such as a mounted Secret's `..data` are skipped).
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>> {
    if !path.is_dir() {
        let text = read_file(path)?;
        return parse_properties(&text)
            .map_err(|problem| Error::Config(format!("{}: {problem}", path.display())));
    }
    let mut properties = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry_path = entry?.path();
        let Some(key) = entry_path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if key.starts_with('.') || entry_path.is_dir() {
            continue;
        }
        properties.push((key.to_owned(), read_file(&entry_path)?.trim().to_owned()));
    }
    properties.sort();
    Ok(properties)
}

/// Makes `config` an idempotent, `acks=all` producer whose messages fail when Kafka has not
/// acknowledged them within `timeout` (`message.timeout.ms`).
pub fn idempotent_producer(config: &mut ClientConfig, timeout: Duration) -> &mut ClientConfig {
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", millis(timeout))
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped. A line that is not
/// `key=value` (`security.protocol: SSL`, a lone word) is an error naming it, never skipped:
/// a silently dropped security setting would connect in plain text.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value.trim().to_owned()))
            }
            _ => Err(format!("line {number} is not `key=value`: {line}")),
        })
        .collect()
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
    fn properties_come_from_a_directory_of_files() {
        let dir = std::env::temp_dir().join(crate::testkit::unique_name("props"));
        std::fs::create_dir_all(dir.join("..data")).unwrap();
        std::fs::write(dir.join("sasl.mechanism"), "PLAIN\n").unwrap();
        std::fs::write(dir.join("security.protocol"), "SASL_SSL").unwrap();
        let properties = read_properties(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            properties,
            vec![
                ("sasl.mechanism".to_owned(), "PLAIN".to_owned()),
                ("security.protocol".to_owned(), "SASL_SSL".to_owned())
            ]
        );
    }

    #[test]
    fn properties_skip_comments_and_blanks() {
        let parsed =
            parse_properties("# sasl\nsecurity.protocol = SASL_SSL\n\nsasl.mechanism=PLAIN\n");
        assert_eq!(
            parsed.unwrap(),
            vec![
                ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
                ("sasl.mechanism".to_owned(), "PLAIN".to_owned())
            ]
        );
    }

    /// Found by the `kafka_properties` fuzz target: such lines were dropped without a word.
    #[test]
    fn a_line_that_is_not_key_value_is_an_error_naming_it() {
        for (text, line) in [
            ("security.protocol: SASL_SSL", "line 1 "),
            ("# tls\nssl.ca.location=/ca.pem\nSASL_SSL", "line 3 "),
            ("=PLAIN", "line 1 "),
        ] {
            let error = parse_properties(text).unwrap_err();
            assert!(
                error.starts_with(line) && error.contains("key=value"),
                "{error}"
            );
        }
        let path = std::env::temp_dir().join(crate::testkit::unique_name("props"));
        std::fs::write(&path, "security.protocol SSL\n").unwrap();
        let error = read_properties(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}
