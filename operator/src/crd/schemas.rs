//! The event schema's versions and their compatibility mode (`producer.schemas`,
//! `producer.compatibility`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use eventflow_contract::schemas::SchemaVersion;

/// How a new schema version must relate to the earlier ones, as Confluent Schema Registry
/// defines the modes for JSON Schema. `BACKWARD`: data written with the previous version
/// validates against the new one (consumers on the new schema read old data). `FORWARD`: data
/// written with the new version validates against the previous one (consumers still on the
/// previous schema read new data). `FULL`: both. The `_TRANSITIVE` modes check against every
/// earlier version, not only the previous one. `NONE`: no check. Each version is checked
/// against the next lower version number in `producer.schemas` (transitive: all lower ones).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compatibility {
    /// The new version reads data of the previous version.
    #[default]
    Backward,
    /// The new version reads data of every earlier version.
    BackwardTransitive,
    /// The previous version reads data of the new version.
    Forward,
    /// Every earlier version reads data of the new version.
    ForwardTransitive,
    /// Both `BACKWARD` and `FORWARD`.
    Full,
    /// Both `BACKWARD_TRANSITIVE` and `FORWARD_TRANSITIVE`.
    FullTransitive,
    /// No compatibility check.
    None,
}

impl Compatibility {
    /// The name in the spec, e.g. `BACKWARD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }

    /// Whether the new version must read the earlier versions' data.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Whether the earlier versions must read the new version's data.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Whether a version is checked against every earlier one (else only the previous one).
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }
}
