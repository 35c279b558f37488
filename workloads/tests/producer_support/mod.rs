//! Helpers shared by the producer's integration tests (declared `pub mod` so that each test
//! crate may use a subset).
#![expect(
    clippy::missing_panics_doc,
    reason = "test helpers panic on purpose to fail the test"
)]

use std::path::PathBuf;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode},
};
use clap::Parser;
use eventflow_workloads::{
    cli::{Cli, Command},
    producer::{self, AppState, ProducerArgs},
    testkit::unique_name,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Producer arguments as the command line would give them: the required flags, then `extra`.
pub fn args(bootstrap: &str, mongodb_uri: &str, topic: &str, extra: &[&str]) -> ProducerArgs {
    let mut argv = vec![
        "eventflow",
        "producer",
        "--kafka-bootstrap",
        bootstrap,
        "--mongodb-uri",
        mongodb_uri,
        "--topic",
        topic,
    ];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv)
        .expect("valid producer flags")
        .command
    {
        Command::Producer(parsed) => parsed,
        other => panic!("not the producer: {other:?}"),
    }
}

/// The API router and its state for `args`, with a fresh metrics registry.
pub async fn app(args: &ProducerArgs) -> (Router, AppState) {
    let registry = prometheus::Registry::new();
    let state = producer::build(args, &registry)
        .await
        .expect("producer state");
    (producer::router(state.clone()), state)
}

/// Sends one request through the router; the body as JSON (`Null` when empty or not JSON).
pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A `POST /v1/events` with a JSON body.
pub fn post_json(body: &Value) -> Request<Body> {
    Request::post("/v1/events")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// A `GET` of `uri`.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// The `path`s of the error details of a response body.
pub fn detail_paths(body: &Value) -> Vec<String> {
    let mut paths: Vec<String> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["path"].as_str().expect("path").to_owned())
        .collect();
    paths.sort();
    paths
}

/// Writes `contents` to a fresh temporary file.
pub fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(unique_name(name));
    std::fs::write(&path, contents).expect("temp file");
    path
}

/// Creates `topic` with `partitions` (the dev broker does not auto-create topics).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    eventflow_workloads::testkit::create_topic(bootstrap, topic, partitions)
        .await
        .expect("topic created");
}
