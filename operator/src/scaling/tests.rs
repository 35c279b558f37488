//! Table tests of the scaling decision.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::kafka::lag::{LagSample, PartitionLag};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000) + TimeDelta::seconds(seconds)
}

/// A sample whose partitions have the given (committed, high watermark) offsets.
fn offsets(seconds: i64, partitions: &[(i64, i64)]) -> LagSample {
    let per_partition = (0..)
        .zip(partitions)
        .map(|(partition, &(committed, high))| PartitionLag {
            partition,
            high_watermark: high,
            committed: Some(committed),
            lag: u64::try_from(high - committed).unwrap(),
        })
        .collect();
    LagSample::new(per_partition, at(seconds))
}

/// A sample with `total` lag spread over `partitions` partitions.
fn spread(seconds: i64, partitions: u32, total: u64) -> LagSample {
    let count = u64::from(partitions);
    let shares: Vec<(i64, i64)> = (0..count)
        .map(|i| {
            let share = total / count + u64::from(i < total % count);
            (0, i64::try_from(share).unwrap())
        })
        .collect();
    offsets(seconds, &shares)
}

fn decide_once(policy: &Policy, partitions: u32, current: u32, lag: u64) -> Decision {
    let sample = spread(0, partitions, lag);
    let input = Input {
        sample: &sample,
        partitions,
        current_replicas: current,
    };
    decide(policy, &input, &mut History::default())
}

fn with(policy: Policy, change: impl FnOnce(&mut Policy)) -> Policy {
    let mut policy = policy;
    change(&mut policy);
    policy
}

#[test]
fn single_poll_decisions() {
    let base = Policy::new(1, 10, 1000);
    let to_zero = with(Policy::new(0, 10, 1000), |p| p.activation_lag = 100);
    // (what it proves, policy, partitions, current, lag, desired, rule)
    let cases = [
        ("cap edge: P=5, T=5, lag 29 gives 5, not 6", Policy::new(1, 10, 5), 5, 1, 29, 5, Rule::PartitionCap),
        ("exact multiple at the cap is not capped", Policy::new(1, 10, 5), 5, 1, 25, 5, Rule::LagThreshold),
        ("ceil: one over a multiple needs one more", Policy::new(1, 10, 5), 5, 1, 21, 5, Rule::LagThreshold),
        ("ceil: lag 20 at threshold 5 needs 4", Policy::new(1, 10, 5), 5, 1, 20, 4, Rule::LagThreshold),
        ("any lag above activation needs one", base.clone(), 6, 1, 1, 1, Rule::LagThreshold),
        ("threshold sizing on 6 partitions", base.clone(), 6, 2, 5400, 6, Rule::LagThreshold),
        ("zero lag idles at min", base.clone(), 6, 1, 0, 1, Rule::Idle),
        ("zero lag with min 0 stays at zero", Policy::new(0, 10, 1000), 6, 0, 0, 0, Rule::Idle),
        ("lag at activation stays at zero", to_zero.clone(), 6, 0, 100, 0, Rule::Idle),
        ("lag above activation wakes from zero", to_zero, 6, 0, 101, 1, Rule::LagThreshold),
        ("max replicas below partitions caps", Policy::new(1, 3, 1000), 10, 1, 9000, 3, Rule::MaxReplicas),
        ("partitions equal to max cap as max", Policy::new(1, 4, 1000), 4, 1, 9000, 4, Rule::MaxReplicas),
        ("min raises a small recommendation", Policy::new(2, 10, 1000), 6, 2, 500, 2, Rule::MinReplicas),
        ("min above partitions is capped at partitions", Policy::new(8, 10, 100), 6, 6, 0, 6, Rule::PartitionCap),
        ("min above partitions scales a larger deployment down at once", Policy::new(8, 10, 100), 6, 8, 0, 6, Rule::PartitionCap),
        ("replicas above max come down at once", Policy::new(1, 4, 1000), 8, 7, 9000, 4, Rule::MaxReplicas),
        ("a scale-down right after a restart is stabilized", base, 6, 4, 1000, 4, Rule::StabilizedDown),
    ];
    for (name, policy, partitions, current, lag, desired, rule) in cases {
        let decision = decide_once(&policy, partitions, current, lag);
        assert_eq!((decision.desired, decision.rule), (desired, rule), "{name}: {}", decision.reason);
    }
}

