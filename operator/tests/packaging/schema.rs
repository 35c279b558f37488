//! The generated CRD's `openAPIV3Schema` as a strict JSON Schema validator.
//!
//! The conversion: `x-kubernetes-*` keys are dropped (CEL rules are not evaluated here),
//! `nullable: true` adds `null` to the type, and every object that lists `properties` and does
//! not preserve unknown fields gets `additionalProperties: false`, which is how the API server
//! prunes (here: rejects) unknown fields. At the root, `apiVersion`, `kind` and `metadata` are
//! implicit in a CRD, so they are added.

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use crate::repo;

/// The generated CRD, from crds/ (written by `make generate`).
pub const CRD: &str = "crds/eventpipeline.yaml";

/// The CRD as JSON; fails clearly while it has not been generated.
pub fn crd() -> Value {
    let path = repo::root().join(CRD);
    assert!(
        path.exists(),
        "{CRD} is missing: it is generated from operator/src/crd.rs by `make generate`"
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

/// A strict validator of whole custom resources.
pub fn validator(open_api: &Value) -> Validator {
    let mut schema = to_json_schema(open_api);
    let properties = schema["properties"].as_object_mut().unwrap();
    for (field, implicit) in [
        ("apiVersion", json!({"type": "string"})),
        ("kind", json!({"type": "string"})),
        ("metadata", json!({"type": "object"})),
    ] {
        properties.entry(field).or_insert(implicit);
    }
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(false)
        .build(&schema)
        .unwrap()
}

/// Every validation error of `instance`, as `path: message` lines.
pub fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{}: {error}", error.instance_path))
        .collect()
}

/// A structural `OpenAPI` v3 schema as a strict JSON Schema.
pub fn to_json_schema(open_api: &Value) -> Value {
    match open_api {
        Value::Object(object) => Value::Object(convert_object(object)),
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

fn convert_object(object: &Map<String, Value>) -> Map<String, Value> {
    let preserves_unknown =
        object.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    let mut converted: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !key.starts_with("x-kubernetes-") && key.as_str() != "nullable")
        .map(|(key, value)| {
            // Property maps and `default`/`example` values hold data, not schemas: keep their keys.
            let value = match key.as_str() {
                "default" | "example" | "enum" => value.clone(),
                "properties" => Value::Object(
                    value
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
                        .collect(),
                ),
                _ => to_json_schema(value),
            };
            (key.clone(), value)
        })
        .collect();
    if object.get("nullable") == Some(&json!(true))
        && let Some(Value::String(kind)) = converted.get("type").cloned()
    {
        converted.insert("type".to_owned(), json!([kind, "null"]));
    }
    if converted.contains_key("properties")
        && !converted.contains_key("additionalProperties")
        && !preserves_unknown
    {
        converted.insert("additionalProperties".to_owned(), json!(false));
    }
    converted
}

#[test]
fn conversion_rejects_unknown_fields_but_keeps_preserved_objects_open() {
    let open_api = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "nullable": true, "x-kubernetes-validations": [{"rule": "true"}]},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "x-kubernetes-looking-name": {"type": "integer"}
        }
    });
    let schema = jsonschema::validator_for(&to_json_schema(&open_api)).unwrap();
    assert!(schema.is_valid(&json!({"name": null, "free": {"anything": [1]}})));
    assert!(schema.is_valid(&json!({"x-kubernetes-looking-name": 1})));
    assert!(!schema.is_valid(&json!({"name": "a", "nmae": "typo"})));
    assert!(!schema.is_valid(&json!({"x-kubernetes-looking-name": "not a number"})));
}
