//! The operator's only Kafka I/O: one client per connection, and through it the topic and lag
//! calls.
//!
//! Connection properties come from `spec.kafka.secretRef` (each key a librdkafka property),
//! read through the Kubernetes API ([`KafkaConnection`]). Clients are cached per connection
//! ([`KafkaAdmins`]), so every pipeline on the same cluster shares one client for its topic and
//! its lag measurements, whatever the number of consumer groups.

mod admin;
mod connection;
mod ffi;
pub mod lag;
mod refusal;
pub mod topic;

pub use admin::{KafkaAdmin, KafkaAdmins};
pub use connection::KafkaConnection;
pub use refusal::Refusals;

/// The broker's or librdkafka's error code of a failed call, admin operations included.
pub fn error_code(error: &rdkafka::error::KafkaError) -> Option<rdkafka::types::RDKafkaErrorCode> {
    match error {
        rdkafka::error::KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}
