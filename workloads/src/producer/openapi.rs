//! The producer's HTTP contract as an OpenAPI 3.1 document, generated from the handlers and the
//! request/response types (utoipa), then completed with what a producer's configuration decides:
//! the pipeline's JSON Schema as the event's `data`, its allowed types, the batch limit, bearer
//! auth. Served at `/openapi.json`; `eventflow openapi` prints it (`make generate` writes
//! `docs/openapi.json`, which a test compares with the code).

use std::path::PathBuf;

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use clap::Args;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::{
    body::DEFAULT_MAX_EVENTS_PER_REQUEST,
    dead_letters::{
        self, DeadLetterPage, DeadLetterView, Reason, Refused, ReplayOutcome, ReplayRequest,
        Replayed, SourcePosition,
    },
    error::{ErrorBody, RETRY_AFTER_SECONDS},
    ingest::{self, Accepted, AcceptedEvent, NewEvents},
    page::MAX_LIMIT,
    query::{self, EventPage},
    state::AppState,
};
use crate::{
    Result,
    document::{KafkaPosition, StoredEvent},
    event::{EventData, EventRules, FieldError, IncomingEvent, MAX_ID_LEN},
};

/// The path the document is served at (no auth: clients fetch it to generate their code).
pub const PATH: &str = "/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eventflow producer API",
        description = "Ingest of events into the pipeline's Kafka topic, and queries of the events \
                       the consumer stored in MongoDB. Every error answer has the same body \
                       (`ErrorBody`).",
    ),
    paths(
        ingest::post_events, query::list_events, query::get_event, dead_letters::list,
        dead_letters::replay, serve
    ),
    components(schemas(
        NewEvents, IncomingEvent, EventData, Accepted, AcceptedEvent, EventPage, StoredEvent,
        KafkaPosition, ErrorBody, FieldError, DeadLetterPage, DeadLetterView, Reason,
        SourcePosition, ReplayRequest, ReplayOutcome, Replayed, Refused
    )),
    tags(
        (name = "events", description = "Send and read events"),
        (name = "dead-letters", description = "Inspect the messages the consumer could not \
         store, and replay them once they pass the pipeline's rules"),
    ),
)]
struct ApiDoc;

/// What the document of one producer depends on besides the code.
#[derive(Debug, Clone, Copy)]
pub struct Contract<'a> {
    /// The pipeline's event rules (allowed types, the `data` schema).
    pub rules: &'a EventRules,
    /// Most events in one request.
    pub max_events: usize,
    /// Whether the `/v1` routes require a bearer token.
    pub auth: bool,
}

