//! The write path: `POST /v1/events` with one event or an array, validated all-or-nothing,
//! answered 202 only after Kafka acknowledged every event.

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    auth::Principal,
    body::Body,
    error::ApiError,
    kafka::{KafkaSink, PublishError, Record},
    metrics::Metrics,
    rate_limit::{Client, RateLimiter},
    routes::AppState,
};
use crate::event::{Event, EventRules, FieldError, IncomingEvent, MAX_ID_LEN, PartitionKey};

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

/// Everything the write path needs.
#[derive(Debug)]
pub struct Ingest {
    /// Where events go.
    pub sink: KafkaSink,
    /// What a request body must be to become records.
    pub validation: Validation,
    /// The rate limit, if any.
    pub rate_limit: Option<RateLimiter>,
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
        self.prepare_as(body, idempotency_key, None)
    }

    /// [`Validation::prepare`] for a request a JWT authenticated: each event records the
    /// token's subject (`authtype`, `authid`).
    pub fn prepare_as(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<Vec<Record>, ApiError> {
        match self.prepare_typed(body, idempotency_key, principal) {
            Some(records) => Ok(records),
            None => self.prepare_checked(body, idempotency_key, principal),
        }
    }

    /// The path of [`Self::prepare_as`] that takes the body apart field by field and names
    /// every reason it cannot be accepted.
    pub(crate) fn prepare_checked(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
        principal: Option<&Principal>,
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
            match self.prepare_one(item, idempotency_key, principal) {
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

    /// The fast path of [`Self::prepare`]: a body that decodes straight into envelopes and whose
    /// events are all valid becomes records without an intermediate `Value` of the envelope.
    /// `None` for anything else, which [`Self::prepare_checked`] then takes apart to name every
    /// reason: both paths accept exactly the same bodies (the envelope's own
    /// `Deserialize` is as strict as the field checks), and the fast one answers no error.
    pub(crate) fn prepare_typed(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
        principal: Option<&Principal>,
    ) -> Option<Vec<Record>> {
        let body = crate::event::typed_decodable(body)?;
        let first = body.bytes().find(|b| !b.is_ascii_whitespace())?;
        let incoming = match first {
            b'{' => vec![serde_json::from_str::<IncomingEvent>(body).ok()?],
            b'[' if idempotency_key.is_none() => {
                serde_json::from_str::<Vec<IncomingEvent>>(body).ok()?
            }
            _ => return None,
        };
        if incoming.is_empty() || incoming.len() > self.max_events {
            return None;
        }
        incoming
            .into_iter()
            .map(|incoming| {
                let event = self.event(incoming, idempotency_key, principal);
                self.rules
                    .check(&event)
                    .is_empty()
                    .then(|| self.record(event))
            })
            .collect()
    }

    /// The envelope of an incoming event as it is stored: id, source and time filled in, and
    /// the JWT subject that sent it.
    fn event(
        &self,
        incoming: IncomingEvent,
        idempotency_key: Option<&str>,
        principal: Option<&Principal>,
    ) -> Event {
        let mut event = incoming.into_event(idempotency_key, &self.default_source);
        event.schemaversion = self.rules.schema_version(&event).ok().flatten();
        if let Some(Principal(subject)) = principal {
            event.authtype = Some(Principal::AUTH_TYPE.to_owned());
            event.authid = Some(subject.clone());
        }
        event
    }

    fn prepare_one(
        &self,
        item: Value,
        idempotency_key: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<Record, Vec<FieldError>> {
        let event = self.event(parse_incoming(item)?, idempotency_key, principal);
        let errors = self.rules.check(&event);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(self.record(event))
    }

    /// The Kafka record of a valid event: keyed by the partition key, the event as JSON.
    pub fn record(&self, event: Event) -> Record {
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
    for name in ["id", "type", "source", "subject", "dataschema"] {
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
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let metrics = &state.metrics;
    if !is_json(&headers) {
        return Err(reject(
            metrics,
            "unsupported_media_type",
            ApiError::UnsupportedMediaType,
        ));
    }
    let Body(body) = body.map_err(|error| reject(metrics, "unreadable", error))?;
    let key = idempotency_key(&headers).map_err(|e| reject(metrics, e.code(), e))?;
    let records = state
        .ingest
        .validation
        .prepare_as(&body, key, principal.as_ref().map(|Extension(p)| p))
        .map_err(|e| reject(metrics, e.code(), e))?;
    if let Some(limit) = &state.ingest.rate_limit {
        let client = client.map_or(Client::Producer, |Extension(client)| client);
        limit
            .check(client, records.len(), metrics)
            .map_err(|e| reject(metrics, "rate_limited", e))?;
    }
    let acks = state.ingest.sink.publish(&records).await.map_err(|e| {
        metrics
            .events_rejected
            .with_label_values(&["unavailable"])
            .inc_by(records.len() as u64);
        unavailable(&e)
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

/// The 503 of events Kafka did not acknowledge (logged by the sink's outage log).
pub(super) fn unavailable(error: &PublishError) -> ApiError {
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

#[cfg(test)]
mod tests;
