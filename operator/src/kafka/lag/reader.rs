//! The lag reader: cached consumer handles and the blocking broker calls of one measurement.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    metadata::MetadataPartition,
};

use super::{LagError, LagTarget};
use crate::scaling::{LagSample, OffsetReset, PartitionLag};

/// Default bound of each broker round trip of one measurement.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
    ///
    /// Closing a librdkafka handle blocks until its threads end, so inside a tokio runtime the
    /// handle is dropped on the blocking pool.
    pub fn forget(&self, target: &LagTarget) {
        let removed = self.lock().remove(&HandleKey::from(target));
        if let (Some(consumer), Ok(runtime)) = (removed, tokio::runtime::Handle::try_current()) {
            runtime.spawn_blocking(move || drop(consumer));
        }
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
