//! Where the consumer writes events: the MongoDB read model.

use eventflow_contract::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeySelector;

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
    /// How long an event stays in the read model after the consumer stored it, e.g. `10080m`
    /// (7 days; the units are `ms`, `s` and `m`, the grammar of every duration of the spec and
    /// of CEL's `duration()`); counted in whole seconds, rounded up; at least `1s`. The consumer
    /// keeps a TTL index on the stored time (`ingestedAt`, `expireAfterSeconds`) to match, and
    /// drops it when this is unset. MongoDB deletes expired events within about a minute; the
    /// topic's own retention is `topic.config["retention.ms"]`. FerretDB 1.24 (the dev server)
    /// refuses TTL indexes: the consumer logs that events will not expire and goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "duration(self) >= duration('1s')",
        "message": "sink.mongodb.ttl must be at least 1s"
    }]))]
    pub ttl: Option<Duration>,
}

impl Default for MongoSinkSpec {
    fn default() -> Self {
        Self {
            uri_secret_ref: SecretKeySelector::default(),
            database: default_database(),
            collection: None,
            ttl: None,
        }
    }
}

fn default_database() -> String {
    "eventflow".to_owned()
}
