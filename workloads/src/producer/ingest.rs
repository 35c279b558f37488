//! The write path's handler: `POST /v1/events` with one event or an array, validated
//! all-or-nothing ([`super::write_path`]), answered 202 only after Kafka acknowledged every
//! event.

use std::sync::Arc;

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    auth::Principal, body::Body, error::ApiError, metrics::Metrics, rate_limit::Client,
    write_path::Ingest,
};
use crate::event::{IncomingEvent, MAX_ID_LEN};

/// The header that supplies the id of a single event without one.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The body of `POST /v1/events`: one event, or an array of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NewEvents {
    /// One event.
    One(IncomingEvent),
    /// A batch, accepted or refused as a whole.
    Many(Vec<IncomingEvent>),
}

/// The answer to an accepted `POST /v1/events`: where each event went, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// One entry per event of the request.
    pub accepted: Vec<AcceptedEvent>,
}

/// One event Kafka acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedEvent {
    /// The event's id (given, from `Idempotency-Key`, or generated).
    pub id: String,
    /// Kafka partition it was written to.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
}

/// Whether the content type is JSON (`application/json` or `application/*+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The `Idempotency-Key` header, when given: up to [`MAX_ID_LEN`] visible ASCII characters
/// (empty: the same as none), checked whether or not the body's events carry their own ids.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| key.len() <= MAX_ID_LEN && key.bytes().all(|b| b.is_ascii_graphic()));
    let key = key.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be at most {MAX_ID_LEN} visible ASCII characters"),
        )
    })?;
    Ok(Some(key).filter(|key| !key.is_empty()))
}

/// Send one event (an object) or a batch (an array), all or nothing.
///
/// Answered 202 only after Kafka acknowledged every event of the request (acks=all).
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "postEvents",
    tag = "events",
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "The id of a single event that has none (a retry with the same key is a no-op); empty: none; refused with an array"),
    ),
    request_body(content = NewEvents, content_type = "application/json"),
    responses((status = 202, description = "Kafka acknowledged every event", body = Accepted)),
)]
pub async fn post_events(
    State(ingest): State<Arc<Ingest>>,
    State(metrics): State<Metrics>,
    client: Option<Extension<Client>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let metrics = &metrics;
    if !is_json(&headers) {
        return Err(reject(
            metrics,
            "unsupported_media_type",
            ApiError::UnsupportedMediaType,
        ));
    }
    let Body(body) = body.map_err(|error| reject(metrics, "unreadable", error))?;
    let key = idempotency_key(&headers).map_err(|e| reject(metrics, e.code(), e))?;
    let records = ingest
        .validation
        .prepare_as(&body, key, principal.as_ref().map(|Extension(p)| p))
        .map_err(|e| reject(metrics, e.code(), e))?;
    if let Some(limit) = &ingest.rate_limit {
        let client = client.map_or(Client::Producer, |Extension(client)| client);
        limit
            .check(client, records.len(), metrics)
            .map_err(|e| reject(metrics, "rate_limited", e))?;
    }
    let acks = ingest.sink.publish(&records).await.map_err(|e| {
        metrics
            .events_rejected
            .with_label_values(&["unavailable"])
            .inc_by(records.len() as u64);
        ApiError::not_acknowledged(&e)
    })?;
    metrics.events_accepted.inc_by(acks.len() as u64);
    let accepted = records
        .iter()
        .zip(&acks)
        .map(|(record, ack)| AcceptedEvent {
            id: record.id.clone(),
            partition: ack.partition,
            offset: ack.offset,
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted })))
}

fn reject(metrics: &Metrics, reason: &str, error: ApiError) -> ApiError {
    metrics.events_rejected.with_label_values(&[reason]).inc();
    error
}

#[cfg(test)]
mod tests;
