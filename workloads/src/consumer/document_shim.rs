//! Stand-in for `crate::document` (owned by the producer work) until it is merged: the agreed
//! Event -> MongoDB document conversion and the query indexes, with the same signatures, so the
//! swap is one `use` line in `consumer/flush.rs` and `consumer/mod.rs`.

use mongodb::{
    IndexModel,
    bson::{Bson, DateTime, Document, doc},
};

use crate::event::Event;

/// The stored document of an event read from `partition` at `offset` with Kafka key `key`:
/// `{ _id: id, id, type, source, subject?, time, datacontenttype, specversion, data, key?,
/// kafka: {partition, offset}, ingestedAt }`.
pub fn to_document(event: &Event, key: Option<&str>, partition: i32, offset: i64) -> Document {
    let data = mongodb::bson::to_bson(&event.data)
        .unwrap_or_else(|_| Bson::String(event.data.to_string()));
    let mut document = doc! {
        "_id": &event.id,
        "id": &event.id,
        "type": &event.kind,
        "source": &event.source,
    };
    if let Some(subject) = &event.subject {
        document.insert("subject", subject);
    }
    document.insert("time", DateTime::from_millis(event.time.timestamp_millis()));
    document.insert("datacontenttype", &event.datacontenttype);
    document.insert("specversion", &event.specversion);
    document.insert("data", data);
    if let Some(key) = key {
        document.insert("key", key);
    }
    document.insert("kafka", doc! { "partition": partition, "offset": offset });
    document.insert("ingestedAt", DateTime::now());
    document
}

/// Indexes of the query API: by key, by type, and by time, each ordered by time.
///
/// (`_id` is left out of the compound keys: the nx-27017 stand-in fails every insert into a
/// collection with an index on `_id` plus other fields.)
pub fn indexes() -> Vec<IndexModel> {
    [
        doc! { "key": 1, "time": 1 },
        doc! { "type": 1, "time": 1 },
        doc! { "time": 1 },
    ]
    .into_iter()
    .map(|keys| IndexModel::builder().keys(keys).build())
    .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::IncomingEvent;

    #[test]
    fn documents_have_the_agreed_shape() {
        let incoming: IncomingEvent = serde_json::from_value(json!({
            "id": "e1", "type": "LOGIN", "subject": "u1", "time": "2026-11-23T12:00:00Z",
            "data": {"userId": "u1", "n": 3}
        }))
        .unwrap();
        let document = to_document(&incoming.into_event(None, "src"), Some("u1"), 2, 41);
        assert_eq!(document.get_str("_id").unwrap(), "e1");
        assert_eq!(document.get_str("key").unwrap(), "u1");
        assert_eq!(
            document.get_datetime("time").unwrap().timestamp_millis(),
            1_795_435_200_000
        );
        let kafka = document.get_document("kafka").unwrap();
        assert_eq!(kafka.get_i32("partition").unwrap(), 2);
        assert_eq!(kafka.get_i64("offset").unwrap(), 41);
        assert_eq!(
            document.get_document("data").unwrap().get_i64("n").unwrap(),
            3
        );
        assert!(document.get_datetime("ingestedAt").is_ok());
    }
}
