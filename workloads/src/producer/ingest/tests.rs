//! The `Idempotency-Key` form.

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
