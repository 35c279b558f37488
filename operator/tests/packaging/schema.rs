//! The generated CRD's `openAPIV3Schema` as a strict JSON Schema validator, through the
//! operator's own conversion (`eventflow_operator::schema_check`), which the local runtime uses
//! to check pipeline files the way the API server would.

use jsonschema::Validator;
use serde_json::Value;

use crate::repo;

/// The generated CRD, from crds/ (written by `make generate`).
pub const CRD: &str = "crds/eventpipeline.yaml";

/// The CRD as JSON; fails clearly while it has not been generated.
pub fn crd() -> Value {
    let path = repo::root().join(CRD);
    assert!(
        path.exists(),
        "{CRD} is missing: it is generated from operator/src/crd/ by `make generate`"
    );
    repo::yaml_file::<Value>(CRD).remove(0)
}

/// The served version's `openAPIV3Schema`, with its group, version and kind.
pub fn served_schema(crd: &Value) -> (String, &Value) {
    let spec = &crd["spec"];
    let version = spec["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|version| version["storage"] == true)
        .expect("the CRD has a storage version");
    let api_version = format!(
        "{}/{}",
        spec["group"].as_str().unwrap(),
        version["name"].as_str().unwrap()
    );
    (api_version, &version["schema"]["openAPIV3Schema"])
}

pub use eventflow_operator::schema_check::errors;

/// A strict validator of whole custom resources (the operator's own conversion).
pub fn validator(open_api: &Value) -> Validator {
    eventflow_operator::schema_check::validator_of(open_api).unwrap()
}
