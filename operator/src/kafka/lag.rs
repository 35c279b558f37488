//! Consumer-group lag of a pipeline's topic, measured against the broker (the counting rule
//! is [`crate::scaling::sample`]'s).
//!
//! One measurement is four broker round trips, each bounded by the reader's timeout:
//! a metadata request for the topic (its partitions), one `OffsetFetch` for all partitions of the
//! group, and one `ListOffsets` each for the low and the high watermarks of all partitions. The
//! librdkafka calls block, so they run on tokio's blocking pool and never stall a reconcile.
//!
//! `OffsetFetch` needs a client whose `group.id` is the group's, so the reader keeps one consumer
//! handle per (bootstrap servers, client properties, group id), created on first use, shared by
//! every caller asking for the same key and reused across polls. The handle never subscribes or
//! joins the group, never commits and never fetches records.

use std::{collections::BTreeMap, fmt};

use rdkafka::error::KafkaError;

mod reader;

pub use reader::{DEFAULT_TIMEOUT, LagReader};

use crate::scaling::OffsetReset;

/// Why a lag measurement failed. Every variant is transient from the operator's point of view:
/// keep the current replicas and retry at the next poll.
#[derive(Debug, thiserror::Error)]
pub enum LagError {
    /// The client properties were refused by librdkafka.
    #[error("cannot create a Kafka client for group {group}: {source}")]
    Client {
        group: String,
        #[source]
        source: KafkaError,
    },
    /// The topic's metadata could not be fetched.
    #[error("cannot fetch metadata of topic {topic}: {source}")]
    Metadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The broker does not know the topic, or reports it without partitions.
    #[error("topic {topic} does not exist or has no partitions ({detail})")]
    TopicMissing { topic: String, detail: String },
    /// `OffsetFetch` of the group failed.
    #[error("cannot fetch committed offsets of group {group}: {source}")]
    Committed {
        group: String,
        #[source]
        source: KafkaError,
    },
    /// `ListOffsets` (watermarks) failed.
    #[error("cannot list offsets of topic {topic}: {source}")]
    Watermarks {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The broker answered, but not with an offset for one partition.
    #[error("{what} of {topic}/{partition} unavailable: {detail}")]
    Partition {
        what: &'static str,
        topic: String,
        partition: i32,
        detail: String,
    },
    /// The blocking task running the measurement did not complete.
    #[error("lag measurement task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What to measure: one pipeline's topic as read by its consumer group.
#[derive(Clone, PartialEq, Eq)]
pub struct LagTarget {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// Extra librdkafka client properties (security.protocol, sasl.*, ssl.*).
    pub properties: BTreeMap<String, String>,
    /// The pipeline's consumer group.
    pub group_id: String,
    /// The pipeline's topic.
    pub topic: String,
    /// The consumers' `auto.offset.reset`.
    pub offset_reset: OffsetReset,
}

impl fmt::Debug for LagTarget {
    /// Property values may be secrets (`sasl.password`): only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LagTarget")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .field("group_id", &self.group_id)
            .field("topic", &self.topic)
            .field("offset_reset", &self.offset_reset)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_debug_hides_property_values() {
        let target = LagTarget {
            bootstrap_servers: "b:9092".into(),
            properties: BTreeMap::from([("sasl.password".into(), "s3cret".into())]),
            group_id: "g".into(),
            topic: "t".into(),
            offset_reset: OffsetReset::Earliest,
        };
        let shown = format!("{target:?}");
        assert!(shown.contains("sasl.password"));
        assert!(!shown.contains("s3cret"));
    }
}
