//! Both decode paths of a `POST /v1/events` body, and the `Idempotency-Key` form.

use axum::http::HeaderValue;

use super::*;

fn headers(key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        IDEMPOTENCY_KEY,
        HeaderValue::from_bytes(key.as_bytes()).unwrap(),
    );
    headers
}

fn validation() -> Validation {
    Validation {
        rules: EventRules::default(),
        partition_key: PartitionKey::Attribute("subject".into()),
        default_source: "/test".into(),
        max_events: 10,
    }
}

#[test]
fn both_decode_paths_refuse_a_time_that_is_not_rfc_3339() {
    let body = br#"{"type":"LOGIN","time":"2026-01-01","data":{}}"#;
    let validation = validation();
    assert!(validation.prepare_typed(body, None, None).is_none());
    let Err(ApiError::Invalid(errors)) = validation.prepare(body, None) else {
        panic!("a date without a time is refused");
    };
    assert_eq!(
        errors,
        [FieldError {
            path: "/time".into(),
            message: "must be an RFC 3339 time".into()
        }]
    );
}

#[test]
fn a_valid_batch_takes_the_typed_path_with_the_same_records() {
    let body = br#" [{"type":"LOGIN","subject":"u1","time":"2026-01-01T00:00:00Z","data":{"a":1}},
        {"id":"e2","type":"LOGOUT","data":null}]"#;
    let validation = validation();
    let fast = validation.prepare_typed(body, None, None).unwrap();
    let checked = validation.prepare_checked(body, None, None).unwrap();
    let view = |records: &[Record]| {
        records
            .iter()
            .map(|r| (r.kind.clone(), r.key.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(view(&fast), view(&checked));
    assert_eq!(
        view(&fast),
        [
            ("LOGIN".to_owned(), Some("u1".to_owned())),
            ("LOGOUT".to_owned(), None)
        ]
    );
    assert_eq!((fast[1].id.as_str(), checked[1].id.as_str()), ("e2", "e2"));
}

#[test]
fn idempotency_keys_follow_the_documented_form_whether_used_or_not() {
    assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
    assert_eq!(idempotency_key(&headers("")).unwrap(), None);
    assert_eq!(
        idempotency_key(&headers("order-42")).unwrap(),
        Some("order-42")
    );
    let longest = "k".repeat(MAX_ID_LEN);
    assert!(idempotency_key(&headers(&longest)).is_ok());
    for bad in ["two words", "é", &"k".repeat(MAX_ID_LEN + 1)] {
        let error = idempotency_key(&headers(bad)).unwrap_err();
        assert_eq!(error.code(), "invalid_idempotency_key", "{bad:?}");
    }
}

#[test]
fn bodies_serde_json_would_not_check_in_an_ignored_field_take_the_checked_path() {
    let validation = validation();
    let invalid_utf8 = b"{\"type\":\"t\",\"ata\":{\"a\x9f\":1},\"data\":{}}";
    let lone_surrogate = br#"{"type":"t","ata":"\ud800","data":{}}"#;
    for body in [&invalid_utf8[..], &lone_surrogate[..]] {
        assert!(validation.prepare_typed(body, None, None).is_none());
        let Err(ApiError::BadRequest { code, .. }) = validation.prepare(body, None) else {
            panic!("{} is refused", String::from_utf8_lossy(body));
        };
        assert_eq!(code, "malformed_json");
    }
    let pair = br#"{"type":"t","ata":"\ud83d\ude00","data":{"e":"\u00e9"}}"#;
    assert!(
        validation.prepare_typed(pair, None, None).is_none(),
        "checked instead"
    );
    assert!(validation.prepare(pair, None).is_ok());
}
