//! The write path below its handlers: a request body validated into Kafka records
//! ([`Validation`], pure, so it is unit-tested and fuzzed without a broker) and what the write
//! path needs ([`Ingest`]), shared by `POST /v1/events` ([`super::ingest`]), the dead-letter
//! replay ([`super::dead_letters`]) and the producer's state ([`super::state`]).

use serde_json::Value;

use super::{
    auth::Principal,
    error::ApiError,
    kafka::{KafkaSink, Record},
    rate_limit::RateLimiter,
};
use crate::event::{Event, EventRules, FieldError, IncomingEvent, PartitionKey};

/// What the write path needs: the Kafka sink, the validation of a request body, and the rate
/// limit.
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

#[cfg(test)]
mod tests;
