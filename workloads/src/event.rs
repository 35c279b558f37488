//! The event envelope (CloudEvents 1.0 where it fits), its validation and JSON Schema checks.
//!
//! The producer turns an [`IncomingEvent`] into an [`Event`] (id and time filled in), validates it
//! with the pipeline's [`EventRules`] and writes its JSON as the Kafka message value; the consumer
//! decodes that value again with [`Event::decode`] and checks it with the same rules, so both
//! sides agree on what a valid event is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::Result;

mod key;
mod rules;
mod time;

pub use key::{InvalidPartitionKey, PartitionKey};
pub use rules::{EventData, EventRules};

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
    #[serde(default, deserialize_with = "time::deserialize_optional")]
    pub time: Option<DateTime<Utc>>,
    /// The version of the pipeline's schema that `data` follows: the number (`2`) or a URI
    /// whose last path segment is the number (`https://registry.example/.../versions/2`);
    /// absent: the latest version. A version the pipeline does not list is refused (422).
    #[schema(min_length = 1)]
    pub dataschema: Option<String>,
    /// The payload, checked against the pipeline's JSON Schema (the version `dataschema` names).
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
    #[serde(serialize_with = "time::serialize")]
    pub time: DateTime<Utc>,
    /// Always [`DATA_CONTENT_TYPE`].
    pub datacontenttype: String,
    /// The schema version the client named (CloudEvents `dataschema`), as it named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// Extension attribute: the version of the pipeline's schema `data` was checked against
    /// (the one `dataschema` names, else the latest); set by the producer, never by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemaversion: Option<u32>,
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
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
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

/// `body` as text when the typed decode judges it as the field-by-field one would: `serde_json`
/// checks neither the UTF-8 nor the `\u` escapes of the fields an envelope ignores, so a body
/// with invalid UTF-8 or a UTF-16 surrogate escape (`\uD800`-`\uDFFF`) anywhere takes the
/// checked path (found by the `envelope` fuzz target).
pub(crate) fn typed_decodable(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let surrogate = |at: usize| {
        body.get(at + 1) == Some(&b'u')
            && matches!(body.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                body.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    };
    let escapes = body.iter().enumerate().filter(|(_, b)| **b == b'\\');
    (!escapes.map(|(at, _)| at).any(surrogate)).then_some(text)
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
            .unwrap_or_else(|| {
                // Encoded straight into a buffer: `to_string` goes through `fmt`, a noticeable
                // part of a batched request's CPU.
                let uuid = uuid::Uuid::now_v7();
                uuid.hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer())
                    .to_owned()
            });
        Event {
            specversion: SPEC_VERSION.to_owned(),
            id,
            kind: self.kind.unwrap_or_default(),
            source: self.source.unwrap_or_else(|| default_source.to_owned()),
            subject: self.subject,
            time: self.time.unwrap_or_else(Utc::now),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataschema: self.dataschema,
            schemaversion: None,
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

    #[test]
    fn data_is_checked_against_the_version_dataschema_names_else_the_latest() {
        let versions = eventflow_contract::schemas::parse_file(
            r#"[{"version": 1, "schema": {"type": "object", "required": ["a"]}},
                {"version": 2, "schema": {"type": "object", "required": ["b"]}}]"#,
        )
        .unwrap();
        let rules = EventRules::with_versions(Vec::new(), versions).unwrap();
        let paths = |dataschema: Value| {
            let event = incoming(json!({"type": "t", "dataschema": dataschema, "data": {"a": 1}}))
                .into_event(None, "s");
            let errors = rules.check(&event);
            (
                rules.schema_version(&event).ok().flatten(),
                errors.into_iter().map(|e| e.path).collect::<Vec<_>>(),
            )
        };
        assert_eq!(paths(json!("1")), (Some(1), vec![]));
        assert_eq!(
            paths(json!("https://r.example/versions/1")),
            (Some(1), vec![])
        );
        assert_eq!(paths(Value::Null), (Some(2), vec!["/data".to_owned()]));
        assert_eq!(paths(json!("v1")), (None, vec!["/dataschema".to_owned()]));
        assert_eq!(paths(json!("3")), (None, vec!["/dataschema".to_owned()]));
    }

    #[test]
    fn the_pointer_of_a_nul_field_name_escapes_tilde_and_slash() {
        let event = incoming(json!({
            "type": "t",
            "data": {"ok": [{"x": 1}], "a/b": {"c~\u{0}": 1}, "after": {"d\u{0}": 2}}
        }))
        .into_event(None, "s");
        let paths: Vec<_> = EventRules::default()
            .check(&event)
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["/data/a~1b/c~0\u{0}", "/data/after/d\u{0}"]);
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
}
