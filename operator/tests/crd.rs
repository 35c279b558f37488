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
    serde_json::to_value(eventflow_operator::crd::crd().unwrap()).unwrap()
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
}

#[test]
fn printer_columns_answer_is_it_working_and_how_busy_and_wide_adds_where() {
    let crd = crd();
    let columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .clone();
    let shown = |priority: u64| -> Vec<(String, String)> {
        columns
            .iter()
            .filter(|c| c["priority"].as_u64().unwrap_or(0) == priority)
            .map(|c| {
                let (name, path) = (c["name"].as_str(), c["jsonPath"].as_str());
                (name.unwrap().to_owned(), path.unwrap().to_owned())
            })
            .collect()
    };
    let expected = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
            .collect()
    };
    assert_eq!(
        shown(0),
        expected(&[
            ("Ready", ".status.summary.ready"),
            ("Reason", ".status.summary.reason"),
            ("Partitions", ".status.summary.partitions"),
            ("Consumers", ".status.summary.consumers"),
            ("Lag", ".status.summary.lag"),
            ("Age", ".metadata.creationTimestamp"),
        ])
    );
    assert_eq!(
        shown(1),
        expected(&[
            ("Topic", ".status.summary.topic"),
            ("URL", ".status.summary.producerUrl"),
            ("Last Scale", ".status.summary.lastScale"),
        ]),
        "-o wide adds these"
    );
    for column in &columns {
        let description = column["description"].as_str().unwrap_or_default();
        assert!(
            description.len() > 10 && description.ends_with('.'),
            "{column} needs a sentence as its description"
        );
    }
}

#[test]
fn every_column_of_a_pipeline_not_yet_reconciled_says_pending() {
    let s = schema();
    assert_eq!(s["properties"]["status"]["default"], serde_json::json!({}));
    let summary = &s["properties"]["status"]["properties"]["summary"];
    let columns = crd()["spec"]["versions"][0]["additionalPrinterColumns"].clone();
    for column in columns.as_array().unwrap() {
        let path = column["jsonPath"].as_str().unwrap();
        let Some(field) = path.strip_prefix(".status.summary.") else {
            assert_eq!(
                path, ".metadata.creationTimestamp",
                "a column that can be blank"
            );
            continue;
        };
        assert_eq!(summary["default"][field], "Pending", "{path}");
    }
}

#[test]
fn no_description_breaks_a_line_inside_a_sentence() {
    fn walk(path: &str, node: &Value, broken: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("description", Value::String(text)) => {
                            if let Some(line) = broken_line(text) {
                                broken.push(format!("{path}: {line:?}"));
                            }
                        }
                        _ => walk(&format!("{path}.{key}"), value, broken),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(path, item, broken)),
            _ => {}
        }
    }
    /// The first line that ends mid-sentence and is followed by more prose.
    fn broken_line(text: &str) -> Option<String> {
        let lines: Vec<&str> = text.lines().collect();
        lines.windows(2).find_map(|pair| {
            let (line, next) = (pair[0].trim_end(), pair[1]);
            let ends_sentence = line.is_empty() || line.ends_with(['.', ':', '!', '?']);
            let next_is_prose = !next.trim().is_empty()
                && !next.starts_with([' ', '\t', '-', '*'])
                && !next.starts_with("```");
            (!ends_sentence && next_is_prose).then(|| line.to_owned())
        })
    }
    let mut broken = Vec::new();
    walk("crd", &crd(), &mut broken);
    // The committed file equals `crd()` (committed_crd_matches_crdgen).
    assert!(
        broken.is_empty(),
        "descriptions broken mid-sentence: {broken:#?}"
    );
}

#[test]
fn resources_offer_limits_and_requests_only() {
    let s = schema();
    for workload in ["producer", "consumer"] {
        let resources = &s["properties"]["spec"]["properties"][workload]["properties"]["resources"];
        let fields: Vec<&String> = resources["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(fields, ["limits", "requests"], "{workload}.resources");
        for field in ["limits", "requests"] {
            let description = resources["properties"][field]["description"]
                .as_str()
                .unwrap();
            assert!(
                description.contains("Default:"),
                "{workload}.resources.{field} names its default: {description}"
            );
        }
    }
    let text = serde_json::to_string(&crd()).unwrap();
    assert!(
        !text.contains("\"claims\""),
        "resources.claims is not supported"
    );
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
