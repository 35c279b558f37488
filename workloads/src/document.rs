//! The read model: how an [`Event`] is stored in MongoDB and rendered back as JSON.
//!
//! The consumer writes documents with [`to_document`]; the producer's query API reads them
//! and answers with [`to_json`]. Both ensure the same [`indexes`]. One stored document:
//!
//! ```text
//! { _id: id, id, type, source, subject?, time: DateTime, datacontenttype, specversion,
//!   dataschema?, schemaversion?: i64, data, authtype?, authid?, key?: string,
//!   kafka: {partition: i32, offset: i64}, ingestedAt: DateTime }
//! ```
//!
//! `time` is a BSON datetime (millisecond precision), so range filters and the newest-first
//! sort compare instants, not strings. The newest-first order is (`time`, `_id`) descending,
//! which the first index serves; `id` repeats `_id` so the stored document is the event.

pub mod ttl;

use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::{
    Collection, IndexModel,
    bson::{self, Bson, Document, doc},
};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    Result,
    event::{Event, EventData},
};

// Describes what `to_json` renders, for the OpenAPI document; a test of the producer's
// `openapi` module checks rendered documents against it.
/// A stored event as the query API renders it: the envelope plus where Kafka put it and when
/// the consumer stored it.
#[derive(Debug, ToSchema)]
#[schema(as = StoredEvent)]
#[expect(
    dead_code,
    reason = "describes the JSON that to_json renders; never built"
)]
pub struct StoredEvent {
    /// Always `1.0`.
    specversion: String,
    /// The event's id.
    id: String,
    /// Event type.
    #[schema(rename = "type")]
    kind: String,
    /// Who produced the event.
    source: String,
    /// What the event is about.
    #[schema(required = false)]
    subject: String,
    /// When it happened (millisecond precision).
    time: DateTime<Utc>,
    /// Always `application/json`.
    datacontenttype: String,
    /// The schema version the client named (CloudEvents `dataschema`), as it named it.
    #[schema(required = false)]
    dataschema: String,
    /// The version of the pipeline's schema `data` was checked against (the one `dataschema`
    /// names, else the latest); absent when the pipeline has no schema.
    #[schema(required = false, minimum = 1)]
    schemaversion: u32,
    /// The payload.
    data: EventData,
    /// CloudEvents auth-context extension: the kind of principal that sent the event
    /// (`app_user`: the subject of a JWT), when one was authenticated.
    #[schema(required = false)]
    authtype: String,
    /// CloudEvents auth-context extension: who sent the event (the JWT's `sub`).
    #[schema(required = false)]
    authid: String,
    /// The Kafka message key (the partition key value), when the event had one.
    #[schema(required = false)]
    key: String,
    /// Where the event was read from.
    kafka: KafkaPosition,
    /// When the consumer stored it.
    #[schema(rename = "ingestedAt")]
    ingested_at: DateTime<Utc>,
}

/// Where an event was read from.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the JSON that to_json renders; never built"
)]
pub struct KafkaPosition {
    /// Kafka partition.
    partition: i32,
    /// Offset in the partition.
    offset: i64,
}

/// The document stored for an event read from `partition` at `offset`, keyed by `key`.
pub fn to_document(event: &Event, key: Option<&str>, partition: i32, offset: i64) -> Document {
    let mut document = doc! {
        "_id": &event.id,
        "id": &event.id,
        "type": &event.kind,
        "source": &event.source,
    };
    if let Some(subject) = &event.subject {
        document.insert("subject", subject);
    }
    document.insert(
        "time",
        bson::DateTime::from_millis(event.time.timestamp_millis()),
    );
    document.insert("datacontenttype", &event.datacontenttype);
    document.insert("specversion", &event.specversion);
    if let Some(dataschema) = &event.dataschema {
        document.insert("dataschema", dataschema);
    }
    if let Some(version) = event.schemaversion {
        document.insert("schemaversion", i64::from(version));
    }
    document.insert("data", json_to_bson(&event.data));
    if let Some(authid) = &event.authid {
        document.insert("authtype", event.authtype.as_deref().unwrap_or("unknown"));
        document.insert("authid", authid);
    }
    if let Some(key) = key {
        document.insert("key", key);
    }
    document.insert("kafka", doc! { "partition": partition, "offset": offset });
    document.insert("ingestedAt", bson::DateTime::now());
    document
}

/// The indexes the queries need: newest first overall, by key, by type and by schema version.
pub fn indexes() -> Vec<IndexModel> {
    [
        doc! { "time": -1, "_id": -1 },
        doc! { "key": 1, "time": -1 },
        doc! { "type": 1, "time": -1 },
        doc! { "schemaversion": 1, "time": -1 },
    ]
    .into_iter()
    .map(|keys| IndexModel::builder().keys(keys).build())
    .collect()
}

