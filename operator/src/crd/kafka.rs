//! How the operator and the workloads reach Kafka, and the Secret references the spec uses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
