//! librdkafka's log lines and client errors in a workload: failures of the process's Kafka
//! connection, written through its one [`Outage`] per bootstrap servers (one line when it
//! starts failing, bounded summaries, one line when a broker is up again), shared by every
//! client of the process, so a dead broker cannot flood the log.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use eventflow_contract::outage::Outage;
use rdkafka::{
    ClientConfig, ClientContext, Statistics, config::RDKafkaLogLevel, consumer::ConsumerContext,
    error::KafkaError,
};

/// The process's outage log of the connection to `bootstrap`.
pub fn outage(bootstrap: &str) -> Arc<Outage> {
    static OUTAGES: OnceLock<Mutex<HashMap<String, Arc<Outage>>>> = OnceLock::new();
    let mut outages = OUTAGES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let outage = outages
        .entry(bootstrap.to_owned())
        .or_insert_with(|| Arc::new(Outage::new(format!("Kafka at {bootstrap}"))));
    Arc::clone(outage)
}

/// The outage log of the connection `config` names.
pub fn outage_of(config: &ClientConfig) -> Arc<Outage> {
    outage(config.get("bootstrap.servers").unwrap_or_default())
}

/// librdkafka's facility for a configuration it ignores or overrides: said once at start, not a
/// failure of the connection.
const CONFIGURATION_WARNING: &str = "CONFWARN";

/// A librdkafka log line: warnings and worse are failures of the connection (a configuration
/// warning is a warning of its own), the rest debug.
pub fn log(outage: &Outage, level: RDKafkaLogLevel, facility: &str, message: &str) {
    if facility == CONFIGURATION_WARNING {
        tracing::warn!(facility, "librdkafka: {message}");
        return;
    }
    let failure = matches!(
        level,
        RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning
    );
    if failure {
        outage.failed(&format!("librdkafka {facility}: {message}"));
    } else {
        tracing::debug!(facility, "librdkafka: {message}");
    }
}

/// A librdkafka client-level error: a failure of the connection.
pub fn error(outage: &Outage, error: &KafkaError, reason: &str) {
    outage.failed(&format!("{error}: {reason}"));
}

/// librdkafka's periodic statistics: a broker connection that is up ends the outage.
pub fn stats(outage: &Outage, statistics: &Statistics) {
    if outage.is_failing() && statistics.brokers.values().any(|b| b.state == "UP") {
        outage.recovered();
    }
}

/// A client whose context has the connection's outage log.
pub trait WithOutage {
    /// The outage log of the client's connection.
    fn outage(&self) -> &Outage;
}

/// The librdkafka context of a client that needs nothing but its log lines and errors written
/// through the connection's outage log.
#[derive(Debug, Clone)]
pub struct OutageLogContext {
    outage: Arc<Outage>,
}

impl OutageLogContext {
    /// The context of a client over `config`.
    pub fn of(config: &ClientConfig) -> Self {
        Self {
            outage: outage_of(config),
        }
    }
}

impl ClientContext for OutageLogContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(&self.outage, level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self::error(&self.outage, &error, reason);
    }
}

impl ConsumerContext for OutageLogContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_warning_is_no_failure_of_the_connection() {
        let outage = Outage::new("Kafka at test:9092");
        let warning = RDKafkaLogLevel::Warning;
        log(
            &outage,
            warning,
            "CONFWARN",
            "property x is a consumer property",
        );
        assert!(!outage.is_failing());
        log(
            &outage,
            warning,
            "FAIL",
            "test:9092/bootstrap: Connect failed",
        );
        assert!(outage.is_failing());
    }
}
