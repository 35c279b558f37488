//! The `EventPipeline` custom resource: the only place its schema lives.
//!
//! Every doc comment below becomes the description `kubectl explain eventpipeline.spec...` shows;
//! defaults and validation (ranges, patterns, CEL rules) are part of the generated schema, so the
//! API server refuses a bad pipeline before the operator sees it.

use std::collections::BTreeMap;

use eventflow_contract::Duration;
use k8s_openapi::{
    api::core::v1::ResourceRequirements,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An event pipeline: a Kafka topic, an HTTP ingest and query service (the producer) and a
/// Kafka to MongoDB batch writer (the consumer), scaled on consumer-group lag.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "eventflow.dev",
    version = "v1alpha1",
    kind = "EventPipeline",
    plural = "eventpipelines",
    shortname = "evp",
    category = "eventflow",
    namespaced,
    status = "EventPipelineStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "An event pipeline: a Kafka topic, an HTTP ingest/query service and Kafka-to-MongoDB consumers scaled on lag.",
    scale(
        spec_replicas_path = ".spec.consumer.replicas",
        status_replicas_path = ".status.consumer.replicas"
    ),
    printcolumn = r#"{"name":"Partitions","type":"integer","description":"Partitions of the topic","jsonPath":".status.topic.partitions"}"#,
    printcolumn = r#"{"name":"Consumers","type":"integer","description":"Consumer pods","jsonPath":".status.consumer.replicas"}"#,
    printcolumn = r#"{"name":"Lag","type":"integer","description":"Consumer-group lag in events","jsonPath":".status.lag.total"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","description":"Whether the pipeline runs","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct EventPipelineSpec {
    /// How the operator and the workloads reach Kafka.
    pub kafka: KafkaSpec,
    /// The pipeline's Kafka topic.
    #[serde(default)]
    pub topic: TopicSpec,
    /// The producer: HTTP ingest (`POST /v1/events`) into Kafka and the query API over MongoDB.
    #[serde(default)]
    pub producer: ProducerSpec,
    /// The consumer: Kafka into MongoDB in batches.
    #[serde(default)]
    pub consumer: ConsumerSpec,
    /// Where the consumer writes events (the read model the producer queries).
    pub sink: SinkSpec,
    /// Scaling the consumer on consumer-group lag.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,
    /// Workload image for the producer and consumer; default: the operator's `--workload-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Scales the producer and consumer to zero while true; the topic and the stored events stay.
    #[serde(default)]
    pub suspend: bool,
}

/// How to reach Kafka.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSpec {
    /// Kafka bootstrap servers, comma separated `host:port` pairs.
    #[schemars(length(min = 1))]
    pub bootstrap_servers: String,
    /// Secret whose keys are librdkafka properties (`security.protocol`, `sasl.*`, `ssl.*`), used
    /// by the operator's admin calls and mounted into the workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
}

/// A Secret in the pipeline's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecretReference {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// One key of a Secret in the pipeline's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key within the Secret.
    #[schemars(length(min = 1))]
    pub key: String,
}

/// What happens to the topic when the pipeline is deleted.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Keep the topic and its events.
    #[default]
    Retain,
    /// Delete the topic (and the consumer group's offsets where the broker supports it).
    Delete,
}

/// The pipeline's Kafka topic.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)",
    "message": "topic.name is immutable"
}]))]
pub struct TopicSpec {
    /// Topic name; default: the pipeline's name. Cannot change once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 249), regex(pattern = r"^[a-zA-Z0-9._-]+$"))]
    pub name: Option<String>,
    /// Number of partitions (at least 1). It can grow but never shrink; it also caps the consumers.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self >= oldSelf", "message": "topic.partitions cannot decrease"}
    ]))]
    pub partitions: u32,
    /// Replicas of each partition. Fixed once the pipeline exists.
    #[serde(default = "default_replication_factor")]
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "topic.replicationFactor is immutable"}
    ]))]
    pub replication_factor: u16,
    /// Topic configuration overrides (e.g. `retention.ms`); keys removed here are reset on the broker.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// What happens to the topic when the pipeline is deleted: `Retain` (default) or `Delete`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

