//! Every error path of the producer API, through the router with `oneshot`. Kafka and MongoDB
//! are never reached (unreachable addresses), so these run without the dev services.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use producer_support::{app, args, detail_paths, get, post_json, send, temp_file};
use serde_json::json;

/// Nothing listens here: Kafka and MongoDB calls fail fast.
const NO_KAFKA: &str = "127.0.0.1:9";
const NO_MONGODB: &str = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300";

async fn router(extra: &[&str]) -> axum::Router {
    app(&args(NO_KAFKA, NO_MONGODB, "router-test", extra))
        .await
        .0
}

fn post_schema() -> String {
    json!({
        "type": "object",
        "required": ["title", "content"],
        "properties": {
            "title": {"type": "string", "minLength": 2, "maxLength": 100},
            "content": {"type": "string", "minLength": 10, "maxLength": 1000}
        }
    })
    .to_string()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let request = Request::post("/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"type\": "))
        .unwrap();
    let (status, _, body) = send(&router(&[]).await, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
}

#[tokio::test]
async fn a_json_scalar_is_not_an_event() {
    let (status, _, body) = send(&router(&[]).await, post_json(&json!(42))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "not_an_event");
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let app = router(&[]).await;
    for content_type in [Some("text/plain"), None] {
        let mut request = Request::post("/v1/events");
        if let Some(value) = content_type {
            request = request.header(header::CONTENT_TYPE, value);
        }
        let (status, _, body) = send(&app, request.body(Body::from("{}")).unwrap()).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = router(&["--max-body-bytes", "100"]).await;
    let big = json!({"type": "t", "data": {"text": "x".repeat(200)}});
    let (status, _, body) = send(&app, post_json(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "body_too_large");
}

#[tokio::test]
async fn more_events_than_allowed_is_413() {
    let app = router(&["--max-events-per-request", "2"]).await;
    let events = json!([{"type": "t"}, {"type": "t"}, {"type": "t"}]);
    let (status, _, body) = send(&app, post_json(&events)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "too_many_events");
}

#[tokio::test]
async fn a_schema_violation_is_422_naming_every_failing_field() {
    let schema = temp_file("schema", &post_schema());
    let app = router(&[
        "--schema-file",
        schema.to_str().unwrap(),
        "--allowed-types",
        "post.created",
    ])
    .await;
    let event =
        json!({"type": "other", "time": "yesterday", "data": {"title": "x", "content": "short"}});
    let (status, _, body) = send(&app, post_json(&event)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(detail_paths(&body), ["/time"], "types are checked first");

    let event = json!({"type": "other", "data": {"title": "x", "content": "short"}});
    let (status, _, body) = send(&app, post_json(&event)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        detail_paths(&body),
        ["/data/content", "/data/title", "/type"]
    );
}

#[tokio::test]
async fn array_violations_are_prefixed_with_the_event_index() {
    let schema = temp_file("schema", &post_schema());
    let app = router(&["--schema-file", schema.to_str().unwrap()]).await;
    let good =
        json!({"type": "post.created", "data": {"title": "Hello", "content": "long enough text"}});
    let events = json!([good, good, {"type": "post.created", "data": {"title": "x", "content": "long enough text"}}, {"data": {"title": "ok", "content": "long enough text"}}]);
    let (status, _, body) = send(&app, post_json(&events)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail_paths(&body), ["/2/data/title", "/3/type"]);
}

#[tokio::test]
async fn an_idempotency_key_with_an_array_is_400() {
    let mut request = post_json(&json!([{"type": "t"}]));
    request
        .headers_mut()
        .insert("idempotency-key", "k1".parse().unwrap());
    let (status, _, body) = send(&router(&[]).await, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "idempotency_key_with_array");
}

#[tokio::test]
async fn with_tokens_every_v1_route_needs_a_bearer_token() {
    let tokens = temp_file("tokens", "# ingest\nsecret-1\nsecret-2\n");
    let app = router(&["--auth-tokens-file", tokens.to_str().unwrap()]).await;
    for request in [
        post_json(&json!({"type": "t"})),
        get("/v1/events"),
        get("/v1/events/e1"),
        get("/v1/dead-letters"),
        Request::post("/v1/dead-letters/replay")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"ids": ["0-0"]}"#))
            .unwrap(),
    ] {
        let (status, headers, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"eventflow\""
        );
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let mut wrong = get("/v1/events?limit=0");
    wrong
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer secret-3".parse().unwrap());
    let (status, headers, _) = send(&app, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let mut right = get("/v1/events?limit=0");
    right
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer secret-2".parse().unwrap());
    assert_eq!(
        send(&app, right).await.0,
        StatusCode::BAD_REQUEST,
        "past auth, to validation"
    );
}

#[tokio::test]
async fn without_tokens_no_authorization_is_needed() {
    let (status, _, _) = send(&router(&[]).await, get("/v1/events?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let app = router(&[]).await;
    for query in [
        "limit=0",
        "limit=5000",
        "limit=ten",
        "from=today",
        "to=1",
        "cursor=%%%",
        "order=asc",
    ] {
        let (status, _, body) = send(&app, get(&format!("/v1/events?{query}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let name = query.split('=').next().unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let (status, _, body) = send(&router(&[]).await, get("/v2/things")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn an_unreachable_store_is_503_with_retry_after() {
    let (status, headers, body) = send(&router(&[]).await, get("/v1/events/e1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals leak: {body}"
    );
}

#[tokio::test]
async fn an_unreachable_kafka_is_503_after_the_delivery_timeout() {
    let app = router(&["--delivery-timeout", "500ms", "--request-timeout", "5s"]).await;
    let (status, headers, body) = send(&app, post_json(&json!({"type": "t"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "kafka_unavailable");
    assert_eq!(headers[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn a_full_local_queue_is_503_before_anything_is_sent() {
    let app = router(&["--queue-max-messages", "2"]).await;
    let events = json!([{"type": "t"}, {"type": "t"}, {"type": "t"}]);
    let (status, headers, body) = send(&app, post_json(&events)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "queue_full");
    assert!(headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_request_timeout_shorter_than_the_delivery_timeout_is_refused() {
    let args = args(
        NO_KAFKA,
        NO_MONGODB,
        "t",
        &["--delivery-timeout", "5s", "--request-timeout", "1s"],
    );
    let built = eventflow_workloads::producer::build(&args, &prometheus::Registry::new()).await;
    assert_eq!(
        built.err().map(|e| e.to_string()).as_deref(),
        Some("invalid configuration: the request timeout must exceed the delivery timeout")
    );
}

#[tokio::test]
async fn dead_letter_requests_with_bad_parameters_are_400_before_kafka() {
    let app = router(&[]).await;
    for uri in [
        "/v1/dead-letters?limit=0",
        "/v1/dead-letters?limit=1001",
        "/v1/dead-letters?cursor=x",
        "/v1/dead-letters?sort=asc",
        "/v1/dead-letters?from=yesterday",
    ] {
        let (status, _, body) = send(&app, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{uri}");
    }
    for replay in [
        json!({"ids": ["0-1"], "reason": "not_json"}),
        json!({"ids": ["0-1"], "limit": 5}),
        json!({"unknown": true}),
        json!({"limit": 0}),
    ] {
        let request = Request::post("/v1/dead-letters/replay")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(replay.to_string()))
            .unwrap();
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{replay}: {body}");
    }
}
