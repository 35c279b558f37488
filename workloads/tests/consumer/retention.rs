//! `sink.mongodb.ttl`: the TTL index on `ingestedAt` is requested with the configured
//! `expireAfterSeconds` (the `createIndexes` command the driver sends, seen through its command
//! monitoring), replaced when the TTL changes and dropped when it goes (read back with the
//! server's `listIndexes`). The dev server (FerretDB 1.24) refuses TTL indexes with
//! `NotImplemented`, so the consumer must say so and keep storing events.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use eventflow_workloads::document::ttl::{TTL_INDEX, TtlIndex, ensure_ttl};
use mongodb::{
    Client, Collection, IndexModel,
    bson::{Document, doc},
    event::{EventHandler, command::CommandEvent},
    options::{ClientOptions, IndexOptions},
};

use crate::support::{
    ConsumerProcess, Spec, create_topics, events, name, produce, producer, services, wait_for_count,
};

/// A collection whose client records every command it sends.
async fn monitored(collection: &str) -> (Collection<Document>, Arc<Mutex<Vec<Document>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent);
    let mut options = ClientOptions::parse(services().mongodb_uri).await.unwrap();
    options.command_event_handler = Some(EventHandler::callback(move |event| {
        if let CommandEvent::Started(started) = event {
            record.lock().unwrap().push(started.command);
        }
    }));
    let client = Client::with_options(options).unwrap();
    let collection = client
        .database("eventflow_consumer_test")
        .collection(collection);
    (collection, sent)
}

/// The names of the commands sent since the last call, with their documents; forgets them.
fn taken(sent: &Mutex<Vec<Document>>) -> Vec<(String, Document)> {
    let mut sent = sent.lock().unwrap();
    let commands = sent
        .drain(..)
        .map(|c| (c.keys().next().cloned().unwrap_or_default(), c))
        .collect::<Vec<_>>();
    commands
        .into_iter()
        .filter(|(name, _)| name.ends_with("Indexes"))
        .collect()
}

/// A whole number, whichever integer type the server or driver chose.
fn number(document: &Document, field: &str) -> Option<i64> {
    let value = document.get(field)?;
    value.as_i64().or_else(|| value.as_i32().map(i64::from))
}

/// The TTL index as `listIndexes` reports it, if present.
async fn listed_ttl_index(collection: &Collection<Document>) -> Option<Document> {
    let answer = collection
        .client()
        .database("eventflow_consumer_test")
        .run_command(doc! { "listIndexes": collection.name() })
        .await
        .unwrap();
    let batch = answer
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap();
    batch
        .iter()
        .filter_map(|index| index.as_document())
        .find(|index| index.get_str("name") == Ok(TTL_INDEX))
        .cloned()
}

/// A TTL-named index without `expireAfterSeconds`, as an older TTL would have left one where
/// the server cannot make TTL indexes.
async fn stale_index(collection: &Collection<Document>) {
    let options = IndexOptions::builder().name(TTL_INDEX.to_owned()).build();
    let model = IndexModel::builder()
        .keys(doc! { "ingestedAt": 1 })
        .options(options)
        .build();
    collection.create_index(model).await.unwrap();
}

/// Asserts the index commands sent were `expected` (names), the `createIndexes` asking for
/// the TTL index of `seconds`, and that the outcome matches what `listIndexes` reports.
async fn assert_requested(
    collection: &Collection<Document>,
    sent: &Mutex<Vec<Document>>,
    (outcome, seconds): (&TtlIndex, i64),
    expected: &[&str],
) {
    let commands = taken(sent);
    let names: Vec<&str> = commands.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, expected);
    let create = &commands.last().unwrap().1;
    let index = create.get_array("indexes").unwrap()[0]
        .as_document()
        .unwrap();
    assert_eq!(
        index.get_document("key").unwrap(),
        &doc! { "ingestedAt": 1 }
    );
    assert_eq!(index.get_str("name").unwrap(), TTL_INDEX);
    assert_eq!(number(index, "expireAfterSeconds"), Some(seconds));
    let listed = listed_ttl_index(collection).await;
    match outcome {
        TtlIndex::Created(_) => {
            let listed = listed.expect("a created index is listed");
            assert_eq!(number(&listed, "expireAfterSeconds"), Some(seconds));
        }
        TtlIndex::Unsupported(reason) => {
            assert!(reason.contains("expireAfterSeconds"), "{reason}");
            assert_eq!(listed, None, "a refused index is not listed");
        }
        other => panic!("neither created nor refused: {other:?}"),
    }
}

#[tokio::test]
async fn the_ttl_index_is_requested_replaced_and_dropped_as_configured() {
    let (collection, sent) = monitored(&name("ttl_events")).await;
    collection.insert_one(doc! { "_id": "e1" }).await.unwrap();

    let outcome = ensure_ttl(&collection, Some(Duration::from_secs(90)))
        .await
        .unwrap();
    let listed_and_created = ["listIndexes", "createIndexes"];
    assert_requested(&collection, &sent, (&outcome, 90), &listed_and_created).await;

    // A different TTL finds the index by name, drops it and asks for the new one; 1500ms
    // counts as 2 s.
    stale_index(&collection).await;
    taken(&sent);
    let outcome = ensure_ttl(&collection, Some(Duration::from_millis(1500)))
        .await
        .unwrap();
    let replaced = ["listIndexes", "dropIndexes", "createIndexes"];
    assert_requested(&collection, &sent, (&outcome, 2), &replaced).await;

    // No TTL: the index goes.
    stale_index(&collection).await;
    taken(&sent);
    assert_eq!(
        ensure_ttl(&collection, None).await.unwrap(),
        TtlIndex::Dropped
    );
    let commands = taken(&sent);
    assert_eq!(commands[1].0, "dropIndexes");
    assert_eq!(commands[1].1.get_str("index").unwrap(), TTL_INDEX);
    assert_eq!(listed_ttl_index(&collection).await, None);
    assert_eq!(
        ensure_ttl(&collection, None).await.unwrap(),
        TtlIndex::Absent
    );
}

#[tokio::test]
async fn a_server_without_ttl_indexes_does_not_stop_the_consumer() {
    let topic = name("ttl");
    create_topics(&topic, 1).await;
    let mut spec = Spec::new(&topic, &name("ttl_consumer"));
    spec.extra = vec!["--mongodb-ttl".into(), "10080m".into()];
    let consumer = ConsumerProcess::spawn(&spec);
    consumer.wait_ready(Duration::from_secs(30)).await;
    produce(&producer(), &topic, &events("ttl", 0..20)).await;
    let stored = crate::support::collection(&services().mongodb_uri, &spec.collection).await;
    wait_for_count(&stored, 20, Duration::from_secs(30)).await;
    let log = consumer.log_text();
    consumer.kill();
    assert!(
        log.contains("TTL index"),
        "the consumer says what became of the TTL index:\n{log}"
    );
}
