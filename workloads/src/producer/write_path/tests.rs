//! Both decode paths of a `POST /v1/events` body.

use super::*;

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
