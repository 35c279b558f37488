//! The write path against the dev broker: what a 202 promises is on the topic.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::{collections::HashMap, time::Duration};

use axum::http::{StatusCode, header};
use eventflow_workloads::{
    document::to_document,
    event::{Event, EventRules},
    testkit::{DevServices, PrivateServices, Service, unique_name},
};
use producer_support::{app, args, create_topic, post_json, send, temp_file};
use rdkafka::{
    ClientConfig, Message,
    consumer::{Consumer, StreamConsumer},
    message::{BorrowedMessage, Headers},
};
use serde_json::{Value, json};

fn services() -> DevServices {
    DevServices::from_env().expect("dev services")
}

/// Reads `count` messages of `topic` from the beginning.
async fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<Received> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("producer-test"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut received = Vec::new();
    while received.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a message within 30 s")
            .expect("message");
        received.push(Received::of(&message));
    }
    received
}

#[derive(Debug)]
struct Received {
    partition: i32,
    offset: i64,
    key: Option<String>,
    headers: HashMap<String, String>,
    event: Event,
}

impl Received {
    fn of(message: &BorrowedMessage<'_>) -> Self {
        let headers = message.headers().map_or_else(HashMap::new, |headers| {
            headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                    (h.key.to_owned(), value.into_owned())
                })
                .collect()
        });
        Self {
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            headers,
            event: Event::decode(message.payload().expect("payload")).expect("an event"),
        }
    }
}

/// A fresh topic of `partitions` and the API router writing to it with `flags`.
async fn ingest(partitions: i32, flags: &[&str]) -> (DevServices, String, axum::Router) {
    let services = services();
    let topic = unique_name("ingest");
    create_topic(&services.kafka_bootstrap, &topic, partitions).await;
    let (app, _) = app(&args(
        &services.kafka_bootstrap,
        &services.mongodb_uri,
        &topic,
        flags,
    ))
    .await;
    (services, topic, app)
}

