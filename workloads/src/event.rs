//! The event envelope (CloudEvents 1.0 where it fits), its validation and JSON Schema checks.
//!
//! The producer turns an [`IncomingEvent`] into an [`Event`] (id and time filled in), validates it
//! with the pipeline's [`EventRules`] and writes its JSON as the Kafka message value; the consumer
//! decodes that value again with [`Event::decode`] and checks it with the same rules, so both
//! sides agree on what a valid event is.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{Error, Result};

/// CloudEvents spec version of every envelope.
pub const SPEC_VERSION: &str = "1.0";
/// Content type of event data.
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// Longest accepted event id, in characters (as JSON Schema's `maxLength` counts).
pub const MAX_ID_LEN: usize = 200;

/// An event as a client sends it: everything but `type` and `data` is optional. Other fields
/// are ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IncomingEvent {
    /// Idempotency key; generated (UUIDv7) when absent.
    #[schema(min_length = 1)]
    pub id: Option<String>,
    /// Event type, e.g. `LOGIN`.
    #[serde(rename = "type")]
    #[schema(value_type = String, required = true, min_length = 1)]
    pub kind: Option<String>,
    /// Who produced the event (a URI reference).
    pub source: Option<String>,
    /// What the event is about; a common partition key.
    pub subject: Option<String>,
    /// When it happened (RFC 3339); defaults to the time of ingest.
    pub time: Option<DateTime<Utc>>,
    /// The payload, checked against the pipeline's JSON Schema.
    #[serde(default)]
    #[schema(value_type = EventData)]
    pub data: Value,
}

/// The stored envelope: the Kafka message value and the MongoDB document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Always [`SPEC_VERSION`].
    pub specversion: String,
    /// Unique id; the MongoDB `_id`, so a redelivered event is a no-op.
    pub id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who produced the event.
    pub source: String,
    /// What the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// Always [`DATA_CONTENT_TYPE`].
    pub datacontenttype: String,
    /// The payload.
    pub data: Value,
    /// CloudEvents auth-context extension: the kind of principal that sent the event
    /// (`app_user` for the subject of a JWT); set by the producer only, never by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authtype: Option<String>,
    /// CloudEvents auth-context extension: who sent the event (a JWT's `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authid: Option<String>,
}

/// One failing field: a JSON pointer into the event and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer of the field, e.g. `/data/title`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Why bytes read from Kafka are not a usable event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an event envelope.
    #[error("not an event: {0}")]
    NotAnEvent(String),
    /// An event that breaks the pipeline's rules.
    #[error("invalid event: {}", summarize(.0))]
    Invalid(Vec<FieldError>),
}

impl DecodeError {
    /// A short machine-readable code, used in dead-letter headers and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::NotAnEvent(_) => "not_an_event",
            Self::Invalid(_) => "schema_violation",
        }
    }
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl IncomingEvent {
    /// The envelope with id, source and time filled in; `id_override` (the `Idempotency-Key`
    /// header) wins over a missing id.
    pub fn into_event(self, id_override: Option<&str>, default_source: &str) -> Event {
        let id = self
            .id
            .or_else(|| id_override.map(str::to_owned))
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        Event {
            specversion: SPEC_VERSION.to_owned(),
            id,
            kind: self.kind.unwrap_or_default(),
            source: self.source.unwrap_or_else(|| default_source.to_owned()),
            subject: self.subject,
            time: self.time.unwrap_or_else(Utc::now),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            data: self.data,
            authtype: None,
            authid: None,
        }
    }
}

impl Event {
    /// Decodes a Kafka message value written by the producer.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| DecodeError::NotAnEvent(e.to_string()))
    }

    /// The JSON bytes of the envelope.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings, a timestamp and a `Value` cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Which event field keys the Kafka message: `id`, `type`, `source`, `subject` or `data.<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKey {
    /// A top-level envelope attribute.
    Attribute(String),
    /// A dotted path inside `data`.
    Data(Vec<String>),
}

impl std::str::FromStr for PartitionKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('.') {
            Some(("data", path)) if !path.is_empty() => {
                Ok(Self::Data(path.split('.').map(str::to_owned).collect()))
            }
            None if ["id", "type", "source", "subject"].contains(&text) => {
                Ok(Self::Attribute(text.to_owned()))
            }
            _ => Err(format!(
                "`{text}` is not a partition key: use id, type, source, subject or data.<field>"
            )),
        }
    }
}

