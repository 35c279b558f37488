//! What the operator last saw and did: the `status` of an `EventPipeline`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator last saw and did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPipelineStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `TopicReady`, `ProducerReady`, `ConsumerReady` and `Scaling`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The topic as found on the broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<TopicStatus>,
    /// The consumer group's last lag measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<LagStatus>,
    /// Consumer replicas and the scaler's last decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerStatus>,
}

/// The topic as found on the broker.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct TopicStatus {
    /// Topic name.
    pub name: String,
    /// Partitions on the broker.
    pub partitions: u32,
}

/// A lag measurement: sum over partitions of (high watermark − committed offset); a partition
/// without a committed offset counts from its low watermark.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LagStatus {
    /// Total lag in events.
    pub total: u64,
    /// Partitions with a lag above zero.
    pub partitions_with_lag: u32,
    /// When these figures were measured. The lag is measured every `pollInterval` but the status
    /// is written only when something in it changes, so this is the measurement that last
    /// changed it; the live figure is the `eventflow_consumer_lag` metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<Time>,
    /// Partitions left out of the scaling decision (persistent lag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_partitions: Vec<i32>,
}

/// Consumer replicas and the scaler's last decision.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerStatus {
    /// Consumer pods the Deployment reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Consumer pods the scaler wants; the operator applies it when autoscaling is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<u32>,
    /// When the scaler last changed the consumer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// Why the scaler last changed (or kept) the consumer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_reason: Option<String>,
}
