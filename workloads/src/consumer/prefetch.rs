//! librdkafka's prefetch, sized from the batch and the topic's partitions instead of its
//! defaults (a 64 MiB queue and 50 MiB fetches), so a consumer's memory has a known bound.
//!
//! With the group consumer, librdkafka's queue limits apply to the one queue all assigned
//! partitions feed: no fetch starts while it holds `queued.min.messages` messages or
//! `queued.max.messages.kbytes`, and one fetch response brings at most `fetch.max.bytes` (more
//! only for a single message larger than that). So librdkafka holds at most the queue limit
//! plus one response, whatever the number of partitions.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer},
};

/// Least fetch size, so small batches still fetch efficiently.
const MIN_FETCH_BYTES: u64 = 1024 * 1024;
/// Largest fetch size, whatever the batch.
const MAX_FETCH_BYTES: u64 = 16 * 1024 * 1024;
/// Least share of a fetch per partition.
const MIN_PARTITION_FETCH_BYTES: u64 = 64 * 1024;

/// The prefetch settings of one consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefetch {
    /// `fetch.max.bytes`: one fetch response, about one batch of events.
    pub fetch_bytes: u64,
    /// `max.partition.fetch.bytes`: a partition's share of a response.
    pub partition_fetch_bytes: u64,
    /// `queued.max.messages.kbytes` (in bytes here): the queue stops fetching at this size.
    pub queue_bytes: u64,
    /// `queued.min.messages`: the queue stops fetching at this many messages (two batches).
    pub queue_messages: u64,
}

impl Prefetch {
    /// Sizes the prefetch from the batch size, the expected bytes of one event and the
    /// topic's partitions.
    pub fn new(batch_size: usize, event_bytes: u64, partitions: usize) -> Self {
        let batch = u64::try_from(batch_size.max(1)).unwrap_or(u64::MAX);
        let partitions = u64::try_from(partitions.max(1)).unwrap_or(u64::MAX);
        let fetch_bytes = batch
            .saturating_mul(event_bytes)
            .clamp(MIN_FETCH_BYTES, MAX_FETCH_BYTES);
        Self {
            fetch_bytes,
            partition_fetch_bytes: (fetch_bytes / partitions)
                .clamp(MIN_PARTITION_FETCH_BYTES, fetch_bytes),
            queue_bytes: fetch_bytes,
            queue_messages: batch.saturating_mul(2),
        }
    }

    /// Most bytes librdkafka holds: a full queue and one response (more only by one message
    /// larger than a fetch).
    pub fn bound_bytes(&self) -> u64 {
        self.queue_bytes + self.fetch_bytes
    }

    /// Sets the properties the properties file does not set itself (`fetch.max.bytes` at
    /// least its `message.max.bytes`, as librdkafka requires).
    pub fn apply(&self, config: &mut ClientConfig) {
        let message_bytes = config
            .get("message.max.bytes")
            .and_then(|bytes| bytes.parse().ok())
            .unwrap_or(0);
        let settings = [
            ("fetch.max.bytes", self.fetch_bytes.max(message_bytes)),
            ("max.partition.fetch.bytes", self.partition_fetch_bytes),
            ("queued.max.messages.kbytes", self.queue_bytes / 1024),
            ("queued.min.messages", self.queue_messages),
        ];
        for (key, value) in settings {
            if config.get(key).is_none() {
                config.set(key, value.to_string());
            }
        }
    }
}

/// The topic's partition count, from Kafka's metadata; `None` when Kafka does not answer in
/// `timeout` (the prefetch then assumes one partition: the bound holds, only the share of a
/// fetch per partition is larger).
pub fn topic_partitions(config: &ClientConfig, topic: &str, timeout: Duration) -> Option<usize> {
    let client: BaseConsumer = config.create().ok()?;
    let metadata = client.fetch_metadata(Some(topic), timeout).ok()?;
    let partitions = metadata.topics().first()?.partitions().len();
    (partitions > 0).then_some(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn the_prefetch_follows_the_batch_and_the_partitions_within_limits() {
        // (batch size, event bytes, partitions) -> (fetch, per partition, queue messages)
        let table = [
            ((100, 4096, 4), (MIB, MIB / 4, 200)),
            ((1, 4096, 1), (MIB, MIB, 2)),
            ((1000, 4096, 8), (4_096_000, 512_000, 2000)),
            ((10_000, 4096, 2), (16 * MIB, 8 * MIB, 20_000)),
            ((100, 4096, 1000), (MIB, 64 * 1024, 200)),
            ((100, 4096, 0), (MIB, MIB, 200)),
        ];
        for ((batch, event, partitions), (fetch, partition, messages)) in table {
            let prefetch = Prefetch::new(batch, event, partitions);
            assert_eq!(
                (
                    prefetch.fetch_bytes,
                    prefetch.partition_fetch_bytes,
                    prefetch.queue_messages
                ),
                (fetch, partition, messages),
                "batch {batch}, event {event} B, {partitions} partitions"
            );
            assert_eq!(prefetch.queue_bytes, fetch);
            assert_eq!(prefetch.bound_bytes(), 2 * fetch);
        }
    }

    #[test]
    fn the_properties_file_wins_over_the_sizing() {
        let mut config = ClientConfig::new();
        config.set("fetch.max.bytes", "123456");
        Prefetch::new(100, 4096, 4).apply(&mut config);
        assert_eq!(config.get("fetch.max.bytes"), Some("123456"));
        assert_eq!(config.get("queued.max.messages.kbytes"), Some("1024"));
        assert_eq!(config.get("max.partition.fetch.bytes"), Some("262144"));
        assert_eq!(config.get("queued.min.messages"), Some("200"));
        let mut config = ClientConfig::new();
        config.set("message.max.bytes", "5000000");
        Prefetch::new(100, 4096, 4).apply(&mut config);
        assert_eq!(config.get("fetch.max.bytes"), Some("5000000"));
    }
}
