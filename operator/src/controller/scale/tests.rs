//! The outcome of a decision: what it writes to status and when it publishes a `Scaled` Event.

use super::*;
use crate::scaling::{OffsetReset, PartitionLag, assignment::Assignment};

fn sample(lags: &[i64]) -> LagSample {
    let partitions = lags
        .iter()
        .zip(0..)
        .map(|(&lag, p)| PartitionLag::from_offsets(p, (0, lag), Some(0), OffsetReset::Earliest))
        .collect();
    LagSample::new(partitions, Utc::now())
}

fn decision(current: u32, desired: u32, rule: Rule) -> Decision {
    Decision {
        current,
        desired,
        rule,
        reason: format!("scaled {current}→{desired}: test"),
        lag: 0,
        excluded_partitions: vec![3],
        cap: Some(desired),
    }
}

#[test]
fn a_scale_sets_the_time_reason_event_and_lag() {
    let outcome = outcome(
        Default::default(),
        &decision(2, 4, Rule::LagThreshold),
        Some(&sample(&[5, 0, 7])),
    );
    let lag = outcome.lag.unwrap();
    assert_eq!((lag.total, lag.partitions_with_lag), (12, 2));
    assert_eq!(lag.excluded_partitions, [3]);
    assert_eq!(outcome.consumer.desired_replicas, Some(4));
    assert!(outcome.consumer.last_scale_time.is_some());
    assert_eq!(outcome.scaled.as_deref(), Some("scaled 2→4: test"));
    assert_eq!(
        (
            outcome.condition.as_ref().unwrap().ok,
            outcome.condition.as_ref().unwrap().reason.as_str()
        ),
        (true, "LagThreshold")
    );
}

#[test]
fn keeping_the_replicas_keeps_the_last_scale_time_and_reason() {
    let first = outcome(
        Default::default(),
        &decision(2, 4, Rule::LagThreshold),
        Some(&sample(&[5])),
    );
    let kept = outcome(
        lag_and_consumer(&first),
        &decision(4, 4, Rule::LagThreshold),
        Some(&sample(&[1])),
    );
    assert_eq!(
        kept.consumer.last_scale_time,
        first.consumer.last_scale_time
    );
    assert_eq!(
        kept.consumer.last_scale_reason,
        first.consumer.last_scale_reason
    );
    assert_eq!(kept.scaled, None, "no Event without a scale");
    assert_eq!(kept.lag.unwrap().total, 1);
}

#[test]
fn who_holds_the_partitions_follows_each_sample_and_outlives_a_failed_one() {
    let held_by = |assignment: Option<(u32, u32)>| {
        let assignment = assignment.map(|(assigned, none)| Assignment {
            assigned_partitions: assigned,
            consumers_holding_none: none,
            working_consumers: 1,
        });
        LagSample {
            assignment,
            ..sample(&[1, 1, 1, 1])
        }
    };
    let decide = |before: ConsumerStatus, sample: Option<&LagSample>| {
        let rule = if sample.is_some() {
            Rule::LagThreshold
        } else {
            Rule::Hold
        };
        outcome((None, before), &decision(2, 2, rule), sample).consumer
    };
    let figures =
        |status: &ConsumerStatus| (status.assigned_partitions, status.consumers_holding_none);
    let settled = decide(ConsumerStatus::default(), Some(&held_by(Some((1, 1)))));
    assert_eq!(figures(&settled), (Some(1), Some(1)));
    assert_eq!(
        figures(&decide(settled.clone(), None)),
        (Some(1), Some(1)),
        "a failed poll keeps them"
    );
    assert_eq!(
        figures(&decide(settled, Some(&held_by(None)))),
        (None, None),
        "a rebalancing group leaves them out"
    );
}

#[test]
fn a_failed_measurement_holds_and_keeps_the_last_lag() {
    let first = outcome(
        Default::default(),
        &decision(2, 4, Rule::LagThreshold),
        Some(&sample(&[5])),
    );
    let held = outcome(
        lag_and_consumer(&first),
        &scaling::hold(4, &"broker down"),
        None,
    );
    assert_eq!(held.consumer.desired_replicas, Some(4));
    assert_eq!(held.lag, first.lag);
    assert_eq!(
        (
            held.condition.as_ref().unwrap().ok,
            held.condition.as_ref().unwrap().reason.as_str()
        ),
        (false, "MeasurementFailed")
    );
    assert!(
        held.condition
            .as_ref()
            .unwrap()
            .message
            .contains("broker down")
    );
    assert_eq!(held.scaled, None);
}

#[test]
fn the_next_poll_counts_the_replicas_last_applied_else_where_the_builder_starts()
-> prometheus::Result<()> {
    let metrics = ScalingMetrics::register(&prometheus::Registry::new())?;
    let scaler = Scaler::new(LagReader::new(Duration::from_secs(1)), metrics);
    let mut pipeline = EventPipeline::new("p", crate::crd::EventPipelineSpec::default());
    pipeline.metadata.namespace = Some("ns".to_owned());
    pipeline.spec.autoscaling.enabled = true;
    (
        pipeline.spec.autoscaling.min_replicas,
        pipeline.spec.consumer.replicas,
    ) = (2, 1);
    pipeline.spec.topic.partitions = 8;
    assert_eq!(
        scaler.current(&pipeline),
        2,
        "spec.consumer.replicas 1 raised to min 2"
    );
    pipeline.spec.topic.partitions = 1;
    assert_eq!(
        scaler.current(&pipeline),
        1,
        "capped at the partitions, as decisions are"
    );
    scaler.applied(&pipeline, 5);
    assert_eq!(scaler.current(&pipeline), 5);
    Ok(())
}
