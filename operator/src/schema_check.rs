//! The `EventPipeline` CRD's `openAPIV3Schema` as a strict JSON Schema validator: what the API
//! server checks on `kubectl apply --validate=strict`, for places without an API server (the
//! local runtime, tests of examples).
//!
//! The conversion: `x-kubernetes-*` keys are dropped (CEL rules are checked by
//! [`crate::resources::validate`] instead), `nullable: true` adds `null` to the type, and every
//! object that lists `properties` and does not preserve unknown fields gets
//! `additionalProperties: false`, so a misspelt field is refused rather than silently pruned.
//! At the root, `apiVersion`, `kind` and `metadata` are implicit in a CRD, so they are added.

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use crate::{Error, Result, crd};

/// A strict validator of whole `EventPipeline` documents, from the CRD this binary generates.
pub fn validator() -> Result<Validator> {
    let crd = serde_json::to_value(crd::crd()?)?;
    let open_api = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    validator_of(&open_api)
}

/// A strict validator of whole custom resources of a served `openAPIV3Schema`.
pub fn validator_of(open_api: &Value) -> Result<Validator> {
    let mut schema = to_json_schema(open_api);
    if let Some(properties) = schema["properties"].as_object_mut() {
        for field in ["apiVersion", "kind"] {
            properties.entry(field).or_insert(json!({"type": "string"}));
        }
        properties
            .entry("metadata")
            .or_insert(json!({"type": "object"}));
    }
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| Error::InvalidSpec(format!("the CRD schema does not compile: {e}")))
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
            let value = match (key.as_str(), value) {
                ("default" | "example" | "enum", _) => value.clone(),
                ("properties", Value::Object(properties)) => Value::Object(
                    properties
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rejects_unknown_fields_but_keeps_preserved_objects_open() {
        let open_api = json!({
            "type": "object",
            "properties": {
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "strict": {"type": "object", "properties": {"a": {"type": "string", "nullable": true}}}
            }
        });
        let validator = validator_of(&open_api).unwrap();
        assert!(validator.is_valid(&json!({"free": {"anything": 1}, "strict": {"a": null}})));
        assert!(!validator.is_valid(&json!({"strict": {"b": "typo"}})));
        assert!(!validator.is_valid(&json!({"unknown": 1})));
    }

    #[test]
    fn the_generated_crd_refuses_a_misspelt_field_and_a_bad_enum() {
        let validator = validator().unwrap();
        let good = json!({
            "apiVersion": "eventflow.dev/v1alpha1", "kind": "EventPipeline",
            "metadata": {"name": "p"},
            "spec": {
                "kafka": {"bootstrapServers": "k:9092"},
                "sink": {"mongodb": {"uriSecretRef": {"name": "m", "key": "uri"}}}
            }
        });
        assert_eq!(errors(&validator, &good), Vec::<String>::new());
        let mut typo = good.clone();
        typo["spec"]["consumer"] = json!({"batchSise": 10});
        assert!(errors(&validator, &typo)[0].starts_with("/spec/consumer"));
        let mut policy = good;
        policy["spec"]["topic"] = json!({"deletionPolicy": "Purge"});
        assert!(!errors(&validator, &policy).is_empty());
    }
}