/// An error answer: status, response name, what it means, and its required header (name,
/// description).
type ErrorAnswer = (
    u16,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// The error answers.
const ERRORS: [ErrorAnswer; 9] = [
    (
        400,
        "BadRequest",
        "The body is not JSON, not an event or a non-empty array of events, \
      or a parameter or header is unusable",
        None,
    ),
    (
        401,
        "Unauthorized",
        "A valid bearer token is required (when the producer has static tokens or JWT \
      validation): none was given, or the token is unknown, expired, signed with another \
      key or algorithm, or names another issuer or audience",
        Some((
            "WWW-Authenticate",
            "The bearer challenge (RFC 6750); with a token given, `error=\"invalid_token\"` and \
             an `error_description` saying what is wrong with it",
        )),
    ),
    (
        404,
        "NotFound",
        "No event with this id (yet: events are readable once the consumer \
      stored them)",
        None,
    ),
    (
        408,
        "RequestTimeout",
        "The body did not arrive within the producer's body read timeout; \
      the connection is closed",
        None,
    ),
    (
        413,
        "PayloadTooLarge",
        "The body is larger than allowed, holds too many events, or more events \
      than the rate limit's burst",
        None,
    ),
    (
        415,
        "UnsupportedMediaType",
        "The content type is not application/json \
      (or application/*+json)",
        None,
    ),
    (
        422,
        "ValidationFailed",
        "One or more events break the pipeline's rules; `details` names \
      every failing field",
        None,
    ),
    (
        429,
        "TooManyRequests",
        "Over the producer's rate limit; retry after the given seconds",
        Some(("Retry-After", "Seconds to wait before retrying")),
    ),
    (
        503,
        "Unavailable",
        "Kafka, MongoDB or the producer's queue cannot take the request now, it took \
      too long, or too many requests are in flight; retry after the given seconds",
        Some(("Retry-After", "Seconds to wait before retrying")),
    ),
];

/// Which error answers each operation can give.
const OPERATION_ERRORS: [(&str, &[u16]); 5] = [
    ("postEvents", &[400, 401, 408, 413, 415, 422, 429, 503]),
    ("listEvents", &[400, 401, 503]),
    ("getEvent", &[401, 404, 503]),
    ("listDeadLetters", &[400, 401, 503]),
    ("replayDeadLetters", &[400, 401, 408, 413, 503]),
];

/// The document of a producer with this contract.
pub fn document(contract: &Contract<'_>) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let schemas = &mut doc["components"]["schemas"];
    schemas["EventData"] = event_data(contract.rules);
    complete_incoming_event(&mut schemas["IncomingEvent"], contract.rules);
    schemas["NewEvents"]["oneOf"][1]["minItems"] = json!(1);
    schemas["NewEvents"]["oneOf"][1]["maxItems"] = json!(contract.max_events);
    doc["components"]["responses"] = error_responses();
    doc["components"]["securitySchemes"] = json!({"bearerAuth": {"type": "http", "scheme": "bearer",
            "description": "A static bearer token of the producer's tokens file, or a JWT it \
                            verifies (one algorithm: HS256, RS256 or ES256; `exp` required; `iss` \
                            and `aud` when configured). A JWT's `sub` is recorded on the events \
                            it sends as `authtype` `app_user` and `authid`."}});
    for (path, method) in [
        ("/v1/events", "post"),
        ("/v1/events", "get"),
        ("/v1/events/{id}", "get"),
        ("/v1/dead-letters", "get"),
        ("/v1/dead-letters/replay", "post"),
    ] {
        complete_operation(&mut doc["paths"][path][method], contract.auth);
    }
    doc
}

/// The `data` schema: the pipeline's JSON Schema, its local `$ref`s made to point into the
/// document, or any JSON value.
fn event_data(rules: &EventRules) -> Value {
    let Some(schema) = rules.data_schema() else {
        return json!({"description": "The payload: any JSON value (this pipeline has no schema)"});
    };
    let mut schema = schema.clone();
    if let Value::Object(fields) = &mut schema {
        fields.remove("$schema");
        fields.remove("$id");
    }
    rebase_refs(&mut schema, "#/components/schemas/EventData");
    schema
}

/// Rewrites every `$ref` local to the schema (`#/...`) to the schema's place in the document.
fn rebase_refs(value: &mut Value, base: &str) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field {
                    Value::String(target) if name == "$ref" && target.starts_with('#') => {
                        *target = format!("{base}{}", &target[1..]);
                    }
                    other => rebase_refs(other, base),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rebase_refs(item, base)),
        _ => {}
    }
}

fn complete_incoming_event(schema: &mut Value, rules: &EventRules) {
    schema["properties"]["id"]["maxLength"] = json!(MAX_ID_LEN);
    if !rules.allowed_types().is_empty() {
        schema["properties"]["type"]["enum"] = json!(rules.allowed_types());
    }
    if !rules.accepts_missing_data()
        && let Some(required) = schema["required"].as_array_mut()
    {
        required.push(json!("data"));
    }
}

fn error_responses() -> Value {
    let responses = ERRORS.iter().map(|(_, name, description, header)| {
        let mut response = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        });
        if let Some((header, about)) = header {
            let schema = if *header == "Retry-After" {
                json!({"type": "integer", "minimum": 0, "example": RETRY_AFTER_SECONDS})
            } else {
                json!({"type": "string"})
            };
            response["headers"] =
                json!({*header: {"description": about, "required": true, "schema": schema}});
        }
        ((*name).to_owned(), response)
    });
    Value::Object(responses.collect::<Map<_, _>>())
}

