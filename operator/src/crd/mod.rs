//! The `EventPipeline` custom resource: the only place its schema lives, one file per part of
//! the spec (`kafka`, `topic`, `producer` with its `schemas`, `consumer`, `sink`,
//! `autoscaling`) and the `status`.
//!
//! Every doc comment below becomes the description `kubectl explain eventpipeline.spec...` shows;
//! defaults and validation (ranges, patterns, CEL rules) are part of the generated schema, so the
//! API server refuses a bad pipeline before the operator sees it.

mod autoscaling;
mod consumer;
mod kafka;
mod producer;
mod reflow;
mod resources;
mod schemas;
mod sink;
mod status;
mod topic;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use self::{
    autoscaling::AutoscalingSpec,
    consumer::ConsumerSpec,
    kafka::{KafkaSpec, SecretKeySelector, SecretReference},
    producer::{JwtAlgorithm, JwtSpec, ProducerAuth, ProducerSpec, RateLimitSpec},
    resources::Resources,
    schemas::{Compatibility, SchemaVersion},
    sink::{MongoSinkSpec, SinkSpec, WriteConcernSpec},
    status::{ConsumerStatus, EventPipelineStatus, LagStatus, Summary, TopicStatus},
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
    printcolumn = r#"{"name":"Ready","type":"string","description":"True when the pipeline runs its current spec, False when not, Pending before the operator's first reconcile.","jsonPath":".status.summary.ready"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","description":"Why the pipeline is not ready (the Ready condition's reason).","jsonPath":".status.summary.reason"}"#,
    printcolumn = r#"{"name":"Partitions","type":"string","description":"Partitions of the topic on the broker.","jsonPath":".status.summary.partitions"}"#,
    printcolumn = r#"{"name":"Consumers","type":"string","description":"Consumer pods running and wanted, as current/desired; then who holds the partitions while some have no owner or a consumer holds none.","jsonPath":".status.summary.consumers"}"#,
    printcolumn = r#"{"name":"Lag","type":"string","description":"Consumer-group lag in events at the operator's last measurement.","jsonPath":".status.summary.lag"}"#,
    printcolumn = r#"{"name":"Age","type":"date","description":"Time since the pipeline was created.","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Topic","type":"string","priority":1,"description":"The Kafka topic.","jsonPath":".status.summary.topic"}"#,
    printcolumn = r#"{"name":"URL","type":"string","priority":1,"description":"The producer's in-cluster URL: POST events to /v1/events.","jsonPath":".status.summary.producerUrl"}"#,
    printcolumn = r#"{"name":"Last Scale","type":"string","priority":1,"description":"Why the consumer count last changed, or why it is fixed.","jsonPath":".status.summary.lastScale"}"#
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
    /// Default: `false`.
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

/// The CRD as the API server gets it: kube's derived CRD with every description reflowed into
/// lines of whole paragraphs ([`reflow`]) and `status` defaulting to `{}`, so that its
/// `summary` (the printer columns) says `Pending` before the operator's first status write.
pub fn crd() -> Result<CustomResourceDefinition, serde_json::Error> {
    let mut crd = serde_json::to_value(<EventPipeline as kube::CustomResourceExt>::crd())?;
    reflow::descriptions(&mut crd);
    for version in crd["spec"]["versions"].as_array_mut().into_iter().flatten() {
        version["schema"]["openAPIV3Schema"]["properties"]["status"]["default"] = json!({});
    }
    serde_json::from_value(crd)
}

/// The CRD as YAML, exactly what `eventflow-operator crdgen` prints.
pub fn crd_yaml() -> Result<String, serde_json::Error> {
    serde_yaml::to_string(&crd()?).map_err(serde::ser::Error::custom)
}
