//! librdkafka's prefetch, sized from the batch instead of its defaults (a 64 MiB queue and
//! 50 MiB fetches), so a consumer's memory has a known bound.
//!
//! With the group consumer, librdkafka's queue limits apply to the one queue all assigned
//! partitions feed: no fetch starts while it holds `queued.min.messages` messages or
//! `queued.max.messages.kbytes`, and one fetch response brings at most `fetch.max.bytes` (more
//! only for a single message larger than that). So librdkafka holds at most the queue limit
//! plus one response, about two fetches, whatever the number of partitions.

use rdkafka::ClientConfig;

/// Least fetch size, so small batches still fetch efficiently.
const MIN_FETCH_BYTES: u64 = 1024 * 1024;
/// Largest fetch size, whatever the batch.
const MAX_FETCH_BYTES: u64 = 16 * 1024 * 1024;

/// The prefetch settings of one consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefetch {
    /// One fetch, about one batch of events: `fetch.max.bytes`, `max.partition.fetch.bytes` and
    /// `queued.max.messages.kbytes` (the queue stops fetching at this size).
    pub fetch_bytes: u64,
    /// `queued.min.messages`: the queue stops fetching at this many messages (two batches).
    pub queue_messages: u64,
}

impl Prefetch {
    /// Sizes the prefetch from the batch size and the expected bytes of one event.
    pub fn new(batch_size: usize, event_bytes: u64) -> Self {
        let batch = u64::try_from(batch_size.max(1)).unwrap_or(u64::MAX);
        Self {
            fetch_bytes: batch
                .saturating_mul(event_bytes)
                .clamp(MIN_FETCH_BYTES, MAX_FETCH_BYTES),
            queue_messages: batch.saturating_mul(2),
        }
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
            ("max.partition.fetch.bytes", self.fetch_bytes),
            ("queued.max.messages.kbytes", self.fetch_bytes / 1024),
            ("queued.min.messages", self.queue_messages),
        ];
        for (key, value) in settings {
            if config.get(key).is_none() {
                config.set(key, value.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn the_prefetch_follows_the_batch_within_limits() {
        // (batch size, event bytes) -> (fetch, queue messages)
        let table = [
            ((100, 4096), (MIB, 200)),
            ((1, 4096), (MIB, 2)),
            ((1000, 4096), (4_096_000, 2000)),
            ((10_000, 4096), (16 * MIB, 20_000)),
            ((0, 4096), (MIB, 2)),
        ];
        for ((batch, event), (fetch, messages)) in table {
            let prefetch = Prefetch::new(batch, event);
            assert_eq!(
                (prefetch.fetch_bytes, prefetch.queue_messages),
                (fetch, messages),
                "batch {batch}, event {event} B"
            );
        }
    }

    #[test]
    fn the_properties_file_wins_over_the_sizing() {
        let mut config = ClientConfig::new();
        config.set("fetch.max.bytes", "123456");
        Prefetch::new(100, 4096).apply(&mut config);
        assert_eq!(config.get("fetch.max.bytes"), Some("123456"));
        assert_eq!(config.get("queued.max.messages.kbytes"), Some("1024"));
        assert_eq!(config.get("max.partition.fetch.bytes"), Some("1048576"));
        assert_eq!(config.get("queued.min.messages"), Some("200"));
        let mut config = ClientConfig::new();
        config.set("message.max.bytes", "5000000");
        Prefetch::new(100, 4096).apply(&mut config);
        assert_eq!(config.get("fetch.max.bytes"), Some("5000000"));
    }
}
