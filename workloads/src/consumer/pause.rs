//! Whether the consumer fetches: paused while batch writes fail. The state belongs to the
//! consumer, not to its assignment: partitions assigned while it is paused are paused on
//! assignment, and a message that still arrives meanwhile is handed back to Kafka, so nothing is
//! added to the batch waiting for its retry.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    message::BorrowedMessage,
};

use super::metrics::ConsumerMetrics;

/// The consumer's paused state, shared by the poll loop and the rebalance callbacks (both on
/// the consumer thread).
#[derive(Debug, Default)]
pub struct Pause {
    paused: AtomicBool,
}

impl Pause {
    /// Whether fetching is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Pauses or resumes fetching on the whole current assignment and on whatever is assigned
    /// later, until the state changes again.
    pub fn set<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        metrics: &ConsumerMetrics,
        paused: bool,
    ) {
        self.paused.store(paused, Ordering::SeqCst);
        metrics.paused.set(i64::from(paused));
        match consumer.assignment() {
            Ok(assignment) => apply(consumer, &assignment, paused),
            Err(error) => {
                tracing::warn!(%error, paused, "cannot read the assignment to pause/resume it");
            }
        }
    }

    /// Right after `partitions` were assigned: pauses them while the consumer is paused.
    pub fn on_assign<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: &TopicPartitionList,
    ) {
        if self.is_paused() {
            tracing::info!("partitions assigned while writes fail: paused on assignment");
            apply(consumer, partitions, true);
        }
    }

    /// A message that arrived while paused: not accepted; its partition is rewound to it and
    /// paused, so it is read again once fetching resumes.
    pub fn hand_back<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        message: &BorrowedMessage<'_>,
    ) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        tracing::warn!(
            topic,
            partition,
            offset,
            "message arrived while paused; handed back"
        );
        if let Err(error) = consumer.seek(topic, partition, Offset::Offset(offset), Duration::ZERO)
        {
            tracing::warn!(%error, partition, "cannot rewind the partition");
        }
        let mut list = TopicPartitionList::new();
        list.add_partition(topic, partition);
        apply(consumer, &list, true);
    }
}

fn apply<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    partitions: &TopicPartitionList,
    paused: bool,
) {
    let result = if paused {
        consumer.pause(partitions)
    } else {
        consumer.resume(partitions)
    };
    if let Err(error) = result {
        tracing::warn!(%error, paused, "cannot pause/resume partitions");
    }
}
