//! Dead letters a person can inspect and replay, end to end: a poison event reaches the
//! dead-letter topic through the real consumer, the producer lists it with its reason, refuses
//! to replay it while the schema still refuses it, replays it once the schema is fixed, and
//! MongoDB holds it once however often it is replayed.

use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use mongodb::bson::doc;
use serde_json::{Value, json};

use crate::{
    producer_support::{app, args, get, send, temp_file},
    support::{
        ConsumerProcess, Outgoing, Spec, collection, create_topics, ids, name, produce, producer,
        services, wait_committed_at_end, wait_for_count,
    },
};

const STRICT: &str =
    r#"{"type":"object","required":["userId"],"properties":{"userId":{"type":"string"}}}"#;
const FIXED: &str = r#"{"type":"object","required":["userId"]}"#;

/// A producer API for `topic` with the schema in `schema_file`.
async fn producer_api(
    topic: &str,
    schema_file: &str,
) -> (Router, eventflow_workloads::producer::AppState) {
    let services = services();
    let flags = ["--schema-file", schema_file];
    app(&args(
        &services.kafka_bootstrap,
        &services.mongodb_uri,
        topic,
        &flags,
    ))
    .await
}

async fn replay(app: &Router, body: &Value) -> Value {
    let request = Request::post("/v1/dead-letters/replay")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, answer) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    answer
}

/// `GET /v1/dead-letters...` once there are `count` dead letters (30 s at most).
async fn listed(app: &Router, query: &str, count: usize) -> Value {
    let start = Instant::now();
    loop {
        let (status, _, page) = send(app, get(&format!("/v1/dead-letters{query}"))).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let found = page["deadLetters"].as_array().unwrap().len();
        if found >= count {
            return page;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{found} dead letters: {page}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn poison() -> Outgoing {
    let event = json!({
        "specversion": "1.0", "id": "poison-1", "type": "LOGIN", "source": "t",
        "time": "2026-11-23T12:00:00Z", "datacontenttype": "application/json",
        "data": {"userId": 42}
    });
    Outgoing {
        key: "user-42".into(),
        value: event.to_string().into_bytes(),
        headers: vec![],
    }
}

fn garbage() -> Outgoing {
    Outgoing {
        key: "g".into(),
        value: b"\xff not json".to_vec(),
        headers: vec![],
    }
}

/// The two dead letters are listed with reason, source position and the original event (or
/// raw bytes), paged like the query API and filtered by reason; their ids.
async fn assert_listed(strict_api: &Router, topic: &str) -> (String, String) {
    let page = listed(strict_api, "", 2).await;
    let letters = page["deadLetters"].as_array().unwrap();
    let of = |code: &str| {
        letters
            .iter()
            .find(|l| l["reason"]["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {page}"))
            .clone()
    };
    let poisoned = of("schema_violation");
    assert_eq!(poisoned["eventId"], "poison-1");
    assert_eq!(poisoned["event"]["data"]["userId"], 42);
    assert!(
        poisoned["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("/data/userId"),
        "{poisoned}"
    );
    assert_eq!(poisoned["source"]["topic"], topic);
    assert!(poisoned["source"]["offset"].is_i64() && poisoned["deadLetteredAt"].is_string());
    let junk = of("not_json");
    assert_eq!(
        (junk["event"].clone(), junk["raw"].clone()),
        (Value::Null, json!("/yBub3QganNvbg=="))
    );

    // Paged like the query API, and filtered by reason.
    let first = listed(strict_api, "?limit=1", 1).await;
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = listed(strict_api, &format!("?limit=1&cursor={cursor}"), 1).await;
    assert_ne!(
        first["deadLetters"][0]["id"],
        second["deadLetters"][0]["id"]
    );
    assert_eq!(second["nextCursor"], Value::Null);
    assert_eq!(
        listed(strict_api, "?reason=not_json", 1).await["deadLetters"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    (
        poisoned["id"].as_str().unwrap().to_owned(),
        junk["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_poison_event_is_listed_refused_while_invalid_and_stored_once_after_the_fix() {
    let topic = name("replay");
    create_topics(&topic, 2).await;
    let strict = temp_file("strict-schema", STRICT);
    let fixed = temp_file("fixed-schema", FIXED);
    let mut spec = Spec::new(&topic, &name("replay_events"));
    spec.extra = vec!["--schema-file".into(), strict.to_str().unwrap().into()];
    let consumer = ConsumerProcess::spawn(&spec);
    consumer.wait_ready(Duration::from_secs(30)).await;
    produce(
        &producer(),
        &topic,
        &[Outgoing::event("valid-1", "u1"), poison(), garbage()],
    )
    .await;
    let stored = collection(&services().mongodb_uri, &spec.collection).await;
    wait_for_count(&stored, 1, Duration::from_secs(30)).await;

    let (strict_api, _) = producer_api(&topic, strict.to_str().unwrap()).await;
    let (poison_id, junk_id) = assert_listed(&strict_api, &topic).await;

    // Still invalid: refused, nothing published.
    let ids_body = json!({"ids": [poison_id, junk_id, "7-7"]});
    let outcome = replay(&strict_api, &ids_body).await;
    assert_eq!(outcome["replayed"], json!([]), "{outcome}");
    let codes: Vec<&str> = outcome["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["not_found", "schema_violation", "not_json"],
        "{outcome}"
    );

    // The schema is fixed (the consumer restarts with it, as a pod would): replayed, twice.
    consumer.kill();
    spec.extra = vec!["--schema-file".into(), fixed.to_str().unwrap().into()];
    let consumer = ConsumerProcess::spawn(&spec);
    let (fixed_api, fixed_state) = producer_api(&topic, fixed.to_str().unwrap()).await;
    let outcome = replay(&fixed_api, &json!({"reason": "schema_violation"})).await;
    assert_eq!(outcome["replayed"][0]["eventId"], "poison-1", "{outcome}");
    let outcome = replay(&fixed_api, &json!({"ids": [poison_id]})).await;
    assert_eq!(
        outcome["replayed"][0]["id"],
        poison_id.as_str(),
        "{outcome}"
    );
    wait_for_count(&stored, 2, Duration::from_secs(30)).await;
    wait_committed_at_end(&spec.group, &topic, 2, Duration::from_secs(30)).await;
    assert_eq!(
        stored
            .count_documents(doc! {"id": "poison-1"})
            .await
            .unwrap(),
        1,
        "stored once"
    );
    assert_eq!(ids(&stored).await.len(), 2);
    let replayed = fixed_state
        .metrics
        .dead_letters_replayed
        .with_label_values(&["replayed"])
        .get();
    assert_eq!(replayed, 2);
    consumer.kill();
}
