//! Pure batch accumulation: what is pending, when it is due, and which offsets it covers.
//!
//! A batch holds decoded events (written to MongoDB) and poison messages (written to the
//! dead-letter topic). Both parts shrink as they are written, so a retry only repeats what
//! failed; the offsets stay until the whole batch is handled and can be committed.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use crate::event::Event;

/// A valid event waiting for MongoDB, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The decoded envelope.
    pub event: Event,
    /// The Kafka message key, when it is UTF-8.
    pub key: Option<String>,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
}

/// A message that is not a usable event, waiting for the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poison {
    /// Original key bytes.
    pub key: Option<Vec<u8>>,
    /// Original value bytes.
    pub value: Option<Vec<u8>>,
    /// Original headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Machine-readable reason, e.g. `not_json` (`DecodeError::code`).
    pub code: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

/// Why a batch was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// It reached the batch size.
    Size,
    /// The batch timeout passed since its first message.
    Timeout,
    /// Its partitions are being revoked.
    Rebalance,
    /// The process is stopping.
    Shutdown,
}

impl Trigger {
    /// The metric label of the trigger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::Timeout => "timeout",
            Self::Rebalance => "rebalance",
            Self::Shutdown => "shutdown",
        }
    }
}

/// The messages read since the last commit.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events not yet accepted by MongoDB.
    pub records: Vec<Record>,
    /// Poison messages not yet acknowledged by the dead-letter topic.
    pub poison: Vec<Poison>,
    highest: BTreeMap<i32, i64>,
    messages: usize,
    first_at: Option<Instant>,
}

impl Batch {
    /// Adds a valid event.
    pub fn push_record(&mut self, record: Record, now: Instant) {
        self.track(record.partition, record.offset, now);
        self.records.push(record);
    }

    /// Adds a poison message.
    pub fn push_poison(&mut self, poison: Poison, now: Instant) {
        self.track(poison.partition, poison.offset, now);
        self.poison.push(poison);
    }

    fn track(&mut self, partition: i32, offset: i64, now: Instant) {
        let highest = self.highest.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
        self.messages += 1;
        self.first_at.get_or_insert(now);
    }

    /// Messages read into this batch (handled or not).
    pub fn len(&self) -> usize {
        self.messages
    }

    /// Whether nothing was read since the last commit.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Time since the batch's first message was read (zero for an empty batch).
    pub fn age(&self, now: Instant) -> Duration {
        self.first_at
            .map_or(Duration::ZERO, |first| now.saturating_duration_since(first))
    }

    /// When the batch must be written at the latest.
    pub fn deadline(&self, timeout: Duration) -> Option<Instant> {
        self.first_at.map(|first| first + timeout)
    }

    /// Whether the batch is due, and why.
    pub fn due(&self, now: Instant, size: usize, timeout: Duration) -> Option<Trigger> {
        if self.messages >= size.max(1) {
            Some(Trigger::Size)
        } else if self
            .deadline(timeout)
            .is_some_and(|deadline| now >= deadline)
        {
            Some(Trigger::Timeout)
        } else {
            None
        }
    }

    /// Per partition, the offset to commit once the batch is handled: the highest read + 1.
    pub fn next_offsets(&self) -> BTreeMap<i32, i64> {
        self.highest.iter().map(|(p, o)| (*p, o + 1)).collect()
    }

    /// Ends a handled batch: returns the offsets to commit and starts an empty one.
    pub fn finish(&mut self) -> BTreeMap<i32, i64> {
        let offsets = self.next_offsets();
        *self = Self::default();
        offsets
    }

