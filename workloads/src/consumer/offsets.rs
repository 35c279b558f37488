//! Offset bookkeeping: what has been written (and may be committed), per partition, and the
//! commits themselves. Only offsets of handled batches ever get here.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext},
    error::KafkaResult,
};

/// The next offset to read per partition, for everything already in MongoDB or the DLQ.
#[derive(Debug, Default)]
pub struct Progress {
    written: BTreeMap<i32, i64>,
    uncommitted: bool,
    last_commit: Option<Instant>,
}

impl Progress {
    /// Records a handled batch's next offsets (never moving a partition backwards).
    pub fn record(&mut self, next_offsets: &BTreeMap<i32, i64>) {
        for (partition, offset) in next_offsets {
            let entry = self.written.entry(*partition).or_insert(*offset);
            *entry = (*entry).max(*offset);
        }
        self.uncommitted |= !next_offsets.is_empty();
    }

    /// The offsets to commit now, when something was recorded since the last commit and
    /// `interval` has passed since it; they then count as committed.
    pub fn take_due(&mut self, now: Instant, interval: Duration) -> Option<BTreeMap<i32, i64>> {
        let due = self
            .last_commit
            .is_none_or(|last| now.duration_since(last) >= interval);
        (self.uncommitted && due).then(|| self.mark_committed(now))
    }

    /// All offsets, counted as committed from `now`.
    pub fn mark_committed(&mut self, now: Instant) -> BTreeMap<i32, i64> {
        self.uncommitted = false;
        self.last_commit = Some(now);
        self.offsets(None)
    }

    /// The recorded offsets of `partitions` (all when `None`).
    pub fn offsets(&self, partitions: Option<&[i32]>) -> BTreeMap<i32, i64> {
        self.written
            .iter()
            .filter(|(p, _)| partitions.is_none_or(|only| only.contains(p)))
            .map(|(p, o)| (*p, *o))
            .collect()
    }

    /// A commit failed (a rebalance in progress, a lost coordinator): what was recorded counts
    /// as uncommitted again, so the next due commit sends it; an idle consumer would otherwise
    /// leave its last batches uncommitted for good.
    pub fn commit_failed(&mut self) {
        self.uncommitted = !self.written.is_empty();
    }

    /// Compares what was written with the offsets librdkafka last saw committed (its
    /// statistics): a partition still behind is committed again at the next interval. This is
    /// how a failed asynchronous commit is noticed: librdkafka reports its result to no
    /// callback (only to its log, as `COMMITFAIL`), and an idle consumer would otherwise never
    /// commit its last batches.
    pub fn confirm(&mut self, committed: impl IntoIterator<Item = (i32, i64)>) {
        for (partition, committed) in committed {
            if self
                .written
                .get(&partition)
                .is_some_and(|written| *written > committed)
            {
                self.uncommitted = true;
            }
        }
    }

    /// Forgets partitions this consumer no longer owns, so it never commits them again.
    pub fn forget(&mut self, partitions: &[i32]) {
        self.written.retain(|p, _| !partitions.contains(p));
    }
}

/// A topic-partition list of `offsets` on `topic`.
pub fn partition_list(
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
) -> KafkaResult<TopicPartitionList> {
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
    }
    Ok(list)
}

/// The partitions of `topic` in a list.
pub fn partitions_of(list: &TopicPartitionList, topic: &str) -> Vec<i32> {
    list.elements_for_topic(topic)
        .iter()
        .map(rdkafka::topic_partition_list::TopicPartitionListElem::partition)
        .collect()
}

/// Commits `offsets` of `topic`; nothing to do when empty.
pub fn commit<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
    mode: CommitMode,
) -> KafkaResult<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    consumer.commit(&partition_list(topic, offsets)?, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_never_moves_backwards_and_forgets_revoked_partitions() {
        let mut progress = Progress::default();
        progress.record(&BTreeMap::from([(0, 10), (1, 4)]));
        progress.record(&BTreeMap::from([(0, 7), (2, 1)]));
        assert_eq!(
            progress.offsets(None),
            BTreeMap::from([(0, 10), (1, 4), (2, 1)])
        );
        assert_eq!(progress.offsets(Some(&[1])), BTreeMap::from([(1, 4)]));
        progress.forget(&[0, 2]);
        assert_eq!(progress.offsets(None), BTreeMap::from([(1, 4)]));
    }

    #[test]
    fn a_failed_commit_is_due_again_without_new_progress() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut progress = Progress::default();
        progress.record(&BTreeMap::from([(0, 5)]));
        assert!(progress.take_due(start, second).is_some());
        assert_eq!(progress.take_due(start + second, second), None, "sent");
        progress.commit_failed();
        assert_eq!(
            progress.take_due(start + second, second),
            Some(BTreeMap::from([(0, 5)])),
            "the failed commit again"
        );
    }

    #[test]
    fn a_partition_committed_behind_what_was_written_is_committed_again() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut progress = Progress::default();
        progress.record(&BTreeMap::from([(0, 5), (1, 9)]));
        assert!(progress.take_due(start, second).is_some());
        progress.confirm([(0, 5), (1, 9), (2, 3)]);
        assert_eq!(
            progress.take_due(start + second, second),
            None,
            "all confirmed"
        );
        progress.confirm([(0, 5), (1, -1001)]);
        assert_eq!(
            progress.take_due(start + second, second),
            Some(BTreeMap::from([(0, 5), (1, 9)])),
            "the lost commit again"
        );
    }

    #[test]
    fn commits_are_due_once_per_interval_and_only_after_new_progress() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut progress = Progress::default();
        assert_eq!(
            progress.take_due(start, second),
            None,
            "nothing written yet"
        );
        progress.record(&BTreeMap::from([(0, 5)]));
        assert_eq!(
            progress.take_due(start, second),
            Some(BTreeMap::from([(0, 5)]))
        );
        progress.record(&BTreeMap::from([(0, 9)]));
        assert_eq!(
            progress.take_due(start + second / 2, second),
            None,
            "too soon"
        );
        let later = start + second;
        assert_eq!(
            progress.take_due(later, second),
            Some(BTreeMap::from([(0, 9)]))
        );
        assert_eq!(
            progress.take_due(later + second, second),
            None,
            "nothing new"
        );
    }

    #[test]
    fn partition_lists_carry_the_offsets() {
        let list = partition_list("t", &BTreeMap::from([(0, 3), (2, 9)])).unwrap();
        assert_eq!(partitions_of(&list, "t"), [0, 2]);
        assert_eq!(
            list.find_partition("t", 2).unwrap().offset(),
            Offset::Offset(9)
        );
    }
}
