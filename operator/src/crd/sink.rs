//! Where the consumer writes events: the MongoDB read model.

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

fn default_database() -> String {
    "eventflow".to_owned()
}