impl PartitionKey {
    /// The key of an event; `None` when the field is absent (Kafka then spreads the events).
    pub fn extract(&self, event: &Event) -> Option<String> {
        match self {
            Self::Attribute(name) => match name.as_str() {
                "id" => Some(event.id.clone()),
                "type" => Some(event.kind.clone()),
                "source" => Some(event.source.clone()),
                _ => event.subject.clone(),
            },
            Self::Data(path) => {
                let value = path.iter().try_fold(&event.data, |v, key| v.get(key))?;
                match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Null | Value::Object(_) | Value::Array(_) => None,
                    other => Some(other.to_string()),
                }
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn incoming(value: Value) -> IncomingEvent {
        serde_json::from_value(value).unwrap()
    }

    fn post_rules() -> EventRules {
        let schema = json!({
            "type": "object",
            "required": ["title", "content"],
            "properties": {
                "title": {"type": "string", "minLength": 2, "maxLength": 100},
                "content": {"type": "string", "minLength": 10, "maxLength": 1000}
            }
        });
        EventRules::new(vec!["post.created".into()], Some(&schema)).unwrap()
    }

    #[test]
    fn missing_id_and_time_are_filled_in() {
        let event = incoming(json!({"type": "LOGIN", "data": {}})).into_event(None, "test");
        assert_eq!(event.id.len(), 36);
        assert_eq!(event.source, "test");
        assert!((Utc::now() - event.time).num_seconds() < 5);
    }

    #[test]
    fn idempotency_key_applies_only_when_the_event_has_no_id() {
        let keyed = incoming(json!({"type": "t"})).into_event(Some("k1"), "s");
        assert_eq!(keyed.id, "k1");
        let own = incoming(json!({"id": "e1", "type": "t"})).into_event(Some("k1"), "s");
        assert_eq!(own.id, "e1");
    }

    #[test]
    fn ids_are_limited_in_characters_as_the_openapi_maxlength_counts() {
        let rules = EventRules::default();
        let id = |text: String| incoming(json!({"id": text, "type": "t"})).into_event(None, "s");
        assert!(rules.check(&id("é".repeat(MAX_ID_LEN))).is_empty());
        let paths: Vec<_> = rules
            .check(&id("é".repeat(MAX_ID_LEN + 1)))
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["/id"]);
    }

    #[test]
    fn schema_violations_name_every_failing_field() {
        let event = incoming(json!({"type": "other", "data": {"title": "x", "content": "short"}}))
            .into_event(None, "s");
        let mut paths: Vec<_> = post_rules()
            .check(&event)
            .into_iter()
            .map(|e| e.path)
            .collect();
        paths.sort();
        assert_eq!(paths, ["/data/content", "/data/title", "/type"]);
    }

    #[test]
    fn a_valid_event_round_trips_through_kafka_bytes() {
        let rules = post_rules();
        let event = incoming(json!({
            "type": "post.created",
            "data": {"title": "Hello", "content": "a long enough body"}
        }))
        .into_event(None, "s");
        assert_eq!(rules.decode(&event.to_json()), Ok(event));
    }

    #[test]
    fn poison_bytes_are_classified() {
        let rules = EventRules::default();
        assert_eq!(rules.decode(b"{nope").unwrap_err().code(), "not_json");
        assert_eq!(
            rules.decode(b"{\"a\":1}").unwrap_err().code(),
            "not_an_event"
        );
        let typeless = incoming(json!({"data": {}})).into_event(None, "s");
        assert_eq!(
            rules.decode(&typeless.to_json()).unwrap_err().code(),
            "schema_violation"
        );
    }

    /// Found by the `envelope` and `consumer_record` fuzz targets' BSON check.
    #[test]
    fn nul_in_a_data_field_name_is_a_named_violation() {
        let event =
            incoming(json!({"type": "t", "data": {"a": [{"b\u{0}c": 1}]}})).into_event(None, "s");
        let errors = EventRules::default().check(&event);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "/data/a/0/b\u{0}c");
        let document = crate::document::to_document(&event, None, 0, 0);
        assert!(
            document.to_writer(&mut Vec::new()).is_err(),
            "the driver refuses it"
        );
    }

    #[test]
    fn partition_keys_read_attributes_and_data_paths() {
        let event = incoming(json!({
            "type": "LOGIN", "subject": "s1",
            "data": {"userId": "u7", "account": {"no": 42}}
        }))
        .into_event(None, "s");
        let key = |k: &str| k.parse::<PartitionKey>().unwrap().extract(&event);
        assert_eq!(key("subject").as_deref(), Some("s1"));
        assert_eq!(key("type").as_deref(), Some("LOGIN"));
        assert_eq!(key("data.userId").as_deref(), Some("u7"));
        assert_eq!(key("data.account.no").as_deref(), Some("42"));
        assert_eq!(key("data.missing"), None);
        assert!("data.".parse::<PartitionKey>().is_err());
        assert!("userId".parse::<PartitionKey>().is_err());
    }
}
