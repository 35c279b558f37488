//! `GET /v1/events?...` query strings and the cursor inside them.

use axum::http::Uri;

use crate::producer::{
    page::MAX_LIMIT,
    query::parse_params,
    store::{Cursor, to_query},
};

/// The whole input is a query string (and, tried alone, a cursor).
///
/// Holds: parameters give a filter with a limit in range whose MongoDB query encodes, or a 400;
/// a cursor that decodes encodes back to itself.
pub fn query(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Some(cursor) = Cursor::decode(text) {
        assert_cursor_round_trips(&cursor);
    }
    // What the router's `Query` extractor does with the request URI.
    let Ok(uri) = format!("/v1/events?{text}").parse::<Uri>() else {
        return;
    };
    match parse_params(&uri) {
        Ok((filter, limit)) => {
            assert!((1..=MAX_LIMIT).contains(&limit), "limit {limit}");
            if let Some(cursor) = &filter.after {
                assert_cursor_round_trips(cursor);
            }
            super::assert_storable(&to_query(&filter));
        }
        Err(error) => assert_eq!(error.code(), "invalid_parameter", "{error:?}"),
    }
}

fn assert_cursor_round_trips(cursor: &Cursor) {
    assert_eq!(Cursor::decode(&cursor.encode()).as_ref(), Some(cursor));
}
