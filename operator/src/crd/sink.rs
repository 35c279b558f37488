//! Where the consumer writes events: the MongoDB read model.

use eventflow_contract::{Duration, write_concern::Acknowledgment};

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
    /// Database of the read model. Default: `eventflow`.
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
    /// How durable a write is before the consumer commits its Kafka offsets; unset: `w:
    /// majority` with journaling. Overrides a write concern in the connection string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_concern: Option<WriteConcernSpec>,
}

/// The MongoDB write concern of the consumer's writes.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteConcernSpec {
    /// Members that acknowledge a write: `majority` (default; an acknowledged write survives a
    /// failover) or a number of at least 1 (`1`: the primary alone, whose acknowledged writes a
    /// failover can roll back after their offsets were committed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w: Option<Acknowledgment>,
    /// Acknowledge a write only once it is in the on-disk journal (default `true`); `false`
    /// risks the writes of the last ~100 ms on a crash of the acknowledging members.
    #[serde(default = "journal_default")]
    pub journal: bool,
}

impl WriteConcernSpec {
    /// The members that acknowledge a write (`majority` when unset).
    pub fn acknowledgment(&self) -> Acknowledgment {
        self.w.unwrap_or_default()
    }
}

fn journal_default() -> bool {
    true
}

impl Default for MongoSinkSpec {
    fn default() -> Self {
        Self {
            uri_secret_ref: SecretKeySelector::default(),
            database: default_database(),
            collection: None,
            ttl: None,
            write_concern: None,
        }
    }
}

fn default_database() -> String {
    "eventflow".to_owned()
}
