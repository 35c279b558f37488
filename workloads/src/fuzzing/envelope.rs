//! `POST /v1/events` bodies: the producer's envelope decoding and validation, then the
//! consumer's decoding of what the producer would write to Kafka.

use crate::document::to_document;

/// Option bits: 0 schema and allowed types, 1 an `Idempotency-Key` (the input up to the first
/// newline), 2 keyed by `data.userId`.
///
/// Holds: a body is answered with records or a 4xx; the fast typed decode accepts only what the
/// field-by-field path accepts, with the same events; every record the producer accepts decodes
/// in the consumer to the same event (none dead-lettered after a 202) and encodes as BSON.
pub fn envelope(input: &[u8]) {
    let (options, rest) = super::options(input);
    let (key, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(end) if options & 2 != 0 => (Some(&rest[..end]), &rest[end + 1..]),
        _ => (None, rest),
    };
    // What `HeaderValue::to_str` lets through: visible ASCII and tabs.
    let key = match key.map(std::str::from_utf8) {
        None => None,
        Some(Ok(key))
            if key
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) =>
        {
            Some(key)
        }
        Some(_) => return,
    };
    let validation = super::validation(options);
    if let Some(fast) = validation.prepare_typed(body, key, None) {
        let checked = validation.prepare_checked(body, key, None);
        assert!(
            checked.is_ok(),
            "only the fast path accepted it: {checked:?}"
        );
        let same = |records: &[crate::producer::kafka::Record]| {
            records
                .iter()
                .map(|r| (r.kind.clone(), r.key.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            same(&fast),
            checked.as_deref().map(same).unwrap_or_default()
        );
    }
    match validation.prepare(body, key) {
        Ok(records) => {
            for record in records {
                let decoded = validation.rules.decode(&record.payload);
                assert!(
                    decoded.is_ok(),
                    "accepted by the producer, dead-lettered by the consumer: {decoded:?}"
                );
                if let Ok(event) = decoded {
                    assert_eq!((&event.id, &event.kind), (&record.id, &record.kind));
                    super::assert_storable(&to_document(&event, record.key.as_deref(), 0, 0));
                }
            }
        }
        Err(error) => assert!(error.status().is_client_error(), "{error:?}"),
    }
}
