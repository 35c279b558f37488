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
//! One measurement is four broker round trips, each bounded by [`LagReader::timeout`]:
//! a metadata request for the topic (its partitions), one `OffsetFetch` for all partitions of the
//! group, and one `ListOffsets` each for the low and the high watermarks of all partitions. The
//! librdkafka calls block, so they run on tokio's blocking pool and never stall a reconcile.
//!
//! `OffsetFetch` needs a client whose `group.id` is the group's, so the reader keeps one consumer
//! handle per (bootstrap servers, client properties, group id), created on first use, shared by
//! every caller asking for the same key and reused across polls. The handle never subscribes or
//! joins the group, never commits and never fetches records.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
    metadata::MetadataPartition,
};

/// Default bound of each broker round trip of one measurement.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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

impl FromStr for OffsetReset {
    type Err = String;

    /// Accepts librdkafka's spellings: `earliest`/`smallest`/`beginning`, `latest`/`largest`/`end`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "earliest" | "smallest" | "beginning" => Ok(Self::Earliest),
            "latest" | "largest" | "end" => Ok(Self::Latest),
            other => Err(format!(
                "unknown auto.offset.reset {other:?}: expected earliest or latest"
            )),
        }
    }
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

/// Identity of a cached consumer handle.
#[derive(Clone, PartialEq, Eq, Hash)]
struct HandleKey {
    bootstrap_servers: String,
    properties: BTreeMap<String, String>,
    group_id: String,
}

impl From<&LagTarget> for HandleKey {
    fn from(target: &LagTarget) -> Self {
        Self {
            bootstrap_servers: target.bootstrap_servers.clone(),
            properties: target.properties.clone(),
            group_id: target.group_id.clone(),
        }
    }
}

/// Measures lag, keeping one consumer handle per (bootstrap servers, properties, group id).
///
/// Share one reader (behind an `Arc`) across all pipelines of the operator.
pub struct LagReader {
    timeout: Duration,
    handles: Mutex<HashMap<HandleKey, Arc<BaseConsumer>>>,
}

impl fmt::Debug for LagReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LagReader")
            .field("timeout", &self.timeout)
            .field("handles", &self.cached_handles())
            .finish()
    }
}

impl Default for LagReader {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl LagReader {
    /// A reader whose broker round trips are each bounded by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            handles: Mutex::new(HashMap::new()),
        }
    }

    /// The bound of each broker round trip.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Measures the lag of `target`'s group on its topic (at most four round trips).
    pub async fn measure(&self, target: &LagTarget) -> Result<LagSample, LagError> {
        let consumer = self.handle(target)?;
        let (topic, group, reset, timeout) = (
            target.topic.clone(),
            target.group_id.clone(),
            target.offset_reset,
            self.timeout,
        );
        let per_partition = tokio::task::spawn_blocking(move || {
            let measured = measure_blocking(&consumer, &topic, &group, reset, timeout);
            drain_events(&consumer);
            measured
        })
        .await??;
        Ok(LagSample::new(per_partition, Utc::now()))
    }

    /// Drops the handle of `target`'s key (call it when a pipeline is deleted or its Kafka
    /// settings change); the next measurement of that key creates a new one.
    pub fn forget(&self, target: &LagTarget) {
        self.lock().remove(&HandleKey::from(target));
    }

    /// How many consumer handles are cached.
    pub fn cached_handles(&self) -> usize {
        self.lock().len()
    }

    fn handle(&self, target: &LagTarget) -> Result<Arc<BaseConsumer>, LagError> {
        let key = HandleKey::from(target);
        let mut handles = self.lock();
        if let Some(consumer) = handles.get(&key) {
            return Ok(Arc::clone(consumer));
        }
        let consumer = Arc::new(create_consumer(&key)?);
        handles.insert(key, Arc::clone(&consumer));
        Ok(consumer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HandleKey, Arc<BaseConsumer>>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn create_consumer(key: &HandleKey) -> Result<BaseConsumer, LagError> {
    let mut config = ClientConfig::new();
    for (name, value) in &key.properties {
        config.set(name, value);
    }
    config
        .set("bootstrap.servers", &key.bootstrap_servers)
        .set("group.id", &key.group_id)
        .set("client.id", "eventflow-operator-lag")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .map_err(|source| LagError::Client {
            group: key.group_id.clone(),
            source,
        })
}

fn measure_blocking(
    consumer: &BaseConsumer,
    topic: &str,
    group: &str,
    reset: OffsetReset,
    timeout: Duration,
) -> Result<Vec<PartitionLag>, LagError> {
    let partitions = partitions_of(consumer, topic, timeout)?;
    let committed = committed_offsets(consumer, topic, group, &partitions, timeout)?;
    let low = list_offsets(consumer, topic, &partitions, Offset::Beginning, timeout)?;
    let high = list_offsets(consumer, topic, &partitions, Offset::End, timeout)?;
    Ok(partitions
        .iter()
        .zip(committed)
        .zip(low.into_iter().zip(high))
        .map(|((&partition, committed), watermarks)| {
            PartitionLag::from_offsets(partition, watermarks, committed, reset)
        })
        .collect())
}

fn partitions_of(
    consumer: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, LagError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|source| LagError::Metadata {
            topic: topic.to_owned(),
            source,
        })?;
    let missing = |detail: String| LagError::TopicMissing {
        topic: topic.to_owned(),
        detail,
    };
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| missing("not in metadata".to_owned()))?;
    if let Some(error) = found.error() {
        return Err(missing(format!("{error:?}")));
    }
    let mut partitions: Vec<i32> = found
        .partitions()
        .iter()
        .map(MetadataPartition::id)
        .collect();
    if partitions.is_empty() {
        return Err(missing("no partitions".to_owned()));
    }
    partitions.sort_unstable();
    Ok(partitions)
}

