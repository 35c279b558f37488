//! `excludePersistentLag`: finding partitions whose consumer is stuck.

use super::{History, Policy, history::Observation};
use crate::scaling::PartitionLag;

/// Partitions to leave out of the sizing: those that had lag and the same committed offset (or
/// none) in each of the last `persistent_lag_polls` observations, all taken while consumers ran.
///
/// Nothing is excluded when the option is off, while fewer observations are known, while the
/// pipeline ran no consumer during the window (nobody could have moved the offsets: that is
/// scale-to-zero, not a stuck partition), or when **every** partition with lag is stuck: then
/// the whole group is stalled (a sink outage pauses all consumers, or they crash-loop), which is
/// no poisoned partition, and the sizing keeps counting all of the lag so the consumers are still
/// there when the group resumes.
pub(super) fn persistent_partitions(policy: &Policy, history: &History) -> Vec<i32> {
    if !policy.exclude_persistent_lag {
        return Vec::new();
    }
    let polls = policy.persistent_polls();
    let window: Vec<&Observation> = history.last_observations(polls).collect();
    let Some(latest) = window.last() else {
        return Vec::new();
    };
    if window.len() < polls || window.iter().any(|o| o.replicas == 0) {
        return Vec::new();
    }
    let stuck: Vec<i32> = latest
        .sample
        .per_partition
        .iter()
        .filter(|p| p.lag > 0 && window.iter().all(|o| stood_still(o, p)))
        .map(|p| p.partition)
        .collect();
    let with_lag = latest.sample.per_partition.iter().filter(|p| p.lag > 0);
    if stuck.len() == with_lag.count() {
        return Vec::new();
    }
    stuck
}

/// Whether `observation` shows `partition` with lag at the same committed offset.
fn stood_still(observation: &Observation, partition: &PartitionLag) -> bool {
    observation
        .sample
        .per_partition
        .iter()
        .find(|p| p.partition == partition.partition)
        .is_some_and(|p| p.lag > 0 && p.committed == partition.committed)
}
