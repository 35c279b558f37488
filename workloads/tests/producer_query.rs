//! The read path over documents stored in the dev MongoDB server, in the consumer's shape.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::collections::HashSet;

use axum::{Router, http::StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use eventflow_workloads::{
    document::{self, to_document},
    event::Event,
    testkit::{DevServices, unique_name},
};
use futures::TryStreamExt;
use mongodb::bson::Document;
use producer_support::{app, args, get, send};
use serde_json::json;

struct Fixture {
    app: Router,
    collection: mongodb::Collection<Document>,
}

async fn fixture() -> Fixture {
    let services = DevServices::from_env().expect("dev services");
    let name = unique_name("query");
    let flags = [
        "--mongodb-database",
        "eventflow_test",
        "--mongodb-collection",
        &name,
    ];
    let (app, _) = app(&args(
        &services.kafka_bootstrap,
        &services.mongodb_uri,
        "unused",
        &flags,
    ))
    .await;
    let client = mongodb::Client::with_uri_str(&services.mongodb_uri)
        .await
        .expect("client");
    let collection = client.database("eventflow_test").collection(&name);
    document::ensure_indexes(&collection)
        .await
        .expect("indexes, as in production");
    Fixture { app, collection }
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
        .single()
        .expect("time")
}

fn event(id: &str, kind: &str, user: &str, time: DateTime<Utc>) -> Event {
    serde_json::from_value(json!({
        "specversion": "1.0", "id": id, "type": kind, "source": "/test",
        "time": time, "datacontenttype": "application/json", "data": {"userId": user}
    }))
    .expect("event")
}

/// Stores events as the consumer does (key = userId).
async fn store(collection: &mongodb::Collection<Document>, events: &[Event]) {
    let documents: Vec<Document> = events
        .iter()
        .zip(0_i64..)
        .map(|(e, offset)| to_document(e, e.data["userId"].as_str(), 0, offset))
        .collect();
    collection.insert_many(documents).await.expect("insert");
}

async fn list(app: &Router, query: &str) -> (Vec<String>, Option<String>) {
    let (status, _, body) = send(app, get(&format!("/v1/events?{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let ids = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, body["nextCursor"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn an_event_is_found_by_id_and_an_absent_one_is_404() {
    let f = fixture().await;
    let stored = event("e-1", "LOGIN", "u1", base_time());
    store(&f.collection, std::slice::from_ref(&stored)).await;

    let (status, _, body) = send(&f.app, get("/v1/events/e-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "LOGIN");
    assert_eq!(body["time"], "2026-11-01T12:00:00.000Z");
    assert_eq!(body["key"], "u1");
    assert_eq!(body["kafka"], json!({"partition": 0, "offset": 0}));
    let back: Event = serde_json::from_value(body).expect("the body is the event");
    assert_eq!(back, stored);

    let (status, _, body) = send(&f.app, get("/v1/events/missing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn filters_select_by_key_type_and_time_newest_first() {
    let f = fixture().await;
    let t = |minutes| base_time() + Duration::minutes(minutes);
    store(
        &f.collection,
        &[
            event("a", "LOGIN", "u1", t(0)),
            event("b", "LOGOUT", "u1", t(1)),
            event("c", "LOGIN", "u2", t(2)),
            event("d", "LOGIN", "u1", t(3)),
        ],
    )
    .await;
    assert_eq!(list(&f.app, "").await.0, ["d", "c", "b", "a"]);
    assert_eq!(list(&f.app, "key=u1").await.0, ["d", "b", "a"]);
    assert_eq!(list(&f.app, "type=LOGIN").await.0, ["d", "c", "a"]);
    assert_eq!(list(&f.app, "key=u1&type=LOGIN").await.0, ["d", "a"]);
    let from = t(1).to_rfc3339();
    let to = t(3).to_rfc3339();
    let (ids, next) = list(&f.app, &format!("from={}&to={}", enc(&from), enc(&to))).await;
    assert_eq!(ids, ["c", "b"], "from inclusive, to exclusive");
    assert_eq!(next, None);
    assert_eq!(list(&f.app, "limit=2").await.0, ["d", "c"]);
}

fn enc(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_cursor_walk_sees_every_event_exactly_once_despite_concurrent_inserts() {
    let f = fixture().await;
    // 23 events over 8 distinct times, so pages split inside a group of equal times.
    let events: Vec<Event> = (0..23)
        .map(|i| {
            event(
                &format!("ev-{i:02}"),
                "LOGIN",
                "u1",
                base_time() + Duration::seconds(i / 3),
            )
        })
        .collect();
    store(&f.collection, &events).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let query = cursor
            .as_ref()
            .map_or("limit=5".to_owned(), |c| format!("limit=5&cursor={c}"));
        let (ids, next) = list(&f.app, &query).await;
        seen.extend(ids);
        // Newer events arrive between pages; they sort before the cursor and are not returned.
        let newer = event(
            &format!("new-{page}"),
            "LOGIN",
            "u1",
            base_time() + Duration::hours(1),
        );
        store(&f.collection, &[newer]).await;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(page < 10, "the walk ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice: {seen:?}");
    let mut expected: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "every event once, newest first (time, then id)"
    );
}

#[tokio::test]
async fn the_query_indexes_exist_and_events_can_still_be_stored() {
    let f = fixture().await; // ensures the indexes once
    document::ensure_indexes(&f.collection)
        .await
        .expect("again: idempotent");
    store(
        &f.collection,
        &[event("after-index", "LOGIN", "u1", base_time())],
    )
    .await;
    let indexes: Vec<mongodb::IndexModel> = f
        .collection
        .list_indexes()
        .await
        .expect("list indexes")
        .try_collect()
        .await
        .expect("indexes");
    let present: Vec<&Document> = indexes.iter().map(|i| &i.keys).collect();
    for expected in document::indexes() {
        assert!(
            present.contains(&&expected.keys),
            "{:?} in {present:?}",
            expected.keys
        );
    }
}
