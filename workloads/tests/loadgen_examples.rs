//! Each load-generator workload against the example pipeline it is meant for: the producer
//! configured from the example's `allowedTypes` and `schema` accepts every generated event.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use axum::http::StatusCode;
use eventflow_workloads::{
    loadgen::Workload,
    testkit::{DevServices, unique_name},
};
use producer_support::{app, args, create_topic, post_json, send, temp_file};
use serde_json::Value;

/// The producer flags an example's `spec.producer` gives: allowed types and the schema file.
fn producer_flags(example: &str) -> Vec<String> {
    let path = format!("{}/../examples/{example}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example file");
    let pipeline: Value = serde_yaml::from_str(&text).expect("example YAML");
    let producer = &pipeline["spec"]["producer"];
    let mut flags = Vec::new();
    if let Some(types) = producer["allowedTypes"].as_array() {
        let types: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        flags.extend(["--allowed-types".to_owned(), types.join(",")]);
    }
    if producer["schema"].is_object() {
        let schema = temp_file("schema.json", &producer["schema"].to_string());
        flags.extend(["--schema-file".to_owned(), schema.display().to_string()]);
    }
    flags
}

async fn assert_all_accepted(workload: Workload, example: &str) {
    let services = DevServices::from_env().expect("dev services");
    let topic = unique_name("loadgen-example");
    create_topic(&services.kafka_bootstrap, &topic, 1).await;
    let flags = producer_flags(example);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (router, _) = app(&args(
        &services.kafka_bootstrap,
        &services.mongodb_uri,
        &topic,
        &flags,
    ))
    .await;
    let mut rng = rand::rng();
    let events = workload.body(&mut rng, 200, true);
    let (status, _, body) = send(&router, post_json(&events)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{workload:?} against {example}: {body}"
    );
}

#[tokio::test]
async fn user_activity_events_fit_the_user_activity_example() {
    assert_all_accepted(Workload::UserActivity, "user-activity.yaml").await;
}

#[tokio::test]
async fn posts_fit_the_posts_example() {
    assert_all_accepted(Workload::Posts, "posts.yaml").await;
}

#[tokio::test]
async fn transactions_fit_the_transactions_example() {
    assert_all_accepted(Workload::Transactions, "transactions.yaml").await;
}