    /// Puts a batch whose write failed back in front of this one, so both are written (and
    /// committed) together on the next attempt.
    pub fn prepend_failed(&mut self, mut failed: Batch) {
        failed.records.append(&mut self.records);
        failed.poison.append(&mut self.poison);
        for (partition, offset) in &self.highest {
            let highest = failed.highest.entry(*partition).or_insert(*offset);
            *highest = (*highest).max(*offset);
        }
        failed.messages += self.messages;
        failed.first_at = match (failed.first_at, self.first_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        *self = failed;
    }

    /// Drops everything read from `partitions` (revoked before it could be written); the new
    /// owner reads it again from the committed offset.
    pub fn discard_partitions(&mut self, partitions: &[i32]) {
        self.records.retain(|r| !partitions.contains(&r.partition));
        self.poison.retain(|p| !partitions.contains(&p.partition));
        self.highest.retain(|p, _| !partitions.contains(p));
        if self.highest.is_empty() {
            *self = Self::default();
        } else {
            self.messages = self.records.len() + self.poison.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::IncomingEvent;

    fn record(partition: i32, offset: i64) -> Record {
        let incoming: IncomingEvent =
            serde_json::from_value(json!({"type": "LOGIN", "data": {}})).unwrap();
        Record {
            event: incoming.into_event(None, "test"),
            key: None,
            partition,
            offset,
        }
    }

    fn poison(partition: i32, offset: i64) -> Poison {
        Poison {
            key: None,
            value: Some(b"{nope".to_vec()),
            headers: Vec::new(),
            partition,
            offset,
            code: "not_json",
            reason: "not JSON".into(),
        }
    }

    #[test]
    fn a_batch_is_due_at_its_size_counting_poison() {
        let now = Instant::now();
        let mut batch = Batch::default();
        batch.push_record(record(0, 0), now);
        assert_eq!(batch.due(now, 2, Duration::from_secs(5)), None);
        batch.push_poison(poison(0, 1), now);
        assert_eq!(
            batch.due(now, 2, Duration::from_secs(5)),
            Some(Trigger::Size)
        );
    }

    #[test]
    fn a_batch_is_due_after_the_timeout_since_its_first_message() {
        let start = Instant::now();
        let timeout = Duration::from_millis(500);
        let mut batch = Batch::default();
        assert_eq!(batch.due(start + timeout, 10, timeout), None);
        batch.push_record(record(0, 0), start);
        batch.push_record(record(0, 1), start + Duration::from_millis(400));
        assert_eq!(batch.deadline(timeout), Some(start + timeout));
        assert_eq!(
            batch.due(start + Duration::from_millis(499), 10, timeout),
            None
        );
        assert_eq!(
            batch.due(start + timeout, 10, timeout),
            Some(Trigger::Timeout)
        );
    }

    #[test]
    fn offsets_to_commit_are_the_highest_read_plus_one_per_partition() {
        let now = Instant::now();
        let mut batch = Batch::default();
        for (partition, offset) in [(0, 7), (1, 3), (0, 9), (0, 8)] {
            batch.push_record(record(partition, offset), now);
        }
        batch.push_poison(poison(1, 4), now);
        assert_eq!(batch.finish(), BTreeMap::from([(0, 10), (1, 5)]));
        assert!(batch.is_empty());
        assert_eq!(batch.deadline(Duration::from_secs(1)), None);
    }

    #[test]
    fn written_messages_still_count_until_the_batch_is_finished() {
        let now = Instant::now();
        let mut batch = Batch::default();
        batch.push_record(record(0, 0), now);
        batch.push_poison(poison(0, 1), now);
        batch.records.clear();
        batch.poison.clear();
        assert_eq!(batch.len(), 2);
        assert!(!batch.is_empty());
    }

    #[test]
    fn a_failed_batch_goes_back_in_front_and_keeps_its_offsets() {
        let start = Instant::now();
        let mut failed = Batch::default();
        failed.push_record(record(0, 4), start);
        failed.push_poison(poison(1, 2), start);
        let mut pending = Batch::default();
        pending.push_record(record(0, 9), start + Duration::from_secs(1));
        pending.prepend_failed(failed);
        assert_eq!(
            pending.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [4, 9]
        );
        assert_eq!(pending.poison.len(), 1);
        assert_eq!(pending.len(), 3);
        assert_eq!(pending.deadline(Duration::ZERO), Some(start));
        assert_eq!(pending.next_offsets(), BTreeMap::from([(0, 10), (1, 3)]));
    }

    #[test]
    fn discarding_revoked_partitions_keeps_the_others() {
        let now = Instant::now();
        let mut batch = Batch::default();
        batch.push_record(record(0, 5), now);
        batch.push_record(record(1, 6), now);
        batch.push_poison(poison(1, 7), now);
        batch.discard_partitions(&[1]);
        assert_eq!(batch.records.len(), 1);
        assert!(batch.poison.is_empty());
        assert_eq!(batch.next_offsets(), BTreeMap::from([(0, 6)]));
        batch.discard_partitions(&[0]);
        assert!(batch.is_empty());
    }
}
