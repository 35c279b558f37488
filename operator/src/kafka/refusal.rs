//! The last time the broker refused a client's credentials or its TLS handshake, so that an
//! admin call that then fails says why ([`Refusals::explain`]) instead of "broker transport
//! failure" or "timed out" only.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use rdkafka::types::RDKafkaErrorCode;

use crate::Error;

/// The refusals one client saw.
#[derive(Debug, Default)]
pub struct Refusals {
    refused: Mutex<Option<Refusal>>,
}

/// A failed SASL login or TLS handshake, as librdkafka reported it.
#[derive(Debug, Clone)]
struct Refusal {
    /// librdkafka's text: the mechanism and the broker's reason, or the TLS failure (never a
    /// property value: librdkafka does not print the password).
    reason: String,
    at: Instant,
}

impl Refusals {
    /// Takes note of a client-level error librdkafka reported: a refused login or TLS
    /// handshake is remembered.
    pub fn record(&self, code: RDKafkaErrorCode, reason: &str) {
        if matches!(
            code,
            RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL
        ) {
            *self.lock() = Some(Refusal {
                reason: reason.to_owned(),
                at: Instant::now(),
            });
        }
    }

    /// `error`, the failure of a call that started at `started` and may take `timeout`, as
    /// [`Error::KafkaRefused`] when the broker refused the credentials or TLS since `timeout`
    /// before the call (librdkafka retries the login in the background, so a failure reported
    /// just before the call is still the cause); otherwise `error` unchanged.
    pub fn explain(&self, error: Error, started: Instant, timeout: Duration) -> Error {
        let refused = self.lock().clone();
        match refused {
            Some(refusal) if refusal.at + timeout >= started => Error::KafkaRefused {
                reason: refusal.reason,
                call: Box::new(error),
            },
            _ => error,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Refusal>> {
        // One assignment cannot leave the value inconsistent: a poisoned lock is still usable.
        self.refused.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    use rdkafka::error::KafkaError;

    fn timed_out() -> Error {
        Error::Kafka(KafkaError::MetadataFetch(
            RDKafkaErrorCode::OperationTimedOut,
        ))
    }

    #[test]
    fn a_refused_login_explains_the_call_that_failed_after_it() {
        let refusals = Refusals::default();
        let started = Instant::now();
        refusals.record(
            RDKafkaErrorCode::Authentication,
            "SASL authentication error: invalid credentials",
        );
        let explained = refusals.explain(timed_out(), started, TIMEOUT).to_string();
        assert!(
            explained.starts_with(
                "kafka refused the connection's credentials or TLS: SASL authentication error: \
                 invalid credentials (the call failed: kafka: Meta data fetch error"
            ),
            "{explained}"
        );
    }

    #[test]
    fn other_errors_and_old_refusals_explain_nothing() {
        let refusals = Refusals::default();
        refusals.record(RDKafkaErrorCode::AllBrokersDown, "1/1 brokers are down");
        let started = Instant::now();
        assert!(matches!(
            refusals.explain(timed_out(), started, TIMEOUT),
            Error::Kafka(_)
        ));
        refusals.record(RDKafkaErrorCode::SSL, "certificate verify failed");
        let much_later = Instant::now() + TIMEOUT * 2;
        assert!(matches!(
            refusals.explain(timed_out(), much_later, TIMEOUT),
            Error::Kafka(_)
        ));
        assert!(matches!(
            refusals.explain(timed_out(), started, TIMEOUT),
            Error::KafkaRefused { .. }
        ));
    }
}
