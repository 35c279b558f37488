//! Table tests of the scaling decision.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::scaling::{LagSample, PartitionLag};

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
        ready_replicas: current,
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
    #[rustfmt::skip]
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
        assert_eq!(
            (decision.desired, decision.rule),
            (desired, rule),
            "{name}: {}",
            decision.reason
        );
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
    assert!(
        decision
            .reason
            .contains("minReplicas 8 exceeds the partitions"),
        "{}",
        decision.reason
    );
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
                ready_replicas: current,
            };
            let decision = decide(policy, &input, &mut history);
            (decision.desired, decision.rule)
        })
        .collect()
}

#[test]
fn scales_to_zero_after_the_down_window_and_wakes_at_once() {
    let policy = Policy::new(0, 10, 100);
    let polls = [
        (0, 0, 2),
        (150, 0, 2),
        (301, 0, 2),
        (310, 0, 0),
        (320, 1, 0),
    ];
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
    let polls = [
        (0, 4000, 4),
        (60, 1000, 4),
        (200, 2000, 4),
        (301, 1000, 4),
        (501, 1000, 2),
    ];
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
    let polls = [
        (0, 1000, 1),
        (10, 5000, 1),
        (40, 3000, 1),
        (70, 5000, 1),
        (101, 5000, 3),
    ];
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

/// One poll: seconds, current replicas, (committed, high watermark) of each partition.
type Poll = (i64, u32, Vec<(i64, i64)>);

/// Runs polls of explicit offsets with one history.
fn run_offsets(policy: &Policy, partitions: u32, polls: &[Poll]) -> Vec<Decision> {
    let mut history = History::default();
    polls
        .iter()
        .map(|(seconds, current, offsets_by_partition)| {
            let sample = offsets(*seconds, offsets_by_partition);
            let input = Input {
                sample: &sample,
                partitions,
                current_replicas: *current,
                ready_replicas: *current,
            };
            decide(policy, &input, &mut history)
        })
        .collect()
}

fn persistent_policy() -> Policy {
    with(Policy::new(1, 10, 100), |p| {
        p.exclude_persistent_lag = true;
        p.persistent_lag_polls = 3;
        p.scale_down_stabilization = Duration::ZERO;
    })
}

/// Partition 2 is stuck at offset 10 with lag 1000; partitions 0 and 1 progress, lag 100 each.
fn one_stuck_partition(poll: i64, current: u32) -> Poll {
    let moving = 500 * poll;
    (
        poll * 10,
        current,
        vec![(moving, moving + 100), (moving, moving + 100), (10, 1010)],
    )
}

#[test]
fn persistent_lag_partition_is_excluded_after_n_polls_and_named() {
    let polls: Vec<_> = (0..4).map(|poll| one_stuck_partition(poll, 3)).collect();
    let decisions = run_offsets(&persistent_policy(), 3, &polls);
    let desired: Vec<u32> = decisions.iter().map(|d| d.desired).collect();
    // 1200 lag needs 12, capped at 3 partitions, until the third poll; then 200 needs 2.
    assert_eq!(desired, vec![3, 3, 2, 2]);
    assert!(decisions[1].excluded_partitions.is_empty());
    assert_eq!(decisions[2].excluded_partitions, vec![2]);
    assert_eq!(decisions[2].lag, 200);
    assert!(
        decisions[2]
            .reason
            .contains("excluded persistent-lag partitions [2] (lag 1000)")
    );
}

#[test]
fn persistent_lag_is_not_excluded_when_the_option_is_off() {
    let policy = with(persistent_policy(), |p| p.exclude_persistent_lag = false);
    let polls: Vec<_> = (0..4).map(|poll| one_stuck_partition(poll, 3)).collect();
    let last = run_offsets(&policy, 3, &polls).pop().unwrap();
    assert_eq!((last.desired, last.lag), (3, 1200));
    assert!(last.excluded_partitions.is_empty());
}

#[test]
fn stalled_group_is_not_excluded_when_every_lagging_partition_is_stuck() {
    let polls: Vec<_> = (0..4)
        .map(|poll| (poll * 10, 2, vec![(10, 310), (20, 320), (5, 5)]))
        .collect();
    let last = run_offsets(&persistent_policy(), 3, &polls).pop().unwrap();
    assert!(last.excluded_partitions.is_empty(), "{}", last.reason);
    assert_eq!(last.desired, 3);
}

#[test]
fn persistent_lag_is_not_excluded_while_no_consumer_runs() {
    let polls: Vec<_> = (0..4).map(|poll| one_stuck_partition(poll, 0)).collect();
    let last = run_offsets(&persistent_policy(), 3, &polls).pop().unwrap();
    assert!(last.excluded_partitions.is_empty());
}

fn drain_policy() -> Policy {
    with(Policy::new(1, 20, 1000), |p| {
        p.target_drain = Some(Duration::from_secs(60));
    })
}

#[test]
fn drain_mode_sizes_for_observed_per_replica_rate_and_production() {
    // Two replicas consume 1000 per 10 s (50/s each) while producers write 3000 per 10 s
    // (300/s); lag ends at 6600. The threshold asks for 7; draining 6600 in 60 s while 300/s
    // arrive needs (110 + 300) / 50 = 8.2, so 9.
    let polls: Vec<_> = (0..3)
        .map(|poll| {
            let committed = 1000 * poll;
            (poll * 10, 2, vec![(committed, 2600 + 3000 * poll)])
        })
        .collect();
    let decisions = run_offsets(&drain_policy(), 20, &polls);
    let last = decisions.last().unwrap();
    assert_eq!(
        (last.desired, last.rule, last.lag),
        (9, Rule::DrainTime, 6600),
        "{}",
        last.reason
    );
    assert!(last.reason.contains("growing 200.0/s"), "{}", last.reason);
    assert!(
        last.reason.contains("50.0/s per replica (observed)"),
        "{}",
        last.reason
    );
    // The first poll has no rate yet: threshold sizing.
    assert_eq!(decisions[0].rule, Rule::LagThreshold);
}

#[test]
fn drain_mode_assumes_threshold_capacity_when_no_rate_is_observed() {
    // No consumer runs; producers write 50/s; lag 3600. One replica is assumed to drain 1000
    // in 60 s (16.7/s): (60 + 50) / 16.7 = 6.6, so 7, more than the threshold's 4.
    let polls = vec![(0, 0, vec![(0, 3100)]), (10, 0, vec![(0, 3600)])];
    let last = run_offsets(&drain_policy(), 20, &polls).pop().unwrap();
    assert_eq!(
        (last.desired, last.rule),
        (7, Rule::DrainTime),
        "{}",
        last.reason
    );
    assert!(
        last.reason.contains("assumed from threshold"),
        "{}",
        last.reason
    );
}

#[test]
fn drain_mode_keeps_threshold_sizing_when_it_asks_for_more() {
    // A fast consumer (1000/s) and no production: draining needs 1, the threshold 9.
    let polls = vec![(0, 1, vec![(0, 19_000)]), (10, 1, vec![(10_000, 19_000)])];
    let last = run_offsets(&drain_policy(), 20, &polls).pop().unwrap();
    assert_eq!(
        (last.desired, last.rule),
        (9, Rule::LagThreshold),
        "{}",
        last.reason
    );
}

#[test]
fn drain_mode_measures_the_rate_over_ready_consumers_not_pods_still_starting() {
    // Two ready consumers drain 100/s (50/s each) while producers write 300/s. At 20 s the
    // Deployment was scaled to 9. Lag at 30 s: 8600; draining it in 60 s at 50/s per consumer
    // needs (143.3 + 300) / 50 = 8.9, so 9. Counting pods still starting as consumers reads
    // 23/s per replica and asks for 20.
    // (what it proves, ready consumers at 20 s and at 30 s, desired at 30 s)
    let cases = [
        (
            "new pods still starting: the rate of the ready ones",
            (2, 2),
            9,
        ),
        (
            "new pods ready only now: they consumed nothing yet",
            (2, 9),
            9,
        ),
        (
            "all 9 ready for 10 s yet only 100/s consumed: they are slow",
            (9, 9),
            20,
        ),
    ];
    for (what, (ready_at_20, ready_at_30), expected) in cases {
        let mut history = History::default();
        let polls = [
            (0, 2, 2),
            (10, 2, 2),
            (20, 9, ready_at_20),
            (30, 9, ready_at_30),
        ];
        let decisions: Vec<Decision> = polls
            .into_iter()
            .map(|(seconds, current, ready)| {
                let poll = seconds / 10;
                let sample = offsets(seconds, &[(1000 * poll, 2600 + 3000 * poll)]);
                let input = Input {
                    sample: &sample,
                    partitions: 20,
                    current_replicas: current,
                    ready_replicas: ready,
                };
                decide(&drain_policy(), &input, &mut history)
            })
            .collect();
        let last = decisions.last().unwrap();
        assert_eq!(last.desired, expected, "{what}: {}", last.reason);
    }
}

#[test]
fn failed_measurement_holds_the_current_replicas_with_the_reason() {
    let decision = hold(3, &"timed out after 5s");
    assert_eq!((decision.desired, decision.rule), (3, Rule::Hold));
    assert!(!decision.is_scale());
    assert_eq!(
        decision.reason,
        "kept 3: lag measurement failed: timed out after 5s"
    );
}

#[test]
fn history_stays_bounded_by_the_policy_windows() {
    let policy = Policy::new(1, 10, 1000);
    let mut history = History::default();
    for poll in 0..200 {
        let sample = spread(poll * 10, 6, 1000);
        let input = Input {
            sample: &sample,
            partitions: 6,
            current_replicas: 1,
            ready_replicas: 1,
        };
        decide(&policy, &input, &mut history);
    }
    assert!(history.observations().len() <= 6);
    // 300 s window at one poll per 10 s: the recommendations of the last 300 s, both ends.
    assert_eq!(history.recommendations().len(), 31);
}

#[test]
fn a_re_created_topic_wakes_a_pipeline_scaled_to_zero() {
    // The group committed up to 900 on the old topic; the new one holds 40 events.
    let policy = Policy::new(0, 10, 1000);
    let sample = LagSample::new(
        vec![PartitionLag::from_offsets(
            0,
            (0, 40),
            Some(900),
            crate::scaling::OffsetReset::Earliest,
        )],
        at(0),
    );
    let input = Input {
        sample: &sample,
        partitions: 1,
        current_replicas: 0,
        ready_replicas: 0,
    };
    let decision = decide(&policy, &input, &mut History::default());
    assert_eq!(
        (decision.desired, decision.rule),
        (1, Rule::LagThreshold),
        "{decision:?}"
    );
}
