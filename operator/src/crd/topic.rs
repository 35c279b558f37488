//! The pipeline's Kafka topic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// Topic name; default: `<namespace>.<name>` (the operator's topic policy
    /// `namespace-prefix`, which also allows only names starting with `<namespace>.`) or the
    /// pipeline's name (policy `any`). Cannot change once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 249), regex(pattern = r"^[a-zA-Z0-9._-]+$"))]
    pub name: Option<String>,
    /// Number of partitions (at least 1). It can grow but never shrink; it also caps the consumers.
    /// Default: `1`.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self >= oldSelf", "message": "topic.partitions cannot decrease"}
    ]))]
    pub partitions: u32,
    /// Replicas of each partition (brokers holding a copy). Fixed once the pipeline exists.
    /// Default: `1`.
    #[serde(default = "default_replication_factor")]
    #[schemars(range(min = 1))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "topic.replicationFactor is immutable"}
    ]))]
    pub replication_factor: u16,
    /// Topic configuration overrides (e.g. `retention.ms`); keys removed here are reset on the broker.
    /// Default: none (the broker's defaults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// What happens to the topic when the pipeline is deleted: `Retain` (default) or `Delete`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Adopts the topic when it already exists and no pipeline owns it (its events, configs and
    /// partitions become this pipeline's). Without it, an existing topic is refused
    /// (`TopicNotAdopted`). A topic another pipeline owns is never adopted (`TopicConflict`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

impl Default for TopicSpec {
    fn default() -> Self {
        Self {
            name: None,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            config: BTreeMap::new(),
            deletion_policy: DeletionPolicy::default(),
            adopt: false,
        }
    }
}

fn default_partitions() -> u32 {
    1
}
fn default_replication_factor() -> u16 {
    1
}
