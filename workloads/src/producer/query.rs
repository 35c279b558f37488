//! The read path: `GET /v1/events/{id}` and
//! `GET /v1/events?key=&type=&schemaversion=&from=&to=&limit=&cursor=`.
//!
//! Pages are newest first, ordered by (`time`, `id`) descending. The cursor is the opaque
//! (base64) position of the last event of a page; the next page continues strictly after it,
//! so events inserted meanwhile neither shift nor repeat what a client already saw.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::Uri,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{
    error::ApiError,
    page::{DEFAULT_LIMIT, MAX_LIMIT},
    store::{Cursor, Filter, Store},
};
use crate::document::{self, StoredEvent};

/// A page of `GET /v1/events`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    /// The events, newest first.
    #[schema(value_type = Vec<StoredEvent>)]
    pub events: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The query parameters of `GET /v1/events`, as axum's `Query` extracts them: any other
/// parameter is refused (`deny_unknown_fields`), and each unusable value is refused with a
/// message naming it (the deserializers below), so both are a precise 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only events with this partition key value.
    pub key: Option<String>,
    /// Only events of this type.
    #[param(rename = "type")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only events checked against this version of the pipeline's schema (`schemaversion`).
    #[param(minimum = 1)]
    #[serde(default, deserialize_with = "schema_version")]
    pub schemaversion: Option<u32>,
    /// Only events at or after this time (RFC 3339).
    #[serde(default, deserialize_with = "time")]
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    #[serde(default, deserialize_with = "time")]
    pub to: Option<DateTime<Utc>>,
    /// Events per page (default 50).
    #[param(minimum = 1)]
    #[serde(default, deserialize_with = "limit")]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<String>)]
    #[serde(default, deserialize_with = "cursor")]
    pub cursor: Option<Cursor>,
}

impl ListParams {
    /// What the parameters select, and the page size.
    pub fn into_filter(self) -> (Filter, usize) {
        let limit = self
            .limit
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_LIMIT);
        let filter = Filter {
            key: self.key,
            kind: self.kind,
            schema_version: self.schemaversion,
            from: self.from,
            to: self.to,
            after: self.cursor,
        };
        (filter, limit)
    }
}

/// The query parameters of a request URI; an unknown or unusable one is a 400 naming it.
pub fn parse_params(uri: &Uri) -> Result<(Filter, usize), ApiError> {
    Query::<ListParams>::try_from_uri(uri)
        .map(|Query(params)| params.into_filter())
        .map_err(|rejection| refused(&rejection))
}

/// The 400 of a refused query string, with serde's message (which names the parameter).
fn refused(rejection: &QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let message = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    ApiError::bad_request("invalid_parameter", message.to_owned())
}

/// A parameter's value, or an error saying what it must be (axum's `Query` puts the
/// parameter's name in front: `limit: must be ...`).
fn named<'de, D, T>(
    deserializer: D,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    parse(&text).map(Some).ok_or_else(|| D::Error::custom(what))
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    named(d, "not an RFC 3339 time", parse_time)
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let what = format!("must be an integer from 1 to {MAX_LIMIT}");
    named(d, &what, |text| {
        text.parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(&usize::try_from(*n).unwrap_or(usize::MAX)))
    })
}

fn schema_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    named(d, "must be a schema version, an integer from 1", |text| {
        text.parse().ok().filter(|v| *v >= 1)
    })
}

fn cursor<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cursor>, D::Error> {
    named(d, "not a cursor from a previous page", Cursor::decode)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One stored event by id.
///
/// Events are readable once the consumer has written them to MongoDB (404 before that).
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    operation_id = "getEvent",
    tag = "events",
    params(("id" = String, Path, description = "The event's id")),
    responses((status = 200, description = "The stored event", body = StoredEvent)),
)]
pub async fn get_event(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match store.get(&id).await.map_err(|e| store_unavailable(&e))? {
        Some(found) => Ok(Json(document::to_json(&found))),
        None => Err(ApiError::NotFound(format!("no event with id `{id}`"))),
    }
}

/// Stored events, newest first, filtered and paged with an opaque cursor.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "listEvents",
    tag = "events",
    params(ListParams),
    responses((status = 200, description = "A page of events", body = EventPage)),
)]
pub async fn list_events(
    State(store): State<Store>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(params) = params.map_err(|rejection| refused(&rejection))?;
    let (filter, limit) = params.into_filter();
    let mut documents = store
        .list(&filter, limit + 1)
        .await
        .map_err(|e| store_unavailable(&e))?;
    let next = if documents.len() > limit {
        documents.truncate(limit);
        documents.last().and_then(Cursor::of).map(|c| c.encode())
    } else {
        None
    };
    let events = documents.iter().map(document::to_json).collect();
    Ok(Json(EventPage {
        events,
        next_cursor: next,
    }))
}

fn store_unavailable(error: &crate::Error) -> ApiError {
    tracing::warn!(%error, "event store query failed");
    ApiError::unavailable(
        "store_unavailable",
        "the event store is not available; retry later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<(Filter, usize), ApiError> {
        parse_params(&format!("/v1/events?{query}").parse::<Uri>().unwrap())
    }

    #[test]
    fn cursors_round_trip_ids_with_colons() {
        let cursor = Cursor {
            time: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            id: "a:b".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not base64!"), None);
    }

    #[test]
    fn parameters_build_the_filter() {
        let (filter, limit) =
            params("key=u1&type=LOGIN&schemaversion=2&from=2026-01-01T00:00:00Z&limit=10").unwrap();
        assert_eq!(limit, 10);
        assert_eq!(
            filter,
            Filter {
                key: Some("u1".into()),
                kind: Some("LOGIN".into()),
                schema_version: Some(2),
                from: DateTime::from_timestamp(1_767_225_600, 0),
                to: None,
                after: None,
            }
        );
        assert_eq!(params("").unwrap(), (Filter::default(), DEFAULT_LIMIT));
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            ("limit=0", "limit: must be an integer from 1 to 1000"),
            ("limit=1001", "limit: must be an integer from 1 to 1000"),
            ("limit=ten", "limit: must be an integer from 1 to 1000"),
            ("from=yesterday", "from: not an RFC 3339 time"),
            ("to=1", "to: not an RFC 3339 time"),
            ("cursor=x", "cursor: not a cursor from a previous page"),
            (
                "schemaversion=0",
                "schemaversion: must be a schema version, an integer from 1",
            ),
            (
                "sort=asc",
                "sort: unknown field `sort`, expected one of `key`, `type`, `schemaversion`, `from`, `to`, `limit`, `cursor`",
            ),
        ];
        for (query, message) in cases {
            let error = params(query).unwrap_err();
            assert_eq!(
                (error.code(), error.to_string()),
                ("invalid_parameter", message.to_owned()),
                "{query}"
            );
        }
    }
}