#[tokio::test]
async fn accepted_events_are_on_the_topic_with_key_partition_and_headers() {
    let flags = [
        "--partition-key",
        "data.userId",
        "--allowed-types",
        "LOGIN,LOGOUT",
    ];
    let (services, topic, app) = ingest(3, &flags).await;

    let events: Vec<Value> = (0..6)
        .map(|i| json!({"type": if i % 2 == 0 { "LOGIN" } else { "LOGOUT" }, "data": {"userId": format!("user-{}", i % 3)}}))
        .collect();
    let (status, _, body) = send(&app, post_json(&Value::Array(events))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let accepted = body["accepted"].as_array().expect("accepted");
    assert_eq!(accepted.len(), 6);

    let received = read_topic(&services.kafka_bootstrap, &topic, 6).await;
    let mut partition_of_user = HashMap::new();
    for ack in accepted {
        let id = ack["id"].as_str().expect("id");
        let message = received
            .iter()
            .find(|m| m.event.id == id)
            .expect("the accepted event is on the topic");
        assert_eq!(
            i64::from(message.partition),
            ack["partition"].as_i64().expect("partition")
        );
        assert_eq!(message.offset, ack["offset"].as_i64().expect("offset"));
        let user = message.event.data["userId"].as_str().expect("userId");
        assert_eq!(message.key.as_deref(), Some(user), "keyed by data.userId");
        assert_eq!(
            *partition_of_user
                .entry(user.to_owned())
                .or_insert(message.partition),
            message.partition,
            "one user, one partition"
        );
        assert_eq!(message.headers.len(), 2, "only the type and content type");
        assert_eq!(message.headers["ce_type"], message.event.kind);
        assert!(message.headers["content-type"].starts_with("application/cloudevents+json"));
    }
}

#[tokio::test]
async fn a_single_event_takes_its_id_from_the_idempotency_key() {
    let (services, topic, app) = ingest(1, &[]).await;
    let mut request = post_json(&json!({"type": "LOGIN", "subject": "s-1", "data": {}}));
    request
        .headers_mut()
        .insert("idempotency-key", "order-42".parse().expect("header"));
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"][0]["id"], "order-42");
    let received = read_topic(&services.kafka_bootstrap, &topic, 1).await;
    assert_eq!(received[0].event.id, "order-42");
    assert_eq!(
        received[0].key.as_deref(),
        Some("s-1"),
        "the default key is the subject"
    );
}

#[tokio::test]
async fn an_array_with_one_invalid_event_publishes_nothing() {
    let (services, topic, app) = ingest(1, &[]).await;
    let batch =
        json!([{"type": "LOGIN", "id": "first"}, {"data": {}}, {"type": "LOGIN", "id": "third"}]);
    let (status, _, body) = send(&app, post_json(&batch)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _, body) = send(&app, post_json(&json!({"type": "LOGIN", "id": "marker"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body["accepted"][0]["offset"], 0,
        "nothing of the refused array was published"
    );
    let received = read_topic(&services.kafka_bootstrap, &topic, 1).await;
    assert_eq!(received[0].event.id, "marker");
}

#[tokio::test]
async fn with_auth_on_a_valid_token_is_accepted() {
    let tokens = temp_file("tokens", "t0ken\n");
    let flags = ["--auth-tokens-file", tokens.to_str().expect("path")];
    let (_, _, app) = ingest(1, &flags).await;
    let event = json!({"type": "LOGIN"});
    assert_eq!(
        send(&app, post_json(&event)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut request = post_json(&event);
    request.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer t0ken".parse().expect("header"),
    );
    assert_eq!(send(&app, request).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_stopped_broker_gives_503_with_retry_after_never_202() {
    // A broker of its own: this test takes it away.
    let broker = PrivateServices::start().expect("private dev services");
    let bootstrap = &broker.addresses.kafka_bootstrap;
    let topic = unique_name("outage");
    create_topic(bootstrap, &topic, 1).await;
    let flags = ["--delivery-timeout", "2s", "--request-timeout", "10s"];
    let (app, state) = app(&args(bootstrap, &services().mongodb_uri, &topic, &flags)).await;
    let (status, _, body) = send(&app, post_json(&json!({"type": "LOGIN"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    broker.kill(Service::Kafka).expect("broker killed");
    let (status, headers, body) = send(&app, post_json(&json!({"type": "LOGIN"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "kafka_unavailable");
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert_eq!(state.metrics.events_accepted.get(), 1);
    assert_eq!(
        state
            .metrics
            .delivery_errors
            .with_label_values(&["timed_out"])
            .get(),
        1
    );
}

/// Two versions of an order schema, closed models: version 2 adds the optional `qty`.
fn order_schema_versions() -> Value {
    let sku = json!({"type": "string"});
    json!([
        {"version": 1, "schema": {"type": "object", "additionalProperties": false,
            "properties": {"sku": sku}}},
        {"version": 2, "schema": {"type": "object", "additionalProperties": false,
            "properties": {"sku": sku, "qty": {"type": "integer"}}}}
    ])
}

#[tokio::test]
async fn an_event_is_checked_against_the_schema_version_it_names_and_stored_with_it() {
    let file = temp_file("schemas", &order_schema_versions().to_string());
    let collection = unique_name("schemas");
    let flags = [
        "--schema-file",
        file.to_str().expect("a UTF-8 path"),
        "--mongodb-database",
        "eventflow_test",
        "--mongodb-collection",
        &collection,
    ];
    let (services, topic, app) = ingest(1, &flags).await;
    let order = json!({"sku": "a-1", "qty": 2});
    // Version 1 is closed without `qty`: the event naming it is checked against it.
    let named_v1 = json!({"type": "order", "dataschema": "1", "data": order});
    let (status, _, body) = send(&app, post_json(&named_v1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(producer_support::detail_paths(&body), ["/data"]);
    let unknown = "https://registry.example/subjects/orders/versions/7";
    let named_v7 = json!({"type": "order", "dataschema": unknown, "data": order});
    let (status, _, body) = send(&app, post_json(&named_v7)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["details"][0],
        json!({"path": "/dataschema", "message":
            "names schema version 7, which the pipeline does not have (versions: 1, 2)"})
    );
    let batch = json!([
        {"id": "old", "type": "order", "dataschema": "1", "data": {"sku": "a-1"}},
        {"id": "new", "type": "order", "dataschema": "https://registry.example/versions/2", "data": order},
        {"id": "latest", "type": "order", "data": order}
    ]);
    let (status, _, body) = send(&app, post_json(&batch)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // On the topic, each event carries the version it was checked against; the consumer's
    // rules (the same file) accept each against that version, and it stores them.
    let rules = EventRules::from_file(Vec::new(), Some(&file)).expect("the schema file");
    let mut documents = Vec::new();
    for message in read_topic(&services.kafka_bootstrap, &topic, 3).await {
        let expected = if message.event.id == "old" { 1 } else { 2 };
        assert_eq!(
            message.event.schemaversion,
            Some(expected),
            "{}",
            message.event.id
        );
        assert!(
            rules.check(&message.event).is_empty(),
            "{}",
            message.event.id
        );
        let key = message.key.as_deref();
        documents.push(to_document(
            &message.event,
            key,
            message.partition,
            message.offset,
        ));
    }
    let client = mongodb::Client::with_uri_str(&services.mongodb_uri)
        .await
        .expect("client");
    let stored: mongodb::Collection<mongodb::bson::Document> =
        client.database("eventflow_test").collection(&collection);
    stored.insert_many(documents).await.expect("insert");
    let ids = |query: &'static str| {
        let app = app.clone();
        async move {
            let (status, _, body) = send(&app, producer_support::get(query)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let mut ids: Vec<String> = body["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            (ids, body)
        }
    };
    let (v1, body) = ids("/v1/events?schemaversion=1").await;
    assert_eq!(v1, ["old"]);
    assert_eq!(body["events"][0]["dataschema"], "1");
    assert_eq!(ids("/v1/events?schemaversion=2").await.0, ["latest", "new"]);
}
