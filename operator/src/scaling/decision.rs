//! The outcome of one scaling decision: the replicas, the rule that set them and why.

/// Which rule produced a decision (written to status, Events and metrics labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Lag at or below `activationLag`: the pipeline is idle and runs `minReplicas`.
    Idle,
    /// `ceil(lag / lagThreshold)` replicas.
    LagThreshold,
    /// More replicas than the threshold asks for, so that the lag drains within
    /// `targetDrainSeconds`.
    DrainTime,
    /// Capped at the topic's partition count (more consumers would idle).
    PartitionCap,
    /// Capped at `maxReplicas`.
    MaxReplicas,
    /// Raised to `minReplicas`.
    MinReplicas,
    /// A scale-up held back by `scaleUpStabilization`.
    StabilizedUp,
    /// A scale-down held back by `scaleDownStabilization`.
    StabilizedDown,
    /// The lag could not be measured: the replicas stay as they are.
    Hold,
}

impl Rule {
    /// Every rule, for dropping a pipeline's rule series.
    pub const ALL: [Self; 9] = [
        Self::Idle,
        Self::LagThreshold,
        Self::DrainTime,
        Self::PartitionCap,
        Self::MaxReplicas,
        Self::MinReplicas,
        Self::StabilizedUp,
        Self::StabilizedDown,
        Self::Hold,
    ];

    /// The rule's name, as used in status and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::LagThreshold => "LagThreshold",
            Self::DrainTime => "DrainTime",
            Self::PartitionCap => "PartitionCap",
            Self::MaxReplicas => "MaxReplicas",
            Self::MinReplicas => "MinReplicas",
            Self::StabilizedUp => "StabilizedUp",
            Self::StabilizedDown => "StabilizedDown",
            Self::Hold => "Hold",
        }
    }
}

/// Which way a decision moves the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// More replicas.
    Up,
    /// Fewer replicas.
    Down,
}

impl Direction {
    /// `up` or `down`, for the scale-events counter's label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// One scaling decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Replicas running when the decision was taken.
    pub current: u32,
    /// Replicas the consumer Deployment should run.
    pub desired: u32,
    /// The rule that set `desired`.
    pub rule: Rule,
    /// One line for humans, e.g. `scaled 2→6: lag 5400 over threshold 1000 on 6 partitions
    /// needs 6`; the Event message and `status.consumer.lastScaleReason`.
    pub reason: String,
    /// The lag the sizing used: the sample's total minus the excluded partitions' lag.
    pub lag: u64,
    /// Partitions left out of the sizing by `excludePersistentLag` (for `status.lag`).
    pub excluded_partitions: Vec<i32>,
    /// The most replicas the bounds allow, `min(maxReplicas, partitions)`; `None` for a hold,
    /// which decides without the partitions.
    pub cap: Option<u32>,
}

impl Decision {
    /// Whether the replicas change.
    pub fn is_scale(&self) -> bool {
        self.desired != self.current
    }

    /// Which way the replicas change, if they do.
    pub fn direction(&self) -> Option<Direction> {
        match self.desired.cmp(&self.current) {
            std::cmp::Ordering::Greater => Some(Direction::Up),
            std::cmp::Ordering::Less => Some(Direction::Down),
            std::cmp::Ordering::Equal => None,
        }
    }
}

/// `scaled 2→4` when the replicas change, `kept 4` when they do not.
pub(super) fn headline(current: u32, desired: u32) -> String {
    if current == desired {
        format!("kept {desired}")
    } else {
        format!("scaled {current}→{desired}")
    }
}