impl Default for TopicSpec {
    fn default() -> Self {
        Self {
            name: None,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            config: BTreeMap::new(),
            deletion_policy: DeletionPolicy::default(),
        }
    }
}

/// The producer: HTTP ingest into Kafka and the query API.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerSpec {
    /// Number of producer pods.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The event field whose value keys the Kafka message: `id`, `type`, `source`, `subject` or
    /// `data.<field>` (nested: `data.user.id`).
    #[serde(default = "default_partition_key")]
    #[schemars(regex(pattern = r"^(id|type|source|subject|data\..+)$"))]
    pub partition_key: String,
    /// Event types the producer accepts; empty: any type. At most 256 types of 1 to 253
    /// characters, without a comma (the producer reads the list comma separated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 256),
        inner(length(min = 1, max = 253), regex(pattern = r"^[^,]+$"))
    )]
    pub allowed_types: Vec<String>,
    /// JSON Schema that every event's `data` must satisfy; the consumer sends others to `<topic>.dlq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub schema: Option<serde_json::Value>,
    /// Bearer-token authentication of the ingest and query API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ProducerAuth>,
    /// Rate limit of the ingest (`POST /v1/events`; queries are not limited); unset: no limit.
    /// A token bucket of `burst` events refilled at `eventsPerSecond`: one per bearer token when
    /// `auth` is set, else one per producer pod (the pipeline's total is then `replicas` times
    /// it). An event array counts as its number of events, after validation (refused events cost
    /// nothing). Over the limit: 429 with `Retry-After`, the whole seconds until the request's
    /// events fit (at least 1). An array larger than `burst` can never fit: 413
    /// `exceeds_rate_limit_burst` (split it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// CPU and memory of each producer pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

impl Default for ProducerSpec {
    fn default() -> Self {
        Self {
            replicas: one(),
            partition_key: default_partition_key(),
            allowed_types: Vec::new(),
            schema: None,
            auth: None,
            rate_limit: None,
            resources: None,
        }
    }
}

/// The ingest rate limit (documented on `ProducerSpec::rate_limit`, which `kubectl explain` shows).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.burst) || self.burst >= self.eventsPerSecond",
    "message": "producer.rateLimit.burst must be at least producer.rateLimit.eventsPerSecond"
}]))]
pub struct RateLimitSpec {
    /// Events per second each client may send on average: the bucket's refill rate (at least 1).
    #[schemars(range(min = 1))]
    pub events_per_second: u32,
    /// Most events a client may send at once after a quiet spell: the bucket's size, and the
    /// largest event array accepted; default: `eventsPerSecond`. At least `eventsPerSecond`:
    /// `Retry-After` is at least one second, so a client that waits it must find a whole
    /// second's events in the bucket, else obeying `Retry-After` could never reach the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub burst: Option<u32>,
}

/// Bearer-token authentication.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerAuth {
    /// Secret key holding the accepted tokens, one per line.
    pub secret_ref: SecretKeySelector,
}

/// The consumer: Kafka into MongoDB in batches.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerSpec {
    /// Consumer pods when autoscaling is off; the starting point when it is on.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Events per MongoDB write (1 to 10000).
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1, max = 10_000))]
    pub batch_size: u32,
    /// Longest wait since a batch's first event before it is written, e.g. `500ms`, `5s` (10ms to 5m).
    #[serde(default = "default_batch_timeout")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "duration(self) >= duration('10ms') && duration(self) <= duration('5m')",
        "message": "consumer.batchTimeout must be between 10ms and 5m"
    }]))]
    pub batch_timeout: Duration,
    /// CPU and memory of each consumer pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

impl Default for ConsumerSpec {
    fn default() -> Self {
        Self {
            replicas: one(),
            batch_size: default_batch_size(),
            batch_timeout: default_batch_timeout(),
            resources: None,
        }
    }
}

/// Where the consumer writes events.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct SinkSpec {
    /// The MongoDB read model.
    pub mongodb: MongoSinkSpec,
}

