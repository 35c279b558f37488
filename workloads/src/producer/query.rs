//! The read path: `GET /v1/events/{id}` and `GET /v1/events?key=&type=&from=&to=&limit=&cursor=`.
//!
//! Pages are newest first, ordered by (`time`, `id`) descending. The cursor is the opaque
//! (base64) position of the last event of a page; the next page continues strictly after it,
//! so events inserted meanwhile neither shift nor repeat what a client already saw.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use mongodb::bson::Document;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{error::ApiError, routes::AppState};
use crate::document::{self, StoredEvent};

/// Events per page when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;

/// A position in the newest-first order: the last event a client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Its time (millisecond precision, as stored).
    pub time: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.time.timestamp_millis(), self.id))
    }

    /// Parses the text form; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (millis, id) = text.split_once(':')?;
        Some(Self {
            time: DateTime::from_timestamp_millis(millis.parse().ok()?)?,
            id: id.to_owned(),
        })
    }

    fn of(document: &Document) -> Option<Self> {
        Some(Self {
            time: DateTime::from_timestamp_millis(
                document.get_datetime("time").ok()?.timestamp_millis(),
            )?,
            id: document.get_str("id").ok()?.to_owned(),
        })
    }
}

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

/// The query parameters of `GET /v1/events` (parsed by [`parse_params`], which refuses any
/// other; this type describes them in the OpenAPI document).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only events with this partition key value.
    pub key: Option<String>,
    /// Only events of this type.
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Events per page (default 50).
    #[param(minimum = 1)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// What a list query selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Partition key value.
    pub key: Option<String>,
    /// Event type.
    pub kind: Option<String>,
    /// Earliest time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Latest time, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

/// Parses the query parameters; any unknown or unusable one is a 400 naming it.
pub fn parse_params(params: &[(String, String)]) -> Result<(Filter, usize), ApiError> {
    let mut filter = Filter::default();
    let mut limit = DEFAULT_LIMIT;
    for (name, value) in params {
        let bad =
            |what: &str| ApiError::bad_request("invalid_parameter", format!("`{name}`: {what}"));
        match name.as_str() {
            "key" => filter.key = Some(value.clone()),
            "type" => filter.kind = Some(value.clone()),
            "from" => {
                filter.from = Some(parse_time(value).ok_or_else(|| bad("not an RFC 3339 time"))?);
            }
            "to" => filter.to = Some(parse_time(value).ok_or_else(|| bad("not an RFC 3339 time"))?),
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad(&format!("must be an integer from 1 to {MAX_LIMIT}")))?;
            }
            "cursor" => {
                filter.after = Some(
                    Cursor::decode(value)
                        .ok_or_else(|| bad("not a cursor from a previous page"))?,
                );
            }
            _ => {
                return Err(bad(
                    "unknown parameter (use key, type, from, to, limit, cursor)",
                ));
            }
        }
    }
    Ok((filter, limit))
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
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state
        .store
        .get(&id)
        .await
        .map_err(|e| store_unavailable(&e))?
    {
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
    State(state): State<AppState>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let (filter, limit) = parse_params(&params)?;
    let mut documents = state
        .store
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

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
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
        let (filter, limit) = parse_params(&params(&[
            ("key", "u1"),
            ("type", "LOGIN"),
            ("from", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
        ]))
        .unwrap();
        assert_eq!(limit, 10);
        assert_eq!(filter.key.as_deref(), Some("u1"));
        assert_eq!(filter.kind.as_deref(), Some("LOGIN"));
        assert!(filter.from.is_some() && filter.to.is_none());
        assert_eq!(parse_params(&[]).unwrap().1, DEFAULT_LIMIT);
    }

    #[test]
    fn bad_parameters_are_named() {
        for (name, value) in [
            ("limit", "0"),
            ("limit", "1001"),
            ("from", "yesterday"),
            ("cursor", "x"),
            ("sort", "asc"),
        ] {
            let error = parse_params(&params(&[(name, value)])).unwrap_err();
            assert_eq!(error.code(), "invalid_parameter");
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
