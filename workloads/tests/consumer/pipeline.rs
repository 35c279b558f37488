//! The happy path with hostile input: duplicates, poison, batch boundaries.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use mongodb::bson::doc;
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
};

use crate::support::{
    ConsumerProcess, Outgoing, Spec, collection, create_topics, end_offsets, event_json, events,
    ids, kafka_config, name, produce, producer, wait_committed_at_end, wait_for_count,
};

const SCHEMA: &str =
    r#"{"type":"object","required":["userId"],"properties":{"userId":{"type":"string"}}}"#;

/// Poison messages keyed `poison-<n>`, each with the reason code it must get.
fn poison() -> Vec<(Outgoing, &'static str)> {
    let mut messages = Vec::new();
    let mut add = |value: Vec<u8>, code: &'static str| {
        let n = messages.len();
        let message = Outgoing {
            key: format!("poison-{n}"),
            value,
            headers: vec![("trace-id".to_owned(), format!("t{n}"))],
        };
        messages.push((message, code));
    };
    for i in 0..4 {
        add(format!("{{not json {i}").into_bytes(), "not_json");
        add(format!("{{\"hello\": {i}}}").into_bytes(), "not_an_event");
        let no_user = serde_json::json!({
            "specversion": "1.0", "id": format!("nouser-{i}"), "type": "LOGIN",
            "source": "t", "time": "2026-11-23T12:00:00Z",
            "datacontenttype": "application/json", "data": {"other": i}
        });
        add(no_user.to_string().into_bytes(), "schema_violation");
        add(
            event_json(&format!("hack-{i}"), "HACK", "u"),
            "schema_violation",
        );
    }
    // Valid events the server refuses to store: the dev server (FerretDB) refuses nested
    // arrays, real MongoDB would refuse e.g. a document over 16 MiB. Dead-lettered, not retried.
    for i in 0..2 {
        let nested = serde_json::json!({
            "specversion": "1.0", "id": format!("nested-{i}"), "type": "LOGIN",
            "source": "t", "time": "2026-11-23T12:00:00Z", "datacontenttype": "application/json",
            "data": {"userId": "u", "matrix": [[1, 2], [3]]}
        });
        add(nested.to_string().into_bytes(), "rejected_by_mongodb");
    }
    messages
}

