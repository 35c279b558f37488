//! librdkafka's log lines and client errors in a workload: failures of the process's Kafka
//! connection, written through its [`Outage`] (one line when it starts failing, bounded
//! summaries, one line when a broker is up again), so a dead broker cannot flood the log.

use eventflow_contract::outage::Outage;
use rdkafka::{Statistics, config::RDKafkaLogLevel, error::KafkaError};

/// The outage log of the connection to `bootstrap`.
pub fn outage(bootstrap: &str) -> Outage {
    Outage::new(format!("Kafka at {bootstrap}"))
}

/// A librdkafka log line: warnings and worse are failures of the connection, the rest debug.
pub fn log(outage: &Outage, level: RDKafkaLogLevel, facility: &str, message: &str) {
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
