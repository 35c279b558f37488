//! The scaling decision: a lag sample, the policy and the pipeline's history in; the desired
//! consumer replicas, the rule that set them and a reason out. Pure: no I/O, no clock (the
//! sample's `measured_at` is "now").
//!
//! One decision, in order:
//! 1. **Persistent lag** (`excludePersistentLag`): partitions whose committed offset stood still
//!    while they had lag for `persistent_lag_polls` polls are left out and named — but never
//!    while no consumer ran, and never when every lagging partition is stuck (a stalled group,
//!    not a poisoned partition; see `persistent.rs`).
//! 2. **Sizing**: lag at or below `activationLag` → idle → `minReplicas` (0 allowed: scale to
//!    zero; from 0 the pipeline wakes as soon as lag exceeds it). Otherwise
//!    `ceil(lag / lagThreshold)` in integer arithmetic, so there is no off-by-one at the cap
//!    (KEDA #4483: P=5, T=5, lag 29 gives 5, never 6). With `targetDrainSeconds`, the larger of
//!    that and the replicas that drain the lag in time at the observed per-replica rate while
//!    producers keep writing (see `drain.rs`).
//! 3. **Bounds**: clamp to `[minReplicas, min(maxReplicas, partitions)]`; when `minReplicas`
//!    exceeds the partitions, the partitions win: consumers beyond the partition count would
//!    idle, so the decision caps at the partitions and says so (see `policy.rs`).
//! 4. **Stabilization**, as the Kubernetes HPA does it: the result is the current replicas
//!    clamped to `[lowest recommendation within scaleUpStabilization, highest recommendation
//!    within scaleDownStabilization]`. So a scale-up goes only as high as every recommendation of
//!    the up window allows (with the default 0 s window: at once to the new recommendation — the
//!    "highest" of a one-element window, as the issue words it) and a scale-down only as low as
//!    every recommendation of the down window allows (default 300 s: replicas shrink five
//!    minutes after the lag fell, and do not flap). A fresh history is seeded with the current
//!    replicas, as the HPA does, so an operator restart does not scale down at once.
//!
//! A failed measurement never scales: [`hold`] keeps the current replicas and says why.

pub mod assignment;
mod decision;
mod drain;
mod history;
mod metrics;
mod persistent;
mod policy;
pub mod sample;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

pub use decision::{Decision, Direction, Rule};
pub use history::{History, Observation, Recommendation};
pub use metrics::ScalingMetrics;
pub use policy::{
    DEFAULT_PERSISTENT_LAG_POLLS, DEFAULT_SCALE_DOWN_STABILIZATION, Policy, poll_interval,
};
pub use sample::{LagSample, OffsetReset, PartitionLag};

use decision::headline;
use history::cutoff;
use policy::Bounds;

/// What one decision looks at besides the policy and the history.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The lag just measured.
    pub sample: &'a LagSample,
    /// The topic's partition count (0 is treated as 1).
    pub partitions: u32,
    /// Consumer replicas running now (applied, including pods still starting).
    pub current_replicas: u32,
    /// Consumers that consume now: the drain-time mode measures the per-replica rate over
    /// these. Only consumers that hold partitions count ([`assignment`]): the operator counts
    /// ready pods (`/readyz`: in the group), at most the members the group's coordinator reports
    /// holding partitions; the local runtime counts ready consumers that hold partitions.
    pub ready_replicas: u32,
}

/// Decides the consumer replicas for `input`, recording the sample and the recommendation in
/// `history` (keep it per pipeline and pass it back next time).
pub fn decide(policy: &Policy, input: &Input<'_>, history: &mut History) -> Decision {
    let (now, current) = (input.sample.measured_at, input.current_replicas);
    history.seed(now, current);
    history.record_observation(
        policy,
        Observation {
            sample: input.sample.clone(),
            replicas: current,
            ready: input.ready_replicas.min(current),
        },
    );
    let excluded = persistent::persistent_partitions(policy, history);
    let lag = lag_without(input.sample, &excluded);
    let sizing = size(policy, input.partitions, lag, history, &excluded);
    let bounds = Bounds::new(policy, input.partitions);
    let (recommended, bounded) = bounds.apply(sizing.replicas);
    history.record_recommendation(
        policy,
        Recommendation {
            at: now,
            replicas: recommended,
        },
    );
    let (stabilized, held) = stabilize(policy, history, now, current, recommended);
    let (desired, rebounded) = bounds.apply(stabilized);
    let rule = rebounded
        .or(held.as_ref().map(|(rule, _)| *rule))
        .or(bounded)
        .unwrap_or(sizing.rule);
    let notes = [
        bounded.map(|rule| bound_note(rule, bounds, policy)),
        held.map(|(_, note)| note),
        rebounded
            .filter(|rule| Some(*rule) != bounded)
            .map(|rule| bound_note(rule, bounds, policy)),
        excluded_note(input.sample, &excluded),
    ];
    Decision {
        current,
        desired,
        rule,
        reason: format!(
            "{}: {}{}",
            headline(current, desired),
            sizing.explanation,
            notes.into_iter().flatten().collect::<String>()
        ),
        lag,
        excluded_partitions: excluded,
        cap: Some(bounds.cap),
    }
}