/// Adds an operation's error answers, its bearer requirement, the links a client (or a stateful
/// fuzzer) follows from one answer to the next request, and the parameter bounds set by
/// constants (`limit`, `Idempotency-Key`).
fn complete_operation(operation: &mut Value, auth: bool) {
    let id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let statuses = OPERATION_ERRORS
        .iter()
        .find(|(name, _)| *name == id)
        .map_or(&[][..], |(_, statuses)| statuses);
    for status in statuses {
        if let Some((_, name, _, _)) = ERRORS.iter().find(|(code, ..)| code == status) {
            operation["responses"][status.to_string()] =
                json!({"$ref": format!("#/components/responses/{name}")});
        }
    }
    if auth {
        operation["security"] = json!([{"bearerAuth": []}]);
    }
    let links = match id.as_str() {
        "postEvents" => json!({"202": {"GetAcceptedEvent": {
            "operationId": "getEvent", "parameters": {"id": "$response.body#/accepted/0/id"}}}}),
        "listEvents" => json!({"200": {
            "NextPage": {"operationId": "listEvents",
                         "parameters": {"cursor": "$response.body#/nextCursor"}},
            "GetListedEvent": {"operationId": "getEvent",
                               "parameters": {"id": "$response.body#/events/0/id"}}}}),
        "listDeadLetters" => json!({"200": {
            "NextPage": {"operationId": "listDeadLetters",
                         "parameters": {"cursor": "$response.body#/nextCursor"}}}}),
        _ => json!({}),
    };
    for (status, links) in links.as_object().into_iter().flatten() {
        operation["responses"][status]["links"] = links.clone();
    }
    // `get_mut`, not indexing: indexing a missing key would add `"parameters": null`.
    let parameters = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut);
    for parameter in parameters.into_iter().flatten() {
        match parameter["name"].as_str() {
            Some("limit") => parameter["schema"]["maximum"] = json!(MAX_LIMIT),
            Some("Idempotency-Key") => {
                parameter["schema"] = json!({"type": "string", "maxLength": MAX_ID_LEN,
                                             "pattern": "^[!-~]*$"});
            }
            _ => {}
        }
    }
}

/// The document as pretty-printed JSON with a final newline (the committed file's form).
pub fn to_text(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// `eventflow openapi`: what a producer with these flags serves at `/openapi.json`.
#[derive(Debug, Clone, Args)]
pub struct OpenApiArgs {
    /// JSON Schema file of the event's `data` (the producer's `--schema-file`).
    #[arg(long, value_name = "PATH")]
    pub schema_file: Option<PathBuf>,
    /// Allowed event types, comma separated (the producer's `--allowed-types`; empty: any).
    #[arg(long, value_delimiter = ',')]
    pub allowed_types: Vec<String>,
    /// Most events in one request (the producer's `--max-events-per-request`).
    #[arg(long, default_value_t = DEFAULT_MAX_EVENTS_PER_REQUEST)]
    pub max_events_per_request: usize,
    /// Require a bearer token on the /v1 routes (as a producer with `--auth-tokens-file` or
    /// `--jwt-key-file`).
    #[arg(long)]
    pub auth: bool,
}

/// Prints the document of `args` on standard output.
pub fn print(args: &OpenApiArgs) -> Result<()> {
    let rules = EventRules::from_file(args.allowed_types.clone(), args.schema_file.as_deref())?;
    let document = document(&Contract {
        rules: &rules,
        max_events: args.max_events_per_request,
        auth: args.auth,
    });
    print!("{}", to_text(&document));
    Ok(())
}

/// This producer's OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "contract",
    responses((status = 200, description = "This document", content_type = "application/json",
               body = Object)),
)]
pub async fn serve(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
