//! The lag reader: the blocking broker calls of one measurement, through the connection's one
//! client (see [`super::super::ffi`] for the two calls rust-rdkafka does not wrap).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use eventflow_contract::backoff::Backoff;
use rdkafka::{
    ClientContext,
    client::Client,
    error::{KafkaError, RDKafkaErrorCode},
    metadata::MetadataPartition,
};

use super::{LagError, LagTarget, assignment};
use crate::{
    kafka::{
        KafkaAdmin,
        ffi::{self, OffsetSpec, PartitionOffset},
    },
    scaling::{LagSample, PartitionLag, assignment::Assignment},
};

/// Default bound of each broker round trip of one measurement.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Measures lag through the clients of [`crate::kafka::KafkaAdmins`]: it holds no client of its
/// own, so the operator holds one Kafka client per connection whatever the number of groups.
#[derive(Debug, Clone, Copy)]
pub struct LagReader {
    timeout: Duration,
}

impl Default for LagReader {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl LagReader {
    /// A reader whose broker round trips are each bounded by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// Measures the lag of `target`'s group on its topic, and who holds its partitions, through
    /// `client` (on tokio's blocking pool).
    pub async fn measure(
        &self,
        client: &Arc<KafkaAdmin>,
        target: &LagTarget,
    ) -> Result<LagSample, LagError> {
        let (admin, target, timeout) = (Arc::clone(client), target.clone(), self.timeout);
        let measured =
            tokio::task::spawn_blocking(move || measure_blocking(&admin, &target, timeout)).await;
        client.drain();
        let (per_partition, assignment) = measured??;
        Ok(LagSample {
            assignment,
            ..LagSample::new(per_partition, Utc::now())
        })
    }
}

fn measure_blocking(
    admin: &KafkaAdmin,
    target: &LagTarget,
    timeout: Duration,
) -> Result<(Vec<PartitionLag>, Option<Assignment>), LagError> {
    let (client, topic) = (admin.client().inner(), &target.topic);
    let partitions = partitions_of(client, topic, timeout)?;
    let committed = committed_offsets(admin.group_queries(), target, &partitions, timeout)?;
    let watermarks = |spec| {
        ffi::list_offsets(client, topic, &partitions, spec, timeout).map_err(|source| {
            LagError::Watermarks {
                topic: topic.clone(),
                source,
            }
        })
    };
    let low = watermarks(OffsetSpec::Earliest)?;
    let high = watermarks(OffsetSpec::Latest)?;
    let committed = in_order(&committed, topic, &partitions, "committed offset", Ok)?;
    let present = |offset: Option<i64>| offset.ok_or_else(|| "no offset in the answer".to_owned());
    let low = in_order(&low, topic, &partitions, "low watermark", present)?;
    let high = in_order(&high, topic, &partitions, "high watermark", present)?;
    let per_partition = partitions
        .iter()
        .zip(committed)
        .zip(low.into_iter().zip(high))
        .map(|((&partition, committed), watermarks)| {
            PartitionLag::from_offsets(partition, watermarks, committed, target.offset_reset)
        })
        .collect();
    let assignment = assignment::read(
        admin.group_queries(),
        &target.group_id,
        topic,
        partitions.len(),
        timeout,
    );
    Ok((per_partition, assignment))
}

/// First wait before asking a group's coordinator again.
const COORDINATOR_RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between two asks.
const COORDINATOR_RETRY_MAX: Duration = Duration::from_millis(500);

/// The group's committed offsets. A coordinator that is loading, moving or not yet elected
/// (`CoordinatorLoadInProgress`, `CoordinatorNotAvailable`, `NotCoordinator`: a broker that just
/// started, a group never seen) is asked again within `timeout`, as Apache Kafka's own admin
/// client retries these codes; any other error ends the measurement at once.
fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    target: &LagTarget,
    partitions: &[i32],
    timeout: Duration,
) -> Result<Vec<PartitionOffset>, LagError> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Backoff::new(COORDINATOR_RETRY_FIRST, COORDINATOR_RETRY_MAX);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ffi::committed_offsets(client, &target.group_id, &target.topic, partitions, left) {
            Err(KafkaError::AdminOp(code)) if coordinator_busy(code) => {
                let wait = backoff.next_delay();
                if Instant::now() + wait >= deadline {
                    return Err(LagError::Committed {
                        group: target.group_id.clone(),
                        source: KafkaError::AdminOp(code),
                    });
                }
                std::thread::sleep(wait);
            }
            answer => {
                return answer.map_err(|source| LagError::Committed {
                    group: target.group_id.clone(),
                    source,
                });
            }
        }
    }
}

/// Whether a group error only says its coordinator cannot answer yet.
fn coordinator_busy(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::CoordinatorLoadInProgress
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
    )
}

fn partitions_of<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, LagError> {
    let metadata = client
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

/// One value per partition of `partitions` from an answer, read through `read`; a partition
/// missing from the answer, with an error, or refused by `read` fails the measurement.
fn in_order<T>(
    answer: &[PartitionOffset],
    topic: &str,
    partitions: &[i32],
    what: &'static str,
    read: impl Fn(Option<i64>) -> Result<T, String>,
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
            let (_, offset) = answer
                .iter()
                .find(|(p, _)| *p == partition)
                .ok_or_else(|| failed(partition, "missing from the answer".to_owned()))?;
            let offset = offset
                .as_ref()
                .map_err(|code| failed(partition, code.to_string()))?;
            read(*offset).map_err(|detail| failed(partition, detail))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_coordinator_that_cannot_answer_yet_is_asked_again() {
        for busy in [
            RDKafkaErrorCode::CoordinatorLoadInProgress,
            RDKafkaErrorCode::CoordinatorNotAvailable,
            RDKafkaErrorCode::NotCoordinator,
        ] {
            assert!(coordinator_busy(busy), "{busy:?}");
        }
        for final_answer in [
            RDKafkaErrorCode::GroupAuthorizationFailed,
            RDKafkaErrorCode::GroupIdNotFound,
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ] {
            assert!(!coordinator_busy(final_answer), "{final_answer:?}");
        }
    }
}
