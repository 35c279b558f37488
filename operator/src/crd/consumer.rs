//! The consumer: Kafka into MongoDB in batches.

use eventflow_contract::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Resources, one};

/// The consumer: Kafka into MongoDB in batches.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerSpec {
    /// Consumer pods when autoscaling is off; the starting point when it is on. Default: `1`.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Events per MongoDB write (1 to 10000). Default: `100`.
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1, max = 10_000))]
    pub batch_size: u32,
    /// Longest wait since a batch's first event before it is written, a duration such as `500ms`
    /// (10ms to 5m). Default: `5s`.
    #[serde(default = "default_batch_timeout")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "duration(self) >= duration('10ms') && duration(self) <= duration('5m')",
        "message": "consumer.batchTimeout must be between 10ms and 5m"
    }]))]
    pub batch_timeout: Duration,
    /// CPU and memory of each consumer pod; default: none set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
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

fn default_batch_size() -> u32 {
    100
}
fn default_batch_timeout() -> Duration {
    Duration::from_secs(5)
}
