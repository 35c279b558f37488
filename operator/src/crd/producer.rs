//! The producer: HTTP ingest into Kafka, the query API, its rate limit and its auth.

use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SecretKeySelector, one};

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

fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

fn default_partition_key() -> String {
    "subject".to_owned()
}
