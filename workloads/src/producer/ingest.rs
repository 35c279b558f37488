//! The write path: `POST /v1/events` with one event or an array, validated all-or-nothing,
//! answered 202 only after Kafka acknowledged every event.

use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
};
use serde_json::{Value, json};

use super::{
    error::ApiError,
    kafka::{KafkaSink, PublishError, Record},
    metrics::Metrics,
    routes::AppState,
};
use crate::event::{Event, EventRules, FieldError, IncomingEvent, PartitionKey};

/// The header that supplies the id of a single event without one.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Everything the write path needs.
#[derive(Debug)]
pub struct Ingest {
    /// Where events go.
    pub sink: KafkaSink,
    /// What a request body must be to become records.
    pub validation: Validation,
}

/// The write path before Kafka: a request body in, Kafka records or every reason out (pure, so
/// it is unit-tested and fuzzed without a broker).
#[derive(Debug)]
pub struct Validation {
    /// What makes an event valid.
    pub rules: EventRules,
    /// Which field keys the Kafka message.
    pub partition_key: PartitionKey,
    /// `source` of events that name none.
    pub default_source: String,
    /// Most events in one request.
    pub max_events: usize,
}

impl Validation {
    /// Turns a request body into Kafka records, or names every reason it cannot be accepted.
    pub fn prepare(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Vec<Record>, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        })?;
        let (items, batch) = match value {
            Value::Array(items) => (items, true),
            object @ Value::Object(_) => (vec![object], false),
            _ => {
                return Err(ApiError::bad_request(
                    "not_an_event",
                    "the body must be an event object or an array of events",
                ));
            }
        };
        if batch && idempotency_key.is_some() {
            return Err(ApiError::bad_request(
                "idempotency_key_with_array",
                "Idempotency-Key applies to a single event; give each event of an array its own id",
            ));
        }
        if items.is_empty() {
            return Err(ApiError::bad_request(
                "empty_batch",
                "the array holds no event",
            ));
        }
        if items.len() > self.max_events {
            return Err(ApiError::PayloadTooLarge {
                code: "too_many_events",
                message: format!("at most {} events per request", self.max_events),
            });
        }
        let mut records = Vec::with_capacity(items.len());
        let mut errors = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match self.prepare_one(item, idempotency_key) {
                Ok(record) => records.push(record),
                Err(failures) if !batch => errors.extend(failures),
                Err(failures) => errors.extend(failures.into_iter().map(|e| FieldError {
                    path: format!("/{index}{}", e.path),
                    message: e.message,
                })),
            }
        }
        if errors.is_empty() {
            Ok(records)
        } else {
            Err(ApiError::Invalid(errors))
        }
    }

    fn prepare_one(
        &self,
        item: Value,
        idempotency_key: Option<&str>,
    ) -> Result<Record, Vec<FieldError>> {
        let event = parse_incoming(item)?.into_event(idempotency_key, &self.default_source);
        let errors = self.rules.check(&event);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(self.record(event))
    }

    fn record(&self, event: Event) -> Record {
        Record {
            key: self.partition_key.extract(&event),
            payload: event.to_json(),
            id: event.id,
            kind: event.kind,
        }
    }
}

/// Checks the envelope's field types so that each wrong one is named, then decodes it.
fn parse_incoming(item: Value) -> Result<IncomingEvent, Vec<FieldError>> {
    let failure = |path: &str, message: &str| FieldError {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let Value::Object(fields) = &item else {
        return Err(vec![failure("", "must be an event object")]);
    };
    let mut errors = Vec::new();
    for name in ["id", "type", "source", "subject"] {
        if fields
            .get(name)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            errors.push(failure(&format!("/{name}"), "must be a string"));
        }
    }
    if let Some(time) = fields.get("time").filter(|v| !v.is_null()) {
        let valid = time
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
        if !valid {
            errors.push(failure("/time", "must be an RFC 3339 time"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value(item).map_err(|e| vec![failure("", &e.to_string())])
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

/// `POST /v1/events`.
pub async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let metrics = &state.metrics;
    if !is_json(&headers) {
        return Err(reject(
            metrics,
            "unsupported_media_type",
            ApiError::UnsupportedMediaType,
        ));
    }
    let body = body.map_err(|rejection| {
        let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                code: "body_too_large",
                message: "the body is larger than allowed".into(),
            }
        } else {
            ApiError::bad_request("unreadable_body", "the body could not be read")
        };
        reject(metrics, "unreadable", error)
    })?;
    let key = headers.get(IDEMPOTENCY_KEY).map(|v| {
        v.to_str().map_err(|_| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be visible ASCII",
            )
        })
    });
    let key = key.transpose()?;
    let records = state
        .ingest
        .validation
        .prepare(&body, key)
        .map_err(|e| reject(metrics, e.code(), e))?;
    let acks = state.ingest.sink.publish(&records).await.map_err(|e| {
        metrics
            .events_rejected
            .with_label_values(&["unavailable"])
            .inc_by(records.len() as u64);
        unavailable(&e)
    })?;
    metrics.events_accepted.inc_by(acks.len() as u64);
    let accepted: Vec<Value> = records
        .iter()
        .zip(&acks)
        .map(|(record, ack)| json!({"id": record.id, "partition": ack.partition, "offset": ack.offset}))
        .collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": accepted }))))
}

fn reject(metrics: &Metrics, reason: &str, error: ApiError) -> ApiError {
    metrics.events_rejected.with_label_values(&[reason]).inc();
    error
}

fn unavailable(error: &PublishError) -> ApiError {
    tracing::warn!(%error, "events not acknowledged");
    match error {
        PublishError::QueueFull => {
            ApiError::unavailable("queue_full", "the producer queue is full; retry later")
        }
        PublishError::TimedOut | PublishError::Failed(_) => ApiError::unavailable(
            "kafka_unavailable",
            "Kafka did not acknowledge the events; retry later",
        ),
    }
}
