//! `eventflow-operator local` refuses, on start and before it starts anything, a pipeline file
//! whose schema versions break their compatibility mode, with the reason on stderr.

use std::process::Command;

const PIPELINE: &str = r"
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {name: orders}
spec:
  kafka: {bootstrapServers: 127.0.0.1:1}
  sink: {mongodb: {uriSecretRef: {name: mongodb, key: uri}}}
  producer:
    schemas:
    - version: 1
      schema: {type: object, additionalProperties: false, properties: {sku: {type: string}}}
    - version: 2
      schema: {type: object, additionalProperties: false, properties: {sku: {type: string}, qty: {type: integer}}, required: [qty]}
";

#[test]
fn an_incompatible_pipeline_file_is_refused_on_start() {
    let path = std::env::temp_dir().join(format!("local-schema-{}.yaml", std::process::id()));
    std::fs::write(&path, PIPELINE).expect("write the pipeline file");
    let output = Command::new(env!("CARGO_BIN_EXE_eventflow-operator"))
        .args(["local", "-f"])
        .arg(&path)
        .output()
        .expect("run eventflow-operator local");
    std::fs::remove_file(&path).expect("remove the pipeline file");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started: {stderr}");
    assert!(
        stderr.contains(
            "EventPipeline orders is invalid: schema version 2 is not backward compatible with \
             version 1 (compatibility BACKWARD: version 2 must accept the data of version 1): \
             #/properties/qty REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
        ),
        "{stderr}"
    );
}
