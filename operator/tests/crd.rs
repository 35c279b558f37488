//! The generated CRD: committed copies match `crdgen`, the schema carries the promised rules,
//! and every example pipeline in the repository validates against it.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

use std::path::{Path, PathBuf};

use eventflow_operator::crd::{EventPipeline, crd_yaml};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn crd() -> Value {
    serde_json::to_value(<EventPipeline as kube::CustomResourceExt>::crd()).unwrap()
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The `x-kubernetes-validations` rules at a JSON pointer of the schema.
fn rules(pointer: &str) -> Vec<String> {
    let node = schema()
        .pointer(pointer)
        .cloned()
        .unwrap_or_else(|| panic!("no schema at {pointer}"));
    node["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| r["rule"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_crd_matches_crdgen() {
    let generated = crd_yaml().unwrap();
    for copy in [
        "crds/eventpipeline.yaml",
        "charts/eventflow/crds/eventpipeline.yaml",
    ] {
        let path = repo_root().join(copy);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{copy}: {e}"));
        assert!(
            committed == generated,
            "{copy} is stale: run `make generate`"
        );
    }
}

#[test]
fn names_scope_and_subresources_are_as_agreed() {
    let crd = crd();
    let spec = &crd["spec"];
    assert_eq!(spec["group"], "eventflow.dev");
    assert_eq!(spec["scope"], "Namespaced");
    assert_eq!(spec["names"]["shortNames"], serde_json::json!(["evp"]));
    assert_eq!(spec["names"]["plural"], "eventpipelines");
    let version = &spec["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    assert_eq!(
        version["subresources"]["scale"]["specReplicasPath"],
        ".spec.consumer.replicas"
    );
    assert_eq!(
        version["subresources"]["scale"]["statusReplicasPath"],
        ".status.consumer.replicas"
    );
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Partitions", "Consumers", "Lag", "Ready", "Age"]);
}

#[test]
fn cel_rules_guard_bounds_and_transitions() {
    let spec = "/properties/spec/properties";
    assert_eq!(
        rules(&format!("{spec}/autoscaling")),
        ["self.minReplicas <= self.maxReplicas"]
    );
    assert!(rules(&format!("{spec}/topic"))[0].contains("self.name == oldSelf.name"));
    assert_eq!(
        rules(&format!("{spec}/topic/properties/partitions")),
        ["self >= oldSelf"]
    );
    assert_eq!(
        rules(&format!("{spec}/topic/properties/replicationFactor")),
        ["self == oldSelf"]
    );
    assert!(
        rules(&format!("{spec}/consumer/properties/batchTimeout"))[0].contains("duration('5m')")
    );
    assert_eq!(
        rules(&format!("{spec}/producer/properties/rateLimit")),
        ["!has(self.burst) || self.burst >= self.eventsPerSecond"]
    );
    let s = schema();
    let batch = s
        .pointer(&format!("{spec}/consumer/properties/batchSize"))
        .unwrap();
    assert_eq!(
        (batch["minimum"].as_f64(), batch["maximum"].as_f64()),
        (Some(1.0), Some(10_000.0))
    );
    let partitions = s
        .pointer(&format!("{spec}/topic/properties/partitions"))
        .unwrap();
    assert_eq!(partitions["minimum"].as_f64(), Some(1.0));
    let policy = s
        .pointer(&format!("{spec}/topic/properties/deletionPolicy"))
        .unwrap();
    assert_eq!(policy["enum"], serde_json::json!(["Retain", "Delete"]));
    let poll = s
        .pointer(&format!("{spec}/autoscaling/properties/pollInterval"))
        .unwrap();
    assert_eq!(poll["pattern"], "^[0-9]+(ms|s|m)$");
}

#[test]
fn every_spec_and_status_field_is_documented() {
    fn walk(path: &str, node: &Value, missing: &mut Vec<String>) {
        if let Some(properties) = node["properties"].as_object() {
            for (name, child) in properties {
                let child_path = format!("{path}.{name}");
                if child["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(child_path.clone());
                }
                walk(&child_path, child, missing);
                walk(&child_path, &child["items"], missing);
            }
        }
    }
    let mut missing = Vec::new();
    let s = schema();
    walk("spec", &s["properties"]["spec"], &mut missing);
    walk("status", &s["properties"]["status"], &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn example_pipelines_validate_against_the_generated_schema() {
    let validator = eventflow_operator::schema_check::validator().unwrap();
    let documents = example_pipelines();
    assert!(documents.len() >= 3, "found only {documents:?}");
    for (path, document) in documents {
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        serde_json::from_value::<EventPipeline>(document)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn schema_refuses_an_out_of_range_batch_and_an_unknown_policy() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let good: Value = serde_yaml::from_str(include_str!("fixtures/full.yaml")).unwrap();
    assert!(validator.is_valid(&good), "the unchanged fixture passes");
    for (pointer, value) in [
        ("/spec/consumer/batchSize", Value::from(20_000)),
        ("/spec/topic/deletionPolicy", Value::from("Purge")),
        ("/spec/consumer/batchTimeout", Value::from("5 seconds")),
        ("/spec/producer/rateLimit/eventsPerSecond", Value::from(0)),
        ("/spec/producer/rateLimit/burst", Value::from(0)),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = value.clone();
        assert!(
            !validator.is_valid(&bad),
            "{pointer} = {value} was accepted"
        );
    }
}

#[test]
fn a_misspelt_field_is_refused_by_the_strict_schema() {
    let validator = eventflow_operator::schema_check::validator().unwrap();
    let mut typo: Value = serde_yaml::from_str(include_str!("fixtures/full.yaml")).unwrap();
    typo["spec"]["producer"]["partitionKeyy"] = "subject".into();
    assert!(!validator.is_valid(&typo));
}

/// Every `EventPipeline` document in the test fixtures and in the repository's example folders.
fn example_pipelines() -> Vec<(PathBuf, Value)> {
    let root = repo_root();
    let folders = ["operator/tests/fixtures", "examples", "deploy", "charts"];
    let mut found = Vec::new();
    for folder in folders {
        collect(&root.join(folder), &mut found);
    }
    found
}

fn collect(dir: &Path, found: &mut Vec<(PathBuf, Value)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.contains("kind: EventPipeline") || text.contains("{{") {
                continue; // not a pipeline, or a Helm template
            }
            for document in serde_yaml::Deserializer::from_str(&text) {
                let value: Value = serde::Deserialize::deserialize(document).unwrap();
                if value["kind"] == "EventPipeline" {
                    found.push((path.clone(), value));
                }
            }
        }
    }
}
