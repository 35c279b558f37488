//! The consumer's librdkafka context: flush before partitions are revoked, pause partitions
//! assigned while writes fail, track the assignment, committed offsets and lag (from commit
//! results and librdkafka statistics, which also confirm the commits), and route librdkafka's
//! errors and logs to tracing.

use std::sync::Arc;

use eventflow_contract::outage::Outage;
use rdkafka::{
    ClientContext, Offset, Statistics, TopicPartitionList,
    config::RDKafkaLogLevel,
    consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance},
    error::{KafkaError, KafkaResult},
};

use super::{flush::Flusher, health::Check, offsets::partitions_of};

/// The consumer's librdkafka context: its rebalance, statistics, log and error callbacks, run
/// on the consumer thread during `poll`.
#[derive(Debug, Clone)]
pub struct RebalanceContext {
    flusher: Arc<Flusher>,
    /// The log of the connection's failures.
    pub outage: Arc<Outage>,
}

impl RebalanceContext {
    /// A context over the shared flusher, logging the connection's failures to `outage`.
    pub fn new(flusher: Arc<Flusher>, outage: Arc<Outage>) -> Self {
        Self { flusher, outage }
    }
}

impl crate::kafka_log::WithOutage for RebalanceContext {
    fn outage(&self) -> &Outage {
        &self.outage
    }
}

impl ClientContext for RebalanceContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        crate::kafka_log::log(&self.outage, level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::kafka_log::error(&self.outage, &error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        crate::kafka_log::stats(&self.outage, &statistics);
        let Some(topic) = statistics.topics.get(&self.flusher.topic) else {
            return;
        };
        let metrics = &self.flusher.metrics;
        let owned = || {
            (topic.partitions.values())
                .filter(|partition| partition.partition >= 0 && partition.desired)
        };
        self.flusher.confirm_commits(
            owned().map(|partition| (partition.partition, partition.committed_offset)),
        );
        for partition in owned() {
            let label = partition.partition.to_string();
            if partition.consumer_lag >= 0 {
                metrics
                    .lag
                    .with_label_values(&[&label])
                    .set(partition.consumer_lag);
            }
            if partition.committed_offset >= 0 {
                let committed = metrics.committed_offset.with_label_values(&[&label]);
                committed.set(committed.get().max(partition.committed_offset));
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = partitions_of(list, &self.flusher.topic);
            tracing::info!(?partitions, "partitions revoked: flushing and committing");
            self.flusher.flush_before_revoke(consumer, &partitions);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let metrics = &self.flusher.metrics;
        match rebalance {
            Rebalance::Assign(list) => {
                self.flusher.pause.on_assign(consumer, list);
                let partitions = partitions_of(list, &self.flusher.topic);
                tracing::info!(?partitions, "partitions assigned");
                self.flusher.health.pass(Check::Group);
            }
            Rebalance::Revoke(list) => {
                metrics.forget_partitions(&partitions_of(list, &self.flusher.topic));
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance error"),
        }
        let assigned = consumer.assignment().map_or(0, |list| list.count());
        metrics
            .assigned_partitions
            .set(i64::try_from(assigned).unwrap_or(i64::MAX));
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            self.flusher.commit_failed(&error);
            return;
        }
        for element in offsets.elements_for_topic(&self.flusher.topic) {
            if let Offset::Offset(offset) = element.offset() {
                self.flusher
                    .metrics
                    .committed_offset
                    .with_label_values(&[&element.partition().to_string()])
                    .set(offset);
            }
        }
    }
}
