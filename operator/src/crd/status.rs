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
    /// `Ready`, `TopicReady`, `SinkReady`, `ProducerReady`, `ConsumerReady` and `Scaling`.
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
    /// The figures `kubectl get eventpipelines` shows, as text; `Pending` until the operator's
    /// first reconcile.
    #[serde(default)]
    pub summary: Summary,
}

/// The figures `kubectl get eventpipelines` shows, one per column, as text: a printer column
/// cannot default, so each field has the schema default `Pending`, which a pipeline shows until
/// the operator first reconciled it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `True` when the pipeline runs its current spec, `False` when not, `Pending` before the
    /// operator's first reconcile.
    pub ready: String,
    /// The `Ready` condition's reason while it is not `True` (e.g. `KafkaUnavailable`,
    /// `SecretMissing`, `Progressing`); empty when ready.
    pub reason: String,
    /// The topic's partitions on the broker; `Unknown` while the broker cannot be asked.
    pub partitions: String,
    /// Consumer pods running and wanted, as `current/desired` (e.g. `2/3`), followed by who holds
    /// the partitions while some have no owner or a consumer holds none (e.g.
    /// `2/2 assigned 1/4 (1 holding none)`).
    pub consumers: String,
    /// The consumer group's total lag in events at the last measurement; `Unknown` before the
    /// first one.
    pub lag: String,
    /// The Kafka topic's name.
    pub topic: String,
    /// The producer's in-cluster URL (its Service), e.g.
    /// `http://orders-producer.shop.svc:8080`.
    pub producer_url: String,
    /// Why the consumer count last changed (autoscaling), or why it is fixed.
    pub last_scale: String,
}

impl Summary {
    /// What a pipeline not yet reconciled shows (the schema's default).
    pub const PENDING: &str = "Pending";
}

impl Default for Summary {
    fn default() -> Self {
        let pending = || Self::PENDING.to_owned();
        Self {
            ready: pending(),
            reason: pending(),
            partitions: pending(),
            consumers: pending(),
            lag: pending(),
            topic: pending(),
            producer_url: pending(),
            last_scale: pending(),
        }
    }
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
    /// Partitions of the topic a member of the consumer group holds, as the group's coordinator
    /// last reported a settled group (a member that died holds its partitions until its session
    /// times out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_partitions: Option<u32>,
    /// Members of the consumer group holding no partition of the topic, at the same report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumers_holding_none: Option<u32>,
}