#[test]
fn reason_names_the_lag_the_threshold_and_the_partitions() {
    let decision = decide_once(&Policy::new(1, 10, 1000), 6, 2, 5400);
    assert_eq!(
        decision.reason,
        "scaled 2→6: lag 5400 over threshold 1000 on 6 partitions needs 6"
    );
    assert_eq!(decision.direction(), Some(Direction::Up));
}

#[test]
fn min_above_partitions_reason_says_the_partitions_won() {
    let decision = decide_once(&Policy::new(8, 10, 100), 6, 6, 0);
    assert!(decision.reason.contains("minReplicas 8 exceeds the partitions"), "{}", decision.reason);
    assert!(!decision.is_scale());
}

/// Runs polls `(seconds, lag, current replicas)` with one history; returns each (desired, rule).
fn run(policy: &Policy, partitions: u32, polls: &[(i64, u64, u32)]) -> Vec<(u32, Rule)> {
    let mut history = History::default();
    polls
        .iter()
        .map(|&(seconds, lag, current)| {
            let sample = spread(seconds, partitions, lag);
            let input = Input {
                sample: &sample,
                partitions,
                current_replicas: current,
            };
            let decision = decide(policy, &input, &mut history);
            (decision.desired, decision.rule)
        })
        .collect()
}

#[test]
fn scales_to_zero_after_the_down_window_and_wakes_at_once() {
    let policy = Policy::new(0, 10, 100);
    let polls = [(0, 0, 2), (150, 0, 2), (301, 0, 2), (310, 0, 0), (320, 1, 0)];
    assert_eq!(
        run(&policy, 6, &polls),
        vec![
            (2, Rule::StabilizedDown),
            (2, Rule::StabilizedDown),
            (0, Rule::Idle),
            (0, Rule::Idle),
            (1, Rule::LagThreshold),
        ]
    );
}

#[test]
fn scale_down_takes_the_highest_recommendation_of_the_down_window() {
    let policy = Policy::new(1, 10, 1000);
    let polls = [(0, 4000, 4), (60, 1000, 4), (200, 2000, 4), (301, 1000, 4), (501, 1000, 2)];
    assert_eq!(
        run(&policy, 6, &polls),
        vec![
            (4, Rule::LagThreshold),
            (4, Rule::StabilizedDown),
            (4, Rule::StabilizedDown),
            (2, Rule::StabilizedDown),
            (1, Rule::LagThreshold),
        ]
    );
}

#[test]
fn scale_up_takes_the_lowest_recommendation_of_the_up_window() {
    let policy = with(Policy::new(1, 10, 1000), |p| {
        p.scale_up_stabilization = Duration::from_secs(60);
    });
    let polls = [(0, 1000, 1), (10, 5000, 1), (40, 3000, 1), (70, 5000, 1), (101, 5000, 3)];
    assert_eq!(
        run(&policy, 6, &polls),
        vec![
            (1, Rule::LagThreshold),
            (1, Rule::StabilizedUp),
            (1, Rule::StabilizedUp),
            (3, Rule::StabilizedUp),
            (5, Rule::LagThreshold),
        ]
    );
}

#[test]
fn default_up_window_scales_up_at_once_after_a_lower_recommendation() {
    let policy = Policy::new(1, 10, 1000);
    let polls = [(0, 1000, 1), (10, 5000, 1)];
    assert_eq!(
        run(&policy, 6, &polls),
        vec![(1, Rule::LagThreshold), (5, Rule::LagThreshold)]
    );
}
