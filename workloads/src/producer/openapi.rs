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
    DEFAULT_MAX_EVENTS_PER_REQUEST,
    dead_letters::{
        self, DeadLetterPage, DeadLetterView, Reason, Refused, ReplayOutcome, ReplayRequest,
        Replayed, SourcePosition,
    },
    error::{ErrorBody, RETRY_AFTER_SECONDS},
    ingest::{self, Accepted, AcceptedEvent, NewEvents},
    query::{self, EventPage, MAX_LIMIT},
    routes::AppState,
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
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{
        document::{to_document, to_json},
        event::Event,
        producer::error::ApiError,
    };

    fn contract_document(rules: &EventRules, auth: bool) -> Value {
        document(&Contract {
            rules,
            max_events: DEFAULT_MAX_EVENTS_PER_REQUEST,
            auth,
        })
    }

    /// The committed file: what a producer with bearer tokens and no pipeline schema serves.
    fn committed() -> Value {
        contract_document(&EventRules::default(), true)
    }

    /// Errors of `value` against component `name` of `doc`.
    fn violations(doc: &Value, name: &str, value: &Value) -> Vec<String> {
        let schema = json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": {"schemas": doc["components"]["schemas"]},
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        validator
            .iter_errors(value)
            .map(|e| e.to_string())
            .collect()
    }

    fn post_schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object", "required": ["title"],
            "properties": {"title": {"$ref": "#/$defs/title"}},
            "$defs": {"title": {"type": "string", "minLength": 2}}
        })
    }

    #[test]
    fn every_operation_lists_its_parameters_or_none_and_the_dead_letter_routes_are_there() {
        let doc = contract_document(&EventRules::new(vec![], None).unwrap(), true);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let parameters = operation.get("parameters");
                assert!(
                    parameters.is_none_or(Value::is_array),
                    "{method} {path}: parameters {parameters:?}"
                );
            }
        }
        let replay = &doc["paths"]["/v1/dead-letters/replay"]["post"];
        assert_eq!(replay["security"], json!([{"bearerAuth": []}]));
        assert!(replay["responses"]["401"].is_object());
        assert!(
            doc["paths"]["/v1/dead-letters"]["get"]["responses"]["200"]["links"]["NextPage"]
                .is_object()
        );
    }

    #[test]
    fn the_committed_document_matches_the_code() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text == to_text(&committed()),
            "docs/openapi.json is stale: run `make generate`"
        );
    }

    #[test]
    fn it_is_openapi_3_1_and_every_ref_resolves() {
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(fields) => fields.iter().for_each(|(name, field)| match field {
                    Value::String(target) if name == "$ref" => found.push(target),
                    other => refs(other, found),
                }),
                Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
                _ => {}
            }
        }
        let rules = EventRules::new(vec![], Some(&post_schema())).unwrap();
        for doc in [committed(), contract_document(&rules, false)] {
            assert_eq!(doc["openapi"], "3.1.0");
            let mut found = Vec::new();
            refs(&doc, &mut found);
            assert!(found.len() > 10, "{found:?}");
            for target in found {
                let pointer = target.strip_prefix('#').unwrap();
                assert!(doc.pointer(pointer).is_some(), "unresolved $ref {target}");
            }
        }
    }

    #[test]
    fn every_operation_documents_its_errors_auth_and_retry_after() {
        let doc = committed();
        let post = &doc["paths"]["/v1/events"]["post"];
        for status in [
            "202", "400", "401", "408", "413", "415", "422", "429", "503",
        ] {
            assert!(
                post["responses"][status].is_object(),
                "POST misses {status}"
            );
        }
        assert_eq!(post["security"], json!([{"bearerAuth": []}]));
        let responses = &doc["components"]["responses"];
        for name in ["TooManyRequests", "Unavailable"] {
            assert_eq!(responses[name]["headers"]["Retry-After"]["required"], true);
        }
        assert!(responses["Unauthorized"]["headers"]["WWW-Authenticate"].is_object());
        let list = &doc["paths"]["/v1/events"]["get"];
        let limit = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit");
        assert_eq!(limit.unwrap()["schema"]["maximum"], json!(MAX_LIMIT));
        assert!(list["responses"]["200"]["links"]["NextPage"].is_object());
        let open = contract_document(&EventRules::default(), false);
        assert!(open["paths"]["/v1/events"]["post"]["security"].is_null());
    }

    #[test]
    fn the_pipeline_schema_types_the_event_data() {
        let rules = EventRules::new(vec!["post.created".into()], Some(&post_schema())).unwrap();
        let doc = contract_document(&rules, false);
        let data = &doc["components"]["schemas"]["EventData"];
        assert_eq!(data["required"], json!(["title"]));
        assert_eq!(
            data["properties"]["title"]["$ref"],
            "#/components/schemas/EventData/$defs/title"
        );
        assert!(data["$schema"].is_null());
        let incoming = &doc["components"]["schemas"]["IncomingEvent"];
        assert_eq!(
            incoming["properties"]["type"]["enum"],
            json!(["post.created"])
        );
        assert_eq!(incoming["required"], json!(["type", "data"]));
        let good = json!({"type": "post.created", "data": {"title": "hello"}});
        assert!(violations(&doc, "IncomingEvent", &good).is_empty());
        for bad in [
            json!({"type": "post.created", "data": {"title": "h"}}),
            json!({"type": "post.created"}),
            json!({"type": "other", "data": {"title": "hello"}}),
        ] {
            assert!(!violations(&doc, "IncomingEvent", &bad).is_empty(), "{bad}");
        }
        let optional = EventRules::new(vec![], Some(&json!({"type": ["object", "null"]}))).unwrap();
        let doc = contract_document(&optional, false);
        assert_eq!(
            doc["components"]["schemas"]["IncomingEvent"]["required"],
            json!(["type"])
        );
    }

    #[test]
    fn what_the_handlers_answer_conforms_to_the_components() {
        let doc = committed();
        let event: Event = serde_json::from_value(json!({
            "specversion": "1.0", "id": "e1", "type": "LOGIN", "source": "web", "subject": "u1",
            "time": "2026-11-23T12:00:00.123Z", "datacontenttype": "application/json",
            "data": {"n": 3}
        }))
        .unwrap();
        let stored = to_json(&to_document(&event, Some("u1"), 2, 41));
        assert_eq!(
            violations(&doc, "StoredEvent", &stored),
            Vec::<String>::new()
        );
        let without_key = to_json(&to_document(&event, None, 0, 0));
        assert_eq!(
            violations(&doc, "StoredEvent", &without_key),
            Vec::<String>::new()
        );
        let error = ApiError::Invalid(vec![FieldError {
            path: "/type".into(),
            message: "is required".into(),
        }]);
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(violations(&doc, "ErrorBody", &body), Vec::<String>::new());
        let accepted = serde_json::to_value(Accepted {
            accepted: vec![AcceptedEvent {
                id: "e1".into(),
                partition: 0,
                offset: 7,
            }],
        })
        .unwrap();
        assert_eq!(
            violations(&doc, "Accepted", &accepted),
            Vec::<String>::new()
        );
        let page = serde_json::to_value(EventPage {
            events: vec![stored],
            next_cursor: None,
        })
        .unwrap();
        assert_eq!(violations(&doc, "EventPage", &page), Vec::<String>::new());
        assert!(!violations(&doc, "StoredEvent", &json!({"id": "e1"})).is_empty());
    }
}