/// The MongoDB read model.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MongoSinkSpec {
    /// Secret key holding the MongoDB connection string.
    pub uri_secret_ref: SecretKeySelector,
    /// Database of the read model.
    #[serde(default = "default_database")]
    #[schemars(length(min = 1))]
    pub database: String,
    /// Collection of the read model; default: the pipeline's name with `-` and `.` as `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub collection: Option<String>,
}

impl Default for MongoSinkSpec {
    fn default() -> Self {
        Self {
            uri_secret_ref: SecretKeySelector::default(),
            database: default_database(),
            collection: None,
        }
    }
}

/// Scaling the consumer on consumer-group lag (like a KEDA Kafka scaler).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.minReplicas <= self.maxReplicas",
    "message": "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"
}]))]
pub struct AutoscalingSpec {
    /// Whether the operator scales the consumer; when false, `consumer.replicas` is used.
    #[serde(default)]
    pub enabled: bool,
    /// Fewest consumers; 0 allows scaling to zero when the lag is at or below `activationLag`.
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// Most consumers; the topic's partition count caps it as well.
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
    /// Target lag per consumer: desired = ceil(total lag / lagThreshold).
    #[serde(default = "default_lag_threshold")]
    #[schemars(range(min = 1))]
    pub lag_threshold: u64,
    /// At or below this total lag the pipeline counts as idle and goes to `minReplicas`.
    #[serde(default)]
    pub activation_lag: u64,
    /// How often the lag is measured, e.g. `10s`.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
    /// How long a higher desired count must hold before scaling up, e.g. `0s`.
    #[serde(default = "default_scale_up_stabilization")]
    pub scale_up_stabilization: Duration,
    /// How long a lower desired count must hold before scaling down, e.g. `300s`.
    #[serde(default = "default_scale_down_stabilization")]
    pub scale_down_stabilization: Duration,
    /// Leave out partitions whose lag does not move between measurements (a stuck partition does
    /// not get more consumers by scaling).
    #[serde(default)]
    pub exclude_persistent_lag: bool,
    /// Also size the consumers so the lag drains within this many seconds at the measured rate.
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

fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

fn one() -> u32 {
    1
}
fn default_partitions() -> u32 {
    1
}
fn default_replication_factor() -> u16 {
    1
}
fn default_partition_key() -> String {
    "subject".to_owned()
}
fn default_batch_size() -> u32 {
    100
}
fn default_batch_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_database() -> String {
    "eventflow".to_owned()
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

impl EventPipeline {
    /// The Kafka topic name: `spec.topic.name`, else the pipeline's name.
    pub fn topic_name(&self) -> String {
        self.spec
            .topic
            .name
            .clone()
            .unwrap_or_else(|| kube::ResourceExt::name_any(self))
    }

    /// `<namespace>/<name>`: the key of per-pipeline state and the `pipeline` label of its
    /// figures, in the operator and in its workloads alike.
    pub fn object_key(&self) -> String {
        eventflow_contract::pipeline_key(
            &kube::ResourceExt::namespace(self).unwrap_or_default(),
            &kube::ResourceExt::name_any(self),
        )
    }

    /// The consumer's dead-letter topic: `<topic>.dlq`.
    pub fn dead_letter_topic_name(&self) -> String {
        eventflow_contract::naming::dead_letter_topic(&self.topic_name())
    }

    /// The consumer group of the pipeline's consumers: `eventflow-<namespace>-<name>`.
    pub fn group_id(&self) -> String {
        format!(
            "eventflow-{}-{}",
            kube::ResourceExt::namespace(self).unwrap_or_default(),
            kube::ResourceExt::name_any(self)
        )
    }

    /// The MongoDB collection: `sink.mongodb.collection`, else the pipeline's name with every
    /// character other than a letter, digit or `_` replaced by `_` (`user-activity` becomes
    /// `user_activity`), a name every MongoDB-compatible server accepts.
    pub fn collection(&self) -> String {
        self.spec
            .sink
            .mongodb
            .collection
            .clone()
            .unwrap_or_else(|| {
                kube::ResourceExt::name_any(self)
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect()
            })
    }
}

/// The CRD as YAML, exactly what `eventflow-operator crdgen` prints.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&<EventPipeline as kube::CustomResourceExt>::crd())
}
