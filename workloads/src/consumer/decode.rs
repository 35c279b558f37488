//! The dead-letter decision: one Kafka message in, either a record for MongoDB or poison for
//! `<topic>.dlq` out. Every message ends as one of the two; nothing a message holds can stop
//! the consumer (the fuzz target `consumer_record` checks it on arbitrary messages).

use rdkafka::Message;

use super::{
    batch::{Poison, Record},
    dlq::owned_headers,
};
use crate::event::EventRules;

/// What becomes of one message.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "each one is moved straight into the batch; boxing the common variant would cost an allocation per message"
)]
pub enum Decoded {
    /// A valid event, written to MongoDB.
    Record(Record),
    /// Anything else, written to the dead-letter topic with its reason.
    Poison(Poison),
}

/// Decodes `message` with the pipeline's `rules`: the value must be an event envelope that
/// passes them; a missing value (a tombstone) is poison like any other undecodable one.
pub fn decode<M: Message>(rules: &EventRules, message: &M) -> Decoded {
    let (partition, offset) = (message.partition(), message.offset());
    match rules.decode(message.payload().unwrap_or_default()) {
        Ok(event) => Decoded::Record(Record {
            event,
            key: message
                .key()
                .and_then(|k| std::str::from_utf8(k).ok())
                .map(str::to_owned),
            partition,
            offset,
        }),
        Err(error) => Decoded::Poison(Poison {
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: owned_headers(message.headers()),
            partition,
            offset,
            code: error.code(),
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::{
        Timestamp,
        message::{Header, OwnedHeaders, OwnedMessage},
    };

    use super::*;

    fn message(key: Option<&[u8]>, value: Option<&[u8]>) -> OwnedMessage {
        let headers = OwnedHeaders::new().insert(Header {
            key: "ce_type",
            value: Some("LOGIN"),
        });
        OwnedMessage::new(
            value.map(<[u8]>::to_vec),
            key.map(<[u8]>::to_vec),
            "events".into(),
            Timestamp::NotAvailable,
            3,
            17,
            Some(headers),
        )
    }

    #[test]
    fn a_valid_event_becomes_a_record_keyed_by_a_utf8_key() {
        let value = br#"{"specversion":"1.0","id":"e1","type":"LOGIN","source":"s",
            "time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{}}"#;
        let Decoded::Record(record) =
            decode(&EventRules::default(), &message(Some(b"u1"), Some(value)))
        else {
            unreachable!("a valid event is a record");
        };
        assert_eq!(
            (record.event.id.as_str(), record.key.as_deref()),
            ("e1", Some("u1"))
        );
        assert_eq!((record.partition, record.offset), (3, 17));
    }

    #[test]
    fn poison_keeps_the_original_key_value_and_headers_with_its_reason() {
        let cases: [(Option<&[u8]>, &str); 3] = [
            (Some(b"{nope"), "not_json"),
            (Some(b"[1]"), "not_an_event"),
            (None, "not_json"),
        ];
        for (value, code) in cases {
            let Decoded::Poison(poison) =
                decode(&EventRules::default(), &message(Some(b"\xff"), value))
            else {
                unreachable!("{value:?} is poison");
            };
            assert_eq!(poison.code, code);
            assert_eq!(poison.value.as_deref(), value);
            assert_eq!(poison.key.as_deref(), Some(&b"\xff"[..]));
            assert_eq!(
                poison.headers,
                [("ce_type".to_owned(), Some(b"LOGIN".to_vec()))]
            );
        }
    }
}