/// Every message of the dead-letter topic: key -> headers.
async fn read_dlq(topic: &str, count: usize) -> BTreeMap<String, BTreeMap<String, String>> {
    let consumer: StreamConsumer = kafka_config()
        .set("group.id", name("dlq_reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut found = BTreeMap::new();
    while found.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("dead letters within 30 s")
            .unwrap();
        let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
        let headers = message.headers().unwrap().iter().map(|h| {
            let value = String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned();
            (h.key.to_owned(), value)
        });
        found.insert(key, headers.collect());
    }
    found
}

#[tokio::test]
async fn unique_valid_events_land_once_and_poison_goes_to_the_dlq_with_its_reason() {
    let topic = name("pipeline");
    let table = name("pipeline");
    create_topics(&topic, 3).await;
    let valid = events("evt", 0..150);
    let poison = poison();
    let mut input = valid.clone();
    input.extend(valid.iter().step_by(5).cloned()); // 30 redeliveries of the same ids
    input.extend(poison.iter().map(|(m, _)| m.clone()));
    produce(&producer(), &topic, &input).await;

    let schema = std::env::temp_dir().join(format!("{topic}.schema.json"));
    std::fs::write(&schema, SCHEMA).unwrap();
    let mut spec = Spec::new(&topic, &table);
    spec.batch_size = 40;
    spec.extra = vec![
        "--schema-file".into(),
        schema.display().to_string(),
        "--allowed-types".into(),
        "LOGIN,LOGOUT".into(),
    ];
    let consumer = ConsumerProcess::spawn(&spec);
    wait_committed_at_end(&spec.group, &topic, 3, Duration::from_secs(90)).await;

    let collection = collection(&spec.mongodb_uri, &table).await;
    let expected: BTreeSet<String> = (0..150).map(|i| format!("evt-{i}")).collect();
    assert_eq!(ids(&collection).await, expected);
    let stored = collection
        .find_one(doc! {"_id": "evt-8"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.get_str("key").unwrap(), "user-1");
    let offset = stored.get_document("kafka").unwrap().get_i64("offset");
    assert!(
        offset.as_ref().is_ok_and(|o| *o >= 0),
        "int64 offset: {offset:?}"
    );

    let dead = read_dlq(&format!("{topic}.dlq"), poison.len()).await;
    for (message, code) in &poison {
        let headers = &dead[&message.key];
        assert_eq!(headers["eventflow-error-code"], *code, "{}", message.key);
        assert!(!headers["eventflow-error"].is_empty());
        assert_eq!(headers["eventflow-source-topic"], topic);
        assert!(headers["eventflow-source-offset"].parse::<i64>().is_ok());
        if *code != "rejected_by_mongodb" {
            assert_eq!(
                headers["trace-id"], message.headers[0].1,
                "original headers kept"
            );
        }
    }
    assert_eq!(
        consumer
            .metric("eventflow_consumer_events_duplicate_total", "")
            .await,
        30
    );
    assert_eq!(
        consumer
            .metric("eventflow_consumer_events_written_total", "")
            .await,
        150
    );
    assert_eq!(
        consumer
            .metric("eventflow_consumer_events_dead_lettered_total", "")
            .await,
        i64::try_from(poison.len()).unwrap()
    );
    // Per-partition committed offsets and lag as the consumer sees them (lag from librdkafka
    // statistics, every 5 s).
    let end: i64 = end_offsets(&topic, 3).iter().sum();
    let start = Instant::now();
    while consumer
        .metric("eventflow_consumer_committed_offset", "partition=")
        .await
        != end
        || consumer
            .metric("eventflow_consumer_lag", "partition=")
            .await
            != 0
        || !consumer
            .metrics_text()
            .await
            .contains("eventflow_consumer_lag{")
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "offset metrics did not settle (end {end}):\n{}",
            consumer.metrics_text().await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = consumer.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn batches_are_written_when_full_and_when_the_timeout_passes() {
    let topic = name("batches");
    let table = name("batches");
    create_topics(&topic, 1).await;
    let mut spec = Spec::new(&topic, &table);
    spec.batch_size = 10;
    spec.batch_timeout = "1500ms";
    let consumer = ConsumerProcess::spawn(&spec);
    consumer.wait_ready(Duration::from_secs(60)).await;

    let producer = producer();
    let input = events("b", 0..25);
    produce(&producer, &topic, &input[..20]).await;
    let tail_sent = chrono::Utc::now();
    produce(&producer, &topic, &input[20..]).await;
    let collection = collection(&spec.mongodb_uri, &table).await;
    let start = Instant::now();
    wait_for_count(&collection, 25, Duration::from_secs(60)).await;
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "the tail waited for the timeout"
    );

    // The batch metrics count a write once it is settled, just after MongoDB holds it.
    let settled = Instant::now();
    while consumer
        .metric("eventflow_consumer_batches_total", "")
        .await
        < 3
    {
        assert!(
            settled.elapsed() < Duration::from_secs(10),
            "batches not settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let size = consumer
        .metric("eventflow_consumer_batches_total", r#"trigger="size""#)
        .await;
    let timeout = consumer
        .metric("eventflow_consumer_batches_total", r#"trigger="timeout""#)
        .await;
    assert_eq!((size, timeout), (2, 1));
    assert_eq!(
        consumer
            .metric("eventflow_consumer_batch_size_sum", "")
            .await,
        25
    );
    for i in 20..25 {
        let document = collection
            .find_one(doc! {"_id": format!("b-{i}")})
            .await
            .unwrap()
            .unwrap();
        let ingested = document
            .get_datetime("ingestedAt")
            .unwrap()
            .timestamp_millis();
        assert!(
            ingested >= tail_sent.timestamp_millis() + 1500 - 1,
            "the last partial batch is written only once the timeout passed"
        );
    }
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
}
