//! Consumer-group lag of a pipeline's topic, measured against the broker (the counting rule
//! is [`crate::scaling::sample`]'s).
//!
//! One measurement is these broker round trips, each bounded by the reader's timeout: a
//! metadata request for the topic (its partitions), one `OffsetFetch` for all partitions of the
//! group (librdkafka's `ListConsumerGroupOffsets`, after a `FindCoordinator` it caches), one
//! `ListOffsets` each for the low and the high watermarks of all partitions, and, for who holds
//! the partitions ([`assignment`]; its failure only leaves that part out), librdkafka's group
//! listing: a `ListGroups` to every broker, then a `DescribeGroups` of the group. The librdkafka
//! calls block, so they run on tokio's blocking pool and never stall a reconcile.
//!
//! The calls go through the connection's one client ([`crate::kafka::KafkaAdmins`]), whose
//! `group.id` plays no part: the group is named in each request. The client never joins a
//! group, never commits and never fetches records.

use rdkafka::error::KafkaError;

mod assignment;
mod reader;

pub use reader::{DEFAULT_TIMEOUT, LagReader};

use crate::{crd::EventPipeline, scaling::OffsetReset};

/// Why a lag measurement failed. Every variant is transient from the operator's point of view:
/// keep the current replicas and retry at the next poll.
#[derive(Debug, thiserror::Error)]
pub enum LagError {
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

/// What to measure: one pipeline's topic as read by its consumer group (the connection is the
/// client's, [`crate::kafka::KafkaConnection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagTarget {
    /// The pipeline's consumer group.
    pub group_id: String,
    /// The pipeline's topic.
    pub topic: String,
    /// The consumers' `auto.offset.reset`.
    pub offset_reset: OffsetReset,
}

impl LagTarget {
    /// `pipeline`'s topic as read by its consumer group, which starts from the earliest offset.
    pub fn of(pipeline: &EventPipeline) -> Self {
        Self {
            group_id: pipeline.group_id(),
            topic: pipeline.topic_name(),
            offset_reset: OffsetReset::Earliest,
        }
    }
}
