//! The autoscaling policy of one pipeline and the replica bounds it implies.

use std::time::Duration;

use super::decision::Rule;

/// Default `scaleDownStabilization`: replicas shrink only to the highest recommendation of the
/// last five minutes.
pub const DEFAULT_SCALE_DOWN_STABILIZATION: Duration = Duration::from_secs(300);

/// The shortest `pollInterval` honoured.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Default number of consecutive polls a partition's committed offset must stand still while it
/// has lag before `excludePersistentLag` leaves it out of the sizing.
pub const DEFAULT_PERSISTENT_LAG_POLLS: u32 = 5;

/// `spec.autoscaling` in plain types (the controller maps the custom resource onto it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Fewest consumers; 0 allows scale to zero.
    pub min_replicas: u32,
    /// Most consumers (also never more than the topic's partitions).
    pub max_replicas: u32,
    /// Target lag per replica (0 is treated as 1).
    pub lag_threshold: u64,
    /// At or below this lag the pipeline is idle and runs `min_replicas`.
    pub activation_lag: u64,
    /// A scale-up goes only as high as the lowest recommendation within this window.
    pub scale_up_stabilization: Duration,
    /// A scale-down goes only as low as the highest recommendation within this window.
    pub scale_down_stabilization: Duration,
    /// Leave partitions whose committed offset is stuck while they have lag out of the sizing.
    pub exclude_persistent_lag: bool,
    /// How many consecutive polls make a partition's lag persistent (at least 2).
    pub persistent_lag_polls: u32,
    /// When set, also size the consumers so that the lag drains within this time.
    pub target_drain: Option<Duration>,
}

impl Policy {
    /// A policy with the given bounds and threshold and every other field at its default
    /// (activation lag 0, scale up at once, scale down after 300 s, no exclusion, no drain target).
    pub fn new(min_replicas: u32, max_replicas: u32, lag_threshold: u64) -> Self {
        Self {
            min_replicas,
            max_replicas,
            lag_threshold,
            activation_lag: 0,
            scale_up_stabilization: Duration::ZERO,
            scale_down_stabilization: DEFAULT_SCALE_DOWN_STABILIZATION,
            exclude_persistent_lag: false,
            persistent_lag_polls: DEFAULT_PERSISTENT_LAG_POLLS,
            target_drain: None,
        }
    }

    pub(super) fn threshold(&self) -> u64 {
        self.lag_threshold.max(1)
    }

    pub(super) fn persistent_polls(&self) -> usize {
        usize::try_from(self.persistent_lag_polls.max(2)).unwrap_or(usize::MAX)
    }

    /// The consumers to run before the first decision: `requested` (`spec.consumer.replicas`)
    /// within the bounds every decision lands in (min, max and the partition cap).
    pub fn initial_replicas(&self, requested: u32, partitions: u32) -> u32 {
        Bounds::new(self, partitions).apply(requested).0
    }

    /// The longer stabilization window: how long recommendations must be remembered.
    pub(super) fn longest_window(&self) -> Duration {
        self.scale_up_stabilization
            .max(self.scale_down_stabilization)
    }
}

/// The replica range a decision must land in.
///
/// The cap is `min(maxReplicas, partitions)`: Kafka gives each partition to one member of the
/// group, so consumers beyond the partition count would sit idle. When `minReplicas` exceeds the
/// partition count, **the partition count wins**: the floor is lowered to the cap and the decision
/// says so (rule [`Rule::PartitionCap`]). Running idle consumers to honour `minReplicas` would cost
/// pods and rebalances and buy no throughput; raising the partitions is the user's fix, and the
/// reason in status points at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bounds {
    pub floor: u32,
    pub cap: u32,
    /// Which rule the cap stands for: [`Rule::PartitionCap`] or [`Rule::MaxReplicas`].
    pub cap_rule: Rule,
}

impl Bounds {
    /// Bounds of `policy` on a topic of `partitions` partitions (0 is treated as 1).
    pub fn new(policy: &Policy, partitions: u32) -> Self {
        let partitions = partitions.max(1);
        let (cap, cap_rule) = if partitions < policy.max_replicas {
            (partitions, Rule::PartitionCap)
        } else {
            (policy.max_replicas, Rule::MaxReplicas)
        };
        Self {
            floor: policy.min_replicas.min(cap),
            cap,
            cap_rule,
        }
    }

    /// `replicas` within the bounds, and the rule that moved it if one did.
    pub fn apply(self, replicas: u32) -> (u32, Option<Rule>) {
        if replicas > self.cap {
            (self.cap, Some(self.cap_rule))
        } else if replicas < self.floor {
            (self.floor, Some(Rule::MinReplicas))
        } else {
            (replicas, None)
        }
    }
}

/// How often a pipeline's lag is measured: `autoscaling.pollInterval`, at least
/// [`MIN_POLL_INTERVAL`].
pub fn poll_interval(spec: &crate::crd::AutoscalingSpec) -> Duration {
    spec.poll_interval.get().max(MIN_POLL_INTERVAL)
}

impl Policy {
    /// The policy of a pipeline's `spec.autoscaling`.
    pub fn from_spec(spec: &crate::crd::AutoscalingSpec) -> Self {
        Self {
            activation_lag: spec.activation_lag,
            scale_up_stabilization: spec.scale_up_stabilization.get(),
            scale_down_stabilization: spec.scale_down_stabilization.get(),
            exclude_persistent_lag: spec.exclude_persistent_lag,
            target_drain: spec
                .target_drain_seconds
                .map(|seconds| Duration::from_secs(u64::from(seconds))),
            ..Self::new(spec.min_replicas, spec.max_replicas, spec.lag_threshold)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_the_partition_count_when_below_max() {
        let bounds = Bounds::new(&Policy::new(1, 10, 100), 6);
        assert_eq!((bounds.floor, bounds.cap), (1, 6));
        assert_eq!(bounds.cap_rule, Rule::PartitionCap);
    }

    #[test]
    fn cap_is_max_replicas_when_partitions_are_at_least_max() {
        let bounds = Bounds::new(&Policy::new(0, 4, 100), 4);
        assert_eq!((bounds.floor, bounds.cap), (0, 4));
        assert_eq!(bounds.cap_rule, Rule::MaxReplicas);
    }

    #[test]
    fn min_above_partitions_is_lowered_to_the_partition_count() {
        let bounds = Bounds::new(&Policy::new(8, 10, 100), 6);
        assert_eq!((bounds.floor, bounds.cap), (6, 6));
        assert_eq!(bounds.apply(8), (6, Some(Rule::PartitionCap)));
    }

    #[test]
    fn zero_partitions_count_as_one() {
        let bounds = Bounds::new(&Policy::new(0, 10, 100), 0);
        assert_eq!(bounds.cap, 1);
    }
}