/// Creates the [`indexes`] on `collection` (a no-op when they exist), one command each: the dev
/// server (FerretDB 1.24) drops the connection when one `createIndexes` names several indexes
/// that all exist already.
pub async fn ensure_indexes(collection: &Collection<Document>) -> Result<()> {
    for index in indexes() {
        collection.create_index(index).await?;
    }
    Ok(())
}

/// A stored document as the query API renders it: the event's JSON plus `key`, `kafka` and
/// `ingestedAt`, times as RFC 3339 strings, `_id` left out (it equals `id`).
pub fn to_json(document: &Document) -> Value {
    let fields = document
        .iter()
        .filter(|(name, _)| name.as_str() != "_id")
        .map(|(name, value)| (name.clone(), bson_to_json(value)))
        .collect::<Map<_, _>>();
    Value::Object(fields)
}

/// JSON to BSON without extended-JSON interpretation: user data such as `{"$date": 1}` stays
/// a plain document.
pub fn json_to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
            |i| i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
        ),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(json_to_bson).collect()),
        Value::Object(fields) => Bson::Document(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_to_bson(v)))
                .collect(),
        ),
    }
}

/// BSON to plain JSON: numbers stay numbers, datetimes become RFC 3339 strings, other BSON
/// types use relaxed extended JSON.
pub fn bson_to_json(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Bson::String(s) => Value::String(s.clone()),
        Bson::DateTime(t) => DateTime::from_timestamp_millis(t.timestamp_millis())
            .map_or(Value::Null, |t| Value::String(rfc3339(t))),
        Bson::Array(items) => Value::Array(items.iter().map(bson_to_json).collect()),
        Bson::Document(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), bson_to_json(v)))
                .collect(),
        ),
        other => other.clone().into_relaxed_extjson(),
    }
}

/// RFC 3339 with milliseconds and `Z`, the precision of a BSON datetime.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Event {
        serde_json::from_value(json!({
            "specversion": "1.0", "id": "e1", "type": "LOGIN", "source": "web",
            "time": "2026-11-23T12:00:00.123Z", "datacontenttype": "application/json",
            "data": {"userId": "u1", "n": 3, "big": 5_000_000_000_i64, "x": 1.5, "$date": "kept"}
        }))
        .unwrap()
    }

    #[test]
    fn documents_have_the_agreed_shape() {
        let document = to_document(&event(), Some("u1"), 2, 41);
        assert_eq!(document.get_str("_id").unwrap(), "e1");
        assert_eq!(document.get_str("id").unwrap(), "e1");
        assert_eq!(document.get_str("key").unwrap(), "u1");
        assert!(!document.contains_key("subject"));
        let time = document.get_datetime("time").unwrap();
        assert_eq!(time.timestamp_millis(), event().time.timestamp_millis());
        let kafka = document.get_document("kafka").unwrap();
        assert_eq!(kafka.get_i32("partition").unwrap(), 2);
        assert_eq!(kafka.get_i64("offset").unwrap(), 41);
        assert!(document.get_datetime("ingestedAt").is_ok());
        let data = document.get_document("data").unwrap();
        assert_eq!(data.get_i32("n").unwrap(), 3);
        assert_eq!(data.get_i64("big").unwrap(), 5_000_000_000);
        assert_eq!(data.get_str("$date").unwrap(), "kept");
    }

    #[test]
    fn json_rendering_round_trips_the_event() {
        let document = to_document(&event(), None, 0, 7);
        let json = to_json(&document);
        assert!(json.get("_id").is_none());
        assert_eq!(json["time"], "2026-11-23T12:00:00.123Z");
        assert_eq!(json["kafka"], json!({"partition": 0, "offset": 7}));
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event());
    }

    #[test]
    fn a_jwt_subject_is_stored_and_rendered_as_the_auth_context_attributes() {
        let mut event = event();
        assert!(!to_document(&event, None, 0, 1).contains_key("authid"));
        event.authtype = Some("app_user".into());
        event.authid = Some("user-42".into());
        let json = to_json(&to_document(&event, None, 0, 1));
        assert_eq!(
            (&json["authtype"], &json["authid"]),
            (&json!("app_user"), &json!("user-42"))
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn four_indexes_serve_the_queries() {
        let keys: Vec<Document> = indexes().into_iter().map(|i| i.keys).collect();
        assert_eq!(keys[0], doc! { "time": -1, "_id": -1 });
        assert_eq!(keys[3], doc! { "schemaversion": 1, "time": -1 });
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn the_schema_version_is_stored_and_rendered() {
        let mut event = event();
        assert!(!to_document(&event, None, 0, 1).contains_key("schemaversion"));
        event.dataschema = Some("https://registry.example/versions/2".into());
        event.schemaversion = Some(2);
        let document = to_document(&event, None, 0, 1);
        assert_eq!(document.get_i64("schemaversion").unwrap(), 2);
        let back: Event = serde_json::from_value(to_json(&document)).unwrap();
        assert_eq!(back, event);
    }
}