fn partition_list(topic: &str, partitions: &[i32], offset: Offset) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(partitions.len());
    for &partition in partitions {
        list.add_partition(topic, partition)
            .set_offset(offset)
            .unwrap_or_default(); // Beginning, End and Invalid are always representable.
    }
    list
}

/// The group's committed offset of each partition, in the order of `partitions`.
fn committed_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    group: &str,
    partitions: &[i32],
    timeout: Duration,
) -> Result<Vec<Option<i64>>, LagError> {
    let request = partition_list(topic, partitions, Offset::Invalid);
    let answer = consumer
        .committed_offsets(request, timeout)
        .map_err(|source| LagError::Committed {
            group: group.to_owned(),
            source,
        })?;
    offsets_in_order(
        &answer,
        topic,
        partitions,
        "committed offset",
        |offset| match offset {
            Offset::Offset(n) => Some(Some(n)),
            Offset::Invalid | Offset::Beginning | Offset::End | Offset::Stored => Some(None),
            Offset::OffsetTail(_) => None,
        },
    )
}

/// The earliest (`Offset::Beginning`) or latest (`Offset::End`) offset of each partition, in the
/// order of `partitions`, with one batched `ListOffsets` per partition leader.
fn list_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    which: Offset,
    timeout: Duration,
) -> Result<Vec<i64>, LagError> {
    // `offsets_for_times` sends the list's offsets as ListOffsets timestamps, where -2 means
    // the earliest and -1 the latest offset.
    let request = partition_list(topic, partitions, which);
    let answer = consumer
        .offsets_for_times(request, timeout)
        .map_err(|source| LagError::Watermarks {
            topic: topic.to_owned(),
            source,
        })?;
    let what = if which == Offset::End {
        "high watermark"
    } else {
        "low watermark"
    };
    offsets_in_order(&answer, topic, partitions, what, |offset| match offset {
        Offset::Offset(n) => Some(n),
        _ => None,
    })
}

/// Reads one value per partition of `answer` through `read`, failing on a partition error or an
/// offset that `read` refuses.
fn offsets_in_order<T>(
    answer: &TopicPartitionList,
    topic: &str,
    partitions: &[i32],
    what: &'static str,
    read: impl Fn(Offset) -> Option<T>,
) -> Result<Vec<T>, LagError> {
    let failed = |partition: i32, detail: String| LagError::Partition {
        what,
        topic: topic.to_owned(),
        partition,
        detail,
    };
    partitions
        .iter()
        .map(|&partition| {
            let element = answer
                .find_partition(topic, partition)
                .ok_or_else(|| failed(partition, "missing from the answer".to_owned()))?;
            element
                .error()
                .map_err(|error| failed(partition, error.to_string()))?;
            read(element.offset())
                .ok_or_else(|| failed(partition, format!("unexpected {:?}", element.offset())))
        })
        .collect()
}

/// Serves the handle's queued events (errors, logs) so that they do not accumulate in a handle
/// that is never polled for records.
fn drain_events(consumer: &BaseConsumer) {
    for _ in 0..1000 {
        if consumer.poll(Duration::ZERO).is_none() {
            break;
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
    fn offset_reset_parses_librdkafka_spellings_and_refuses_others() {
        assert_eq!("earliest".parse(), Ok(OffsetReset::Earliest));
        assert_eq!("smallest".parse(), Ok(OffsetReset::Earliest));
        assert_eq!("Latest".parse(), Ok(OffsetReset::Latest));
        assert!("error".parse::<OffsetReset>().is_err());
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
