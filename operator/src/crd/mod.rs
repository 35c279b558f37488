//! The `EventPipeline` custom resource: the only place its schema lives, one file per part of
//! the spec (`kafka`, `topic`, `producer` with its `schemas`, `consumer`, `sink`, `autoscaling`) and the `status`.
//!
//! Every doc comment below becomes the description `kubectl explain eventpipeline.spec...` shows;
//! defaults and validation (ranges, patterns, CEL rules) are part of the generated schema, so the
//! API server refuses a bad pipeline before the operator sees it.

mod autoscaling;
mod consumer;
mod kafka;
mod producer;
mod schemas;
mod sink;
mod status;
mod topic;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::{
    autoscaling::AutoscalingSpec,
    consumer::ConsumerSpec,
    kafka::{KafkaSpec, SecretKeySelector, SecretReference},
    producer::{JwtAlgorithm, JwtSpec, ProducerAuth, ProducerSpec, RateLimitSpec},
    schemas::{Compatibility, SchemaVersion},
    sink::{MongoSinkSpec, SinkSpec, WriteConcernSpec},
    status::{ConsumerStatus, EventPipelineStatus, LagStatus, TopicStatus},
    topic::{DeletionPolicy, TopicSpec},
};

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

/// The default of every replica count that starts at one.
fn one() -> u32 {
    1
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
