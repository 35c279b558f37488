//! Scaling the consumer on consumer-group lag.

use eventflow_contract::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::one;

/// Scaling the consumer on consumer-group lag (like a KEDA Kafka scaler).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.minReplicas <= self.maxReplicas",
    "message": "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"
}]))]
pub struct AutoscalingSpec {
    /// Whether the operator scales the consumer; when false, `consumer.replicas` is used. Default:
    /// `false`.
    #[serde(default)]
    pub enabled: bool,
    /// Fewest consumer pods; 0 allows scaling to zero when the lag is at or below `activationLag`.
    /// Default: `1`.
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// Most consumer pods; the topic's partition count caps it as well. Default: `10`.
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
    /// Target lag per consumer pod, in events: desired = ceil(total lag / lagThreshold). Default:
    /// `1000`.
    #[serde(default = "default_lag_threshold")]
    #[schemars(range(min = 1))]
    pub lag_threshold: u64,
    /// At or below this total lag, in events, the pipeline counts as idle and goes to
    /// `minReplicas`. Default: `0`.
    #[serde(default)]
    pub activation_lag: u64,
    /// How often the lag is measured, a duration such as `10s` (also with autoscaling off, for
    /// `status.lag`). Default: `10s`.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
    /// How long a higher desired count must hold before scaling up, a duration such as `30s`.
    /// Default: `0s`.
    #[serde(default = "default_scale_up_stabilization")]
    pub scale_up_stabilization: Duration,
    /// How long a lower desired count must hold before scaling down, a duration such as `5m`.
    /// Default: `300s`.
    #[serde(default = "default_scale_down_stabilization")]
    pub scale_down_stabilization: Duration,
    /// Leave out partitions whose lag does not move between measurements (a stuck partition does
    /// not get more consumers by scaling). Default: `false`.
    #[serde(default)]
    pub exclude_persistent_lag: bool,
    /// Also size the consumers so the lag drains within this many seconds at the measured rate.
    /// Default: unset (the lag threshold alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub target_drain_seconds: Option<u32>,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            min_replicas: one(),
            max_replicas: default_max_replicas(),
            lag_threshold: default_lag_threshold(),
            activation_lag: 0,
            poll_interval: default_poll_interval(),
            scale_up_stabilization: default_scale_up_stabilization(),
            scale_down_stabilization: default_scale_down_stabilization(),
            exclude_persistent_lag: false,
            target_drain_seconds: None,
        }
    }
}

fn default_max_replicas() -> u32 {
    10
}
fn default_lag_threshold() -> u64 {
    1000
}
fn default_poll_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_scale_up_stabilization() -> Duration {
    Duration::from_secs(0)
}
fn default_scale_down_stabilization() -> Duration {
    Duration::from_secs(300)
}
