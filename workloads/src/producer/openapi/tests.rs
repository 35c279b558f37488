//! The generated document against the code: routes, the error body, the per-pipeline parts.

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
