//! CPU and memory of a workload's pods (`producer.resources`, `consumer.resources`): a
//! container's `resources` without `claims` (dynamic resource allocation), which eventflow
//! does not support.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity,
};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// CPU and memory of each pod, as in a container's `resources`: `cpu` in cores (`500m` is half
/// a core), `memory` in bytes with a suffix (`256Mi`, `1Gi`). Default: none set (the namespace's
/// `LimitRange`, if any, applies).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Resources {
    /// The most a pod may use, e.g. `{cpu: "1", memory: 512Mi}` (`cpu` in cores, `memory` in
    /// bytes): past its memory limit a pod is killed, past its CPU limit it is throttled.
    /// Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantities")]
    pub limits: Option<BTreeMap<String, Quantity>>,
    /// What the scheduler reserves for a pod, e.g. `{cpu: 200m, memory: 256Mi}` (`cpu` in
    /// cores, `memory` in bytes). Default: the limits when set, else nothing reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantities")]
    pub requests: Option<BTreeMap<String, Quantity>>,
}

impl Resources {
    /// The container's `resources`.
    pub fn requirements(&self) -> ResourceRequirements {
        ResourceRequirements {
            claims: None,
            limits: self.limits.clone(),
            requests: self.requests.clone(),
        }
    }
}

/// A map of resource names (`cpu`, `memory`, `ephemeral-storage`) to Kubernetes quantities.
fn quantities(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "additionalProperties": {
            "description": "A Kubernetes quantity: a number with an optional suffix, e.g. `500m`, `2`, `256Mi`, `1Gi`.",
            "x-kubernetes-int-or-string": true
        }
    })
}
