//! A pipeline's rules for its events: the allowed types and the JSON Schema of `data`.

use std::path::Path;

use serde_json::Value;
use utoipa::ToSchema;

use super::{DecodeError, Event, FieldError, MAX_ID_LEN};
use crate::{Error, Result};

/// The payload of an event: any JSON value, or what the pipeline's JSON Schema allows (the
/// OpenAPI document a producer serves carries that schema here).
#[derive(Debug, ToSchema)]
#[schema(value_type = Value)]
pub struct EventData(
    #[expect(dead_code, reason = "describes `data` in the OpenAPI document")] Value,
);

/// What makes an event valid in a pipeline: allowed types and a JSON Schema for `data`.
#[derive(Debug, Default)]
pub struct EventRules {
    allowed_types: Vec<String>,
    schema: Option<(Value, jsonschema::Validator)>,
}

impl EventRules {
    /// Rules from an allowed-type list (empty: any) and an optional JSON Schema.
    pub fn new(allowed_types: Vec<String>, schema: Option<&Value>) -> Result<Self> {
        let schema = schema
            .map(|s| {
                jsonschema::validator_for(s)
                    .map(|validator| (s.clone(), validator))
                    .map_err(|e| Error::Config(format!("the event JSON Schema is invalid: {e}")))
            })
            .transpose()?;
        let allowed_types = allowed_types
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Self {
            allowed_types,
            schema,
        })
    }

    /// Rules with the schema read from a file.
    pub fn from_file(allowed_types: Vec<String>, schema_file: Option<&Path>) -> Result<Self> {
        let schema = schema_file.map(read_schema).transpose()?;
        Self::new(allowed_types, schema.as_ref())
    }

    /// The allowed event types (empty: any).
    pub fn allowed_types(&self) -> &[String] {
        &self.allowed_types
    }

    /// The JSON Schema of `data`, when the pipeline has one.
    pub fn data_schema(&self) -> Option<&Value> {
        self.schema.as_ref().map(|(schema, _)| schema)
    }

    /// Whether an event without `data` (which is then `null`) can be valid.
    pub fn accepts_missing_data(&self) -> bool {
        self.schema
            .as_ref()
            .is_none_or(|(_, validator)| validator.is_valid(&Value::Null))
    }

    /// Every way the event breaks the rules; empty when it is valid.
    pub fn check(&self, event: &Event) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let id_len = event.id.chars().count();
        if id_len == 0 || id_len > MAX_ID_LEN {
            errors.push(FieldError::new(
                "/id",
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        if event.kind.is_empty() {
            errors.push(FieldError::new("/type", "is required"));
        } else if !self.allowed_types.is_empty() && !self.allowed_types.contains(&event.kind) {
            errors.push(FieldError::new(
                "/type",
                format!("must be one of {}", self.allowed_types.join(", ")),
            ));
        }
        nul_field_names(&event.data, "/data", &mut errors);
        if let Some((_, schema)) = &self.schema {
            errors.extend(
                schema
                    .iter_errors(&event.data)
                    .map(|e| FieldError::new(format!("/data{}", e.instance_path), e.to_string())),
            );
        }
        errors
    }

    /// Decodes and checks a Kafka message value.
    pub fn decode(&self, bytes: &[u8]) -> Result<Event, DecodeError> {
        let event = Event::decode(bytes)?;
        let errors = self.check(&event);
        if errors.is_empty() {
            Ok(event)
        } else {
            Err(DecodeError::Invalid(errors))
        }
    }
}

/// Field names with a NUL character: MongoDB's driver cannot encode them (BSON names are
/// C strings), so such an event would fail its batch on every retry instead of reaching the DLQ.
fn nul_field_names(value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                let inner_path = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
                if name.contains('\0') {
                    errors.push(FieldError::new(
                        inner_path.clone(),
                        "field names must not contain NUL characters",
                    ));
                }
                nul_field_names(inner, &inner_path, errors);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                nul_field_names(item, &format!("{path}/{index}"), errors);
            }
        }
        _ => {}
    }
}

fn read_schema(path: &Path) -> Result<Value> {
    let text = crate::config::read_file(path)?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{} is not JSON: {e}", path.display())))
}
