//! A lag measurement of a pipeline (pure: [`crate::kafka::lag`] reads the offsets it counts).
//!
//! Per partition, lag is the number of records the pipeline's consumers still have to read:
//! `high watermark − start`, where `start` is where the group will actually read next:
//!
//! - the group's **committed offset** when it lies within `[low watermark, high watermark]`;
//! - otherwise the **reset policy** (`auto.offset.reset` of the consumers) decides, exactly as it
//!   does for the consumer itself (Kafka answers an out-of-range fetch with a reset). A
//!   partition with **no committed offset**, one whose committed offset fell below the low
//!   watermark (records deleted by retention), or one whose committed offset lies above the
//!   high watermark (the topic was re-created under the same group) starts at the low
//!   watermark with [`OffsetReset::Earliest`] — it counts `high − low` — and at the high
//!   watermark with [`OffsetReset::Latest`] — it counts 0.
//!
//! KEDA counts a partition without a commit as `high` (or as 0, or not at all, depending on
//! version and flags), which is its most reported class of bugs; this rule counts what the
//! consumer will really read, so an empty topic is 0 and a retention-trimmed topic is not
//! inflated by deleted records.

use chrono::{DateTime, Utc};

use super::assignment::Assignment;

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
            Some(offset) if (low..=high).contains(&offset) => offset,
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
    /// Who holds the partitions, when the group's coordinator could say (a settled group).
    pub assignment: Option<Assignment>,
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
            assignment: None,
        }
    }
}

impl LagSample {
    /// Records by which `offset` advanced since `before`, summed over the partitions known in
    /// both except `excluded`; an offset that went back (a recreated topic) counts 0.
    pub fn advanced_since(
        &self,
        before: &LagSample,
        excluded: &[i32],
        offset: impl Fn(&PartitionLag) -> Option<i64>,
    ) -> f64 {
        let advanced: i64 = self
            .per_partition
            .iter()
            .filter(|p| !excluded.contains(&p.partition))
            .filter_map(|p| {
                let earlier = before
                    .per_partition
                    .iter()
                    .find(|q| q.partition == p.partition)?;
                Some((offset(p)? - offset(earlier)?).max(0))
            })
            .sum();
        advanced as f64
    }

    /// Lag change per second since `before` (negative while it drains); 0 when no time passed.
    pub fn lag_trend_since(&self, before: &LagSample) -> f64 {
        let seconds = (self.measured_at - before.measured_at).as_seconds_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        (self.total as f64 - before.total as f64) / seconds
    }

    /// Records produced (high watermarks) and consumed (committed offsets) per second since
    /// `before`; 0 when no time passed.
    pub fn rates_since(&self, before: &LagSample) -> (f64, f64) {
        let seconds = (self.measured_at - before.measured_at).as_seconds_f64();
        if seconds <= 0.0 {
            return (0.0, 0.0);
        }
        let produced = self.advanced_since(before, &[], |p| Some(p.high_watermark));
        let consumed = self.advanced_since(before, &[], |p| p.committed);
        (produced / seconds, consumed / seconds)
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
    fn commit_outside_the_watermarks_is_reset_as_the_consumer_resets_it() {
        // (what it proves, (low, high), committed, reset, lag)
        #[rustfmt::skip]
        let cases = [
            ("re-created topic: commit above high reads from the log start", (0, 5), Some(9), OffsetReset::Earliest, 5),
            ("re-created and trimmed: counts high - low", (3, 8), Some(100), OffsetReset::Earliest, 5),
            ("re-created, latest reset: nothing to read", (0, 5), Some(9), OffsetReset::Latest, 0),
            ("re-created and still empty: 0", (0, 0), Some(9), OffsetReset::Earliest, 0),
            ("commit at high is caught up", (0, 5), Some(5), OffsetReset::Earliest, 0),
            ("commit at low reads everything", (2, 5), Some(2), OffsetReset::Latest, 3),
        ];
        for (what, watermarks, committed, reset, expected) in cases {
            let lag = PartitionLag::from_offsets(0, watermarks, committed, reset);
            assert_eq!(lag.lag, expected, "{what}");
        }
    }

    #[test]
    fn rates_count_what_moved_per_second_and_never_go_negative() {
        let at = |seconds| DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        let before = LagSample::new(
            vec![
                PartitionLag::from_offsets(0, (0, 100), Some(50), OffsetReset::Earliest),
                PartitionLag::from_offsets(1, (0, 900), Some(900), OffsetReset::Earliest),
            ],
            at(10),
        );
        let after = LagSample::new(
            vec![
                PartitionLag::from_offsets(0, (0, 300), Some(150), OffsetReset::Earliest),
                PartitionLag::from_offsets(1, (0, 10), Some(10), OffsetReset::Earliest),
                PartitionLag::from_offsets(2, (0, 70), None, OffsetReset::Earliest),
            ],
            at(12),
        );
        assert_eq!(
            after.rates_since(&before),
            (100.0, 50.0),
            "partition 1 recreated: 0"
        );
        assert_eq!(before.rates_since(&before), (0.0, 0.0), "no time passed");
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
}