/// One poll of one pipeline, as the operator and the local runtime both run it: decide on the
/// measured sample, or hold the current replicas when the measurement failed, and record the
/// decision in the metrics under the pipeline's `label`. The two differ only in how they apply
/// the desired replicas (a Deployment, or local processes).
pub fn poll<E: std::fmt::Display>(
    policy: &Policy,
    history: &mut History,
    metrics: &ScalingMetrics,
    label: &str,
    measured: Result<Input<'_>, (u32, E)>,
) -> Decision {
    match measured {
        Ok(input) => {
            let decision = decide(policy, &input, history);
            metrics.observe(label, input.sample, &decision);
            decision
        }
        Err((current_replicas, error)) => {
            let decision = hold(current_replicas, &error);
            metrics.observe_failure(label, &decision);
            decision
        }
    }
}

/// The decision when the lag could not be measured: keep `current_replicas`, say why.
pub fn hold(current_replicas: u32, error: &dyn std::fmt::Display) -> Decision {
    Decision {
        current: current_replicas,
        desired: current_replicas,
        rule: Rule::Hold,
        reason: format!("kept {current_replicas}: lag measurement failed: {error}"),
        lag: 0,
        excluded_partitions: Vec::new(),
        cap: None,
    }
}

/// The sample's total lag without the `excluded` partitions.
pub(crate) fn lag_without(sample: &LagSample, excluded: &[i32]) -> u64 {
    let excluded_lag: u64 = sample
        .per_partition
        .iter()
        .filter(|p| excluded.contains(&p.partition))
        .map(|p| p.lag)
        .sum();
    sample.total.saturating_sub(excluded_lag)
}

/// Replicas before bounds and stabilization, with the rule and its explanation.
struct Sizing {
    replicas: u32,
    rule: Rule,
    explanation: String,
}

fn size(policy: &Policy, partitions: u32, lag: u64, history: &History, excluded: &[i32]) -> Sizing {
    if lag <= policy.activation_lag {
        return Sizing {
            replicas: policy.min_replicas,
            rule: Rule::Idle,
            explanation: format!(
                "lag {lag} at or below activation lag {}: idle at minReplicas {}",
                policy.activation_lag, policy.min_replicas
            ),
        };
    }
    let threshold = policy.threshold();
    let replicas = u32::try_from(lag.div_ceil(threshold)).unwrap_or(u32::MAX);
    let relation = if lag > threshold { "over" } else { "within" };
    let by_threshold = Sizing {
        replicas,
        rule: Rule::LagThreshold,
        explanation: format!(
            "lag {lag} {relation} threshold {threshold} on {partitions} partitions needs {replicas}"
        ),
    };
    let to_drain = drain::rates(policy, history, excluded)
        .and_then(|rates| drain::replicas_to_drain(policy, lag, &rates));
    match to_drain {
        Some((drain_replicas, explanation)) if drain_replicas > replicas => Sizing {
            replicas: drain_replicas,
            rule: Rule::DrainTime,
            explanation,
        },
        _ => by_threshold,
    }
}

/// HPA stabilization: `current` clamped to [lowest in the up window, highest in the down
/// window]; the rule and a note when that differs from the recommendation.
fn stabilize(
    policy: &Policy,
    history: &History,
    now: DateTime<Utc>,
    current: u32,
    recommended: u32,
) -> (u32, Option<(Rule, String)>) {
    let window_range = |window| {
        history
            .range_after(cutoff(now, window))
            .unwrap_or((recommended, recommended))
    };
    let lowest_up = window_range(policy.scale_up_stabilization)
        .0
        .min(recommended);
    let highest_down = window_range(policy.scale_down_stabilization)
        .1
        .max(recommended);
    let stabilized = current.clamp(lowest_up, highest_down);
    let held = |rule, name, window: std::time::Duration, which| {
        let note = format!(
            "; held at {stabilized} by {name} {}s ({which} recommendation in window)",
            window.as_secs()
        );
        Some((rule, note))
    };
    let note = match stabilized.cmp(&recommended) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => held(
            Rule::StabilizedUp,
            "scaleUpStabilization",
            policy.scale_up_stabilization,
            "lowest",
        ),
        std::cmp::Ordering::Greater => held(
            Rule::StabilizedDown,
            "scaleDownStabilization",
            policy.scale_down_stabilization,
            "highest",
        ),
    };
    (stabilized, note)
}

fn bound_note(rule: Rule, bounds: Bounds, policy: &Policy) -> String {
    match rule {
        Rule::PartitionCap if policy.min_replicas > bounds.cap => format!(
            ", capped at {} partitions (minReplicas {} exceeds the partitions; consumers beyond them would idle)",
            bounds.cap, policy.min_replicas
        ),
        Rule::PartitionCap => format!(", capped at {} partitions", bounds.cap),
        Rule::MaxReplicas => format!(", capped at maxReplicas {}", bounds.cap),
        _ => format!(", raised to minReplicas {}", bounds.floor),
    }
}

fn excluded_note(sample: &LagSample, excluded: &[i32]) -> Option<String> {
    if excluded.is_empty() {
        return None;
    }
    let lag = sample.total - lag_without(sample, excluded);
    Some(format!(
        "; excluded persistent-lag partitions {excluded:?} (lag {lag})"
    ))
}
