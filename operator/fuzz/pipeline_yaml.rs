//! The whole path the `pipeline_yaml` fuzz target drives. The target and the regression test
//! (`operator/tests/fuzz_regressions.rs`) both include this file, so the committed inputs run
//! through the same function without cargo-fuzz; it lives here, not in the operator library,
//! because it checks the operator against the workloads, which the operator does not link.

use eventflow_contract as contract;
use eventflow_operator::{
    local::pipeline_file,
    resources::{self, BuildContext},
};
use eventflow_workloads::event::{EventRules, PartitionKey};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::EnvVar};

/// A pipeline file as `eventflow-operator local -f` reads it (the whole input is its text).
///
/// Holds: the text is refused with an error, or the pipeline is accepted and then its
/// workloads can start with it: the objects build, and what the producer reads from its
/// environment (partition key, allowed types, JSON Schema) is usable as the spec meant it.
pub fn pipeline_yaml(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let ctx = BuildContext {
        workload_image: "eventflow:fuzz".into(),
        workload_log_format: eventflow_contract::logs::LogFormat::Plain,
        image_pull_secrets: Vec::new(),
    };
    let Ok(pipeline) = pipeline_file::parse(text, None, &ctx) else {
        return;
    };
    let consumers = resources::consumer::replicas(&pipeline);
    let desired = resources::desired(&pipeline, &ctx, consumers);
    let env = container_env(&desired.producer);
    let value = |name: &str| {
        env.iter()
            .find(|var| var.name == name)
            .and_then(|var| var.value.clone())
    };
    let key = value(contract::PARTITION_KEY).unwrap_or_default();
    let parsed = key.parse::<PartitionKey>();
    assert!(
        parsed.is_ok(),
        "accepted, but the producer refuses it: {parsed:?}"
    );
    let producer = &pipeline.spec.producer;
    let types: Vec<String> = value(contract::ALLOWED_TYPES)
        .map(|list| list.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    assert_eq!(
        types, producer.allowed_types,
        "allowed types changed on the way"
    );
    // The schema file as the workloads read it from the schema `ConfigMap`.
    let file = desired
        .schema
        .as_ref()
        .and_then(|config_map| config_map.data.as_ref())
        .and_then(|data| data.get(resources::env::SCHEMA_KEY));
    let versions = file
        .map(|text| contract::schemas::parse_file(text))
        .transpose();
    assert!(
        versions.is_ok(),
        "accepted, but the workloads cannot read its schema file: {versions:?}"
    );
    assert_eq!(
        versions.clone().unwrap_or_default().unwrap_or_default(),
        producer.schema_versions(),
        "schema versions changed on the way"
    );
    let versions = versions.unwrap_or_default().unwrap_or_default();
    let rules = EventRules::with_versions(types, versions);
    assert!(
        rules.is_ok(),
        "accepted, but the producer refuses it: {rules:?}"
    );
}

fn container_env(deployment: &Deployment) -> Vec<EnvVar> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|container| container.env.clone())
        .unwrap_or_default()
}
