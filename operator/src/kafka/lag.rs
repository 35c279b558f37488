//! Consumer-group lag of a pipeline's topic, measured against the broker.
//!
//! Per partition, lag is the number of records the pipeline's consumers still have to read:
//! `high watermark − start`, where `start` is where the group will actually read next:
//!
//! - the group's **committed offset** when it lies within `[low watermark, high watermark]`;
//! - otherwise the **reset policy** (`auto.offset.reset` of the consumers) decides, exactly as it
//!   does for the consumer itself. A partition with **no committed offset**, or one whose
//!   committed offset fell below the low watermark (records deleted by retention), starts at
//!   the low watermark with [`OffsetReset::Earliest`] — it counts `high − low` — and at the high
//!   watermark with [`OffsetReset::Latest`] — it counts 0;
//! - a committed offset above the high watermark (the topic was recreated) counts 0.
//!
//! KEDA counts a partition without a commit as `high` (or as 0, or not at all, depending on
//! version and flags), which is its most reported class of bugs; this rule counts what the
//! consumer will really read, so an empty topic is 0 and a retention-trimmed topic is not
//! inflated by deleted records.
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

use chrono::{DateTime, Utc};
use rdkafka::error::KafkaError;

mod reader;

pub use reader::{DEFAULT_TIMEOUT, LagReader};

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

/// Where a consumer group without a usable committed offset starts reading
/// (the consumers' `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// From the oldest retained record (the workloads' default).
    #[default]
    Earliest,
    /// From the next record produced.
    Latest,
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

/// Lag of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Partition id.
    pub partition: i32,
    /// Offset of the next record to be produced.
    pub high_watermark: i64,
    /// The group's committed offset (the next record it will read), if any.
    pub committed: Option<i64>,
    /// Records still to read, by the rule in the module docs.
    pub lag: u64,
}

impl PartitionLag {
    /// Lag of a partition from its watermarks and committed offset, by the rule in the module docs.
    pub fn from_offsets(
        partition: i32,
        (low, high): (i64, i64),
        committed: Option<i64>,
        reset: OffsetReset,
    ) -> Self {
        let start = match committed {
            Some(offset) if offset >= low => offset,
            _ => match reset {
                OffsetReset::Earliest => low,
                OffsetReset::Latest => high,
            },
        };
        Self {
            partition,
            high_watermark: high,
            committed,
            lag: u64::try_from(high - start).unwrap_or(0),
        }
    }
}

/// One lag measurement of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagSample {
    /// Every partition of the topic, by partition id.
    pub per_partition: Vec<PartitionLag>,
    /// Sum of the partitions' lag.
    pub total: u64,
    /// Number of partitions with a lag above 0.
    pub partitions_with_lag: u32,
    /// When the measurement completed.
    pub measured_at: DateTime<Utc>,
}

impl LagSample {
    /// A sample from per-partition figures (sorted by partition), with the totals computed.
    pub fn new(mut per_partition: Vec<PartitionLag>, measured_at: DateTime<Utc>) -> Self {
        per_partition.sort_by_key(|p| p.partition);
        let total = per_partition.iter().map(|p| p.lag).sum();
        let with_lag = per_partition.iter().filter(|p| p.lag > 0).count();
        Self {
            per_partition,
            total,
            partitions_with_lag: u32::try_from(with_lag).unwrap_or(u32::MAX),
            measured_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_offset_within_the_watermarks_counts_from_the_commit() {
        let lag = PartitionLag::from_offsets(0, (10, 50), Some(30), OffsetReset::Earliest);
        assert_eq!(lag.lag, 20);
        let lag = PartitionLag::from_offsets(0, (10, 50), Some(30), OffsetReset::Latest);
        assert_eq!(lag.lag, 20);
    }

    #[test]
    fn no_commit_counts_from_low_watermark_with_earliest_and_zero_with_latest() {
        let earliest = PartitionLag::from_offsets(3, (10, 50), None, OffsetReset::Earliest);
        assert_eq!((earliest.partition, earliest.lag), (3, 40));
        let latest = PartitionLag::from_offsets(3, (10, 50), None, OffsetReset::Latest);
        assert_eq!(latest.lag, 0);
    }

    #[test]
    fn commit_below_low_watermark_is_reset_like_no_commit() {
        let earliest = PartitionLag::from_offsets(0, (10, 50), Some(4), OffsetReset::Earliest);
        assert_eq!(earliest.lag, 40);
        let latest = PartitionLag::from_offsets(0, (10, 50), Some(4), OffsetReset::Latest);
        assert_eq!(latest.lag, 0);
    }

    #[test]
    fn commit_above_high_watermark_counts_zero() {
        let lag = PartitionLag::from_offsets(0, (0, 5), Some(9), OffsetReset::Earliest);
        assert_eq!(lag.lag, 0);
    }

    #[test]
    fn sample_totals_sum_partitions_and_count_those_with_lag() {
        let sample = LagSample::new(
            vec![
                PartitionLag::from_offsets(1, (0, 7), Some(7), OffsetReset::Earliest),
                PartitionLag::from_offsets(0, (0, 9), Some(2), OffsetReset::Earliest),
                PartitionLag::from_offsets(2, (0, 4), None, OffsetReset::Earliest),
            ],
            Utc::now(),
        );
        assert_eq!(sample.total, 7 + 4);
        assert_eq!(sample.partitions_with_lag, 2);
        let order: Vec<i32> = sample.per_partition.iter().map(|p| p.partition).collect();
        assert_eq!(order, vec![0, 1, 2]);
    }

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
