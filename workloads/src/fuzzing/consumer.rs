//! Kafka records as the consumer reads them: decoded into a MongoDB document or dead-lettered.

use rdkafka::{
    Timestamp,
    message::{Header, OwnedHeaders, OwnedMessage},
};

use crate::{
    consumer::{
        decode::{Decoded, decode},
        writer::REJECTED_BY_SINK,
    },
    document::to_document,
    event::DecodeError,
};

/// Option bits: 0 schema and allowed types, 1 a key (the next byte is its length), 2 no value
/// (a tombstone), 3 headers.
///
/// Holds: every record ends as a document the driver can encode or as poison with a known
/// reason and the original key and value, never a panic.
pub fn consumer_record(input: &[u8]) {
    let (options, rest) = super::options(input);
    let (key, rest) = if options & 2 == 0 {
        (None, rest)
    } else {
        let (length, rest) = super::options(rest);
        let split = usize::from(length).min(rest.len());
        (Some(&rest[..split]), &rest[split..])
    };
    let value = (options & 4 == 0).then_some(rest);
    let headers = (options & 8 != 0).then(|| {
        OwnedHeaders::new().insert(Header {
            key: "ce_type",
            value: Some(rest),
        })
    });
    let message = OwnedMessage::new(
        value.map(<[u8]>::to_vec),
        key.map(<[u8]>::to_vec),
        "fuzz".into(),
        Timestamp::NotAvailable,
        1,
        42,
        headers,
    );
    match decode(&super::validation(options).rules, &message) {
        Decoded::Record(record) => {
            assert_eq!((record.partition, record.offset), (1, 42));
            let document = to_document(&record.event, record.key.as_deref(), 1, 42);
            super::assert_storable(&document);
        }
        Decoded::Poison(poison) => {
            let known = [
                DecodeError::NotJson(String::new()).code(),
                DecodeError::NotAnEvent(String::new()).code(),
                DecodeError::Invalid(Vec::new()).code(),
                REJECTED_BY_SINK,
            ];
            assert!(
                known.contains(&poison.code),
                "unknown reason {}",
                poison.code
            );
            assert_eq!(
                (poison.key.as_deref(), poison.value.as_deref()),
                (key, value)
            );
            assert_eq!((poison.partition, poison.offset), (1, 42));
        }
    }
}
