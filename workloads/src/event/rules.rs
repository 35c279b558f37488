//! A pipeline's rules for its events: the allowed types and the JSON Schema versions of `data`.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use eventflow_contract::schemas::{self, SchemaVersion};
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

/// What makes an event valid in a pipeline: allowed types and the JSON Schema versions of
/// `data` (an event is checked against the version it names, else the latest).
#[derive(Debug, Default)]
pub struct EventRules {
    allowed_types: Vec<String>,
    /// The compiled schema versions, by version number.
    schemas: BTreeMap<u32, (Value, jsonschema::Validator)>,
}

impl EventRules {
    /// Rules from an allowed-type list (empty: any) and an optional JSON Schema (version 1).
    pub fn new(allowed_types: Vec<String>, schema: Option<&Value>) -> Result<Self> {
        let versions = schema.map(|schema| SchemaVersion {
            version: schemas::SINGLE_SCHEMA_VERSION,
            schema: schema.clone(),
        });
        Self::with_versions(allowed_types, versions.into_iter().collect())
    }

    /// Rules from an allowed-type list (empty: any) and the schema versions.
    pub fn with_versions(allowed_types: Vec<String>, versions: Vec<SchemaVersion>) -> Result<Self> {
        let schemas = versions
            .into_iter()
            .map(|SchemaVersion { version, schema }| {
                jsonschema::validator_for(&schema)
                    .map(|validator| (version, (schema, validator)))
                    .map_err(|e| {
                        Error::Config(format!(
                            "the event JSON Schema version {version} is invalid: {e}"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let allowed_types = allowed_types
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Self {
            allowed_types,
            schemas,
        })
    }

    /// Rules with the schema versions read from a file ([`eventflow_contract::schemas`]).
    pub fn from_file(allowed_types: Vec<String>, schema_file: Option<&Path>) -> Result<Self> {
        let versions = schema_file.map(read_schemas).transpose()?;
        Self::with_versions(allowed_types, versions.unwrap_or_default())
    }

    /// The allowed event types (empty: any).
    pub fn allowed_types(&self) -> &[String] {
        &self.allowed_types
    }

    /// The JSON Schema of `data` of the latest version, when the pipeline has one.
    pub fn data_schema(&self) -> Option<&Value> {
        self.latest().map(|(_, (schema, _))| schema)
    }

    /// The schema version numbers, ascending.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.schemas.keys().copied()
    }

    /// Whether an event without `data` (which is then `null`) can be valid.
    pub fn accepts_missing_data(&self) -> bool {
        self.latest()
            .is_none_or(|(_, (_, validator))| validator.is_valid(&Value::Null))
    }

    /// The schema version an event is checked against: its `schemaversion` (set by the producer),
    /// else the one its `dataschema` names, else the latest; `None` without schemas. An
    /// unusable or unknown `dataschema` is a [`FieldError`] at `/dataschema`.
    pub fn schema_version(&self, event: &Event) -> Result<Option<u32>, FieldError> {
        let Some((&latest, _)) = self.latest() else {
            return Ok(None);
        };
        let named = match (event.schemaversion, &event.dataschema) {
            (Some(version), _) => version,
            (None, Some(dataschema)) => schemas::version_in(dataschema).ok_or_else(|| {
                FieldError::new(
                    "/dataschema",
                    format!(
                        "must name a schema version: a number, or a URI whose last path segment                          is one (versions: {})",
                        self.listed()
                    ),
                )
            })?,
            (None, None) => return Ok(Some(latest)),
        };
        if self.schemas.contains_key(&named) {
            Ok(Some(named))
        } else {
            Err(FieldError::new(
                "/dataschema",
                format!(
                    "names schema version {named}, which the pipeline does not have (versions: {})",
                    self.listed()
                ),
            ))
        }
    }

    fn latest(&self) -> Option<(&u32, &(Value, jsonschema::Validator))> {
        self.schemas.last_key_value()
    }

    fn listed(&self) -> String {
        self.versions()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
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
        nul_field_names(&event.data, &mut "/data".to_owned(), &mut errors);
        match self.schema_version(event) {
            Ok(version) => {
                if let Some((_, schema)) = version.and_then(|v| self.schemas.get(&v)) {
                    errors.extend(schema.iter_errors(&event.data).map(|e| {
                        FieldError::new(format!("/data{}", e.instance_path), e.to_string())
                    }));
                }
            }
            Err(unknown) => errors.push(unknown),
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
/// `path` is the JSON pointer of `value`, grown and cut back in place: every field of every
/// event passes here, and only a failing one needs its pointer as a string of its own.
fn nul_field_names(value: &Value, path: &mut String, errors: &mut Vec<FieldError>) {
    let depth = path.len();
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields {
                push_pointer_segment(path, name);
                if name.contains('\0') {
                    errors.push(FieldError::new(
                        path.clone(),
                        "field names must not contain NUL characters",
                    ));
                }
                nul_field_names(inner, path, errors);
                path.truncate(depth);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let _ = write!(path, "/{index}"); // writing to a String cannot fail
                nul_field_names(item, path, errors);
                path.truncate(depth);
            }
        }
        _ => {}
    }
}

/// Appends `/name` to a JSON pointer, `~` and `/` escaped (RFC 6901).
fn push_pointer_segment(path: &mut String, name: &str) {
    path.push('/');
    for c in name.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn read_schemas(path: &Path) -> Result<Vec<SchemaVersion>> {
    let text = crate::config::read_file(path)?;
    schemas::parse_file(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}
