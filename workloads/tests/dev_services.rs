//! The dev services are real: the crates the product uses talk to them as to Kafka and MongoDB.
#![expect(
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use eventflow_workloads::testkit::{DevServices, create_topic, unique_name};
use mongodb::{
    Client,
    bson::{Document, doc},
    error::{ErrorKind, InsertManyError},
    options::InsertManyOptions,
};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn services() -> DevServices {
    DevServices::from_env().expect("dev services")
}

fn kafka_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

#[tokio::test]
async fn kafka_round_trip_gives_exact_lag_from_committed_offsets() {
    let bootstrap = services().kafka_bootstrap;
    let topic = unique_name("devsvc");
    create_topic(&bootstrap, &topic, 2).await.unwrap();

    let producer: FutureProducer = kafka_config(&bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    for i in 0..10 {
        let key = format!("user-{}", i % 2);
        let payload = format!("{{\"n\":{i}}}");
        let record = FutureRecord::to(&topic)
            .key(&key)
            .payload(&payload)
            .partition(i % 2);
        producer.send(record, TIMEOUT).await.expect("acknowledged");
    }

    let group = unique_name("devsvc-group");
    let consumer: StreamConsumer = kafka_config(&bootstrap)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut read = Vec::new();
    while read.len() < 6 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a message within 30 s")
            .unwrap();
        read.push((
            message.partition(),
            message.offset(),
            message.key().map(<[u8]>::to_vec),
        ));
    }
    // Commit exactly three messages of partition 0 and one of partition 1.
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(&topic, 0, Offset::Offset(3))
        .unwrap();
    commit
        .add_partition_offset(&topic, 1, Offset::Offset(1))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).unwrap();
    assert!(
        read.iter()
            .all(|(p, _, key)| key.as_deref() == Some(format!("user-{p}").as_bytes()))
    );

    let committed = consumer.committed(TIMEOUT).unwrap();
    let mut lag = 0;
    for element in committed.elements_for_topic(&topic) {
        let (_, high) = consumer
            .fetch_watermarks(&topic, element.partition(), TIMEOUT)
            .unwrap();
        assert_eq!(
            high,
            5,
            "five messages on partition {}",
            element.partition()
        );
        let Offset::Offset(offset) = element.offset() else {
            panic!("partition {} has no committed offset", element.partition())
        };
        lag += high - offset;
    }
    assert_eq!(lag, (5 - 3) + (5 - 1));
}

#[tokio::test]
async fn mongodb_unordered_insert_many_skips_duplicates_and_finds_by_filter() {
    let client = Client::with_uri_str(services().mongodb_uri).await.unwrap();
    let collection = client
        .database("eventflow_test")
        .collection::<Document>(&unique_name("devsvc"));
    collection
        .insert_one(doc! { "_id": "a", "type": "LOGIN" })
        .await
        .unwrap();

    let batch = vec![
        doc! { "_id": "a", "type": "LOGIN" },
        doc! { "_id": "b", "type": "LOGOUT" },
        doc! { "_id": "c", "type": "LOGIN" },
    ];
    let error = collection
        .insert_many(batch)
        .with_options(InsertManyOptions::builder().ordered(false).build())
        .await
        .expect_err("the duplicate _id is rejected");
    let ErrorKind::InsertMany(InsertManyError { write_errors, .. }) = *error.kind else {
        panic!("expected an InsertMany error, got {error}")
    };
    let codes: Vec<i32> = write_errors.unwrap().iter().map(|e| e.code).collect();
    assert_eq!(codes, vec![11000]);

    assert_eq!(collection.count_documents(doc! {}).await.unwrap(), 3);
    let mut logins = Vec::new();
    let mut cursor = collection.find(doc! { "type": "LOGIN" }).await.unwrap();
    while cursor.advance().await.unwrap() {
        logins.push(cursor.current().get_str("_id").unwrap().to_owned());
    }
    logins.sort();
    assert_eq!(logins, vec!["a", "c"]);
}

#[tokio::test]
async fn mongodb_accepts_every_write_concern_the_consumer_sends() {
    use mongodb::options::{Acknowledgment, CollectionOptions, WriteConcern};
    let client = Client::with_uri_str(services().mongodb_uri).await.unwrap();
    let database = client.database(&unique_name("devsvc_wc"));
    // (w, journal): the consumer's default and the overrides a pipeline may set.
    let concerns = [
        (Acknowledgment::Majority, true),
        (Acknowledgment::Majority, false),
        (Acknowledgment::Nodes(1), true),
        (Acknowledgment::Nodes(1), false),
    ];
    for (index, (w, journal)) in concerns.into_iter().enumerate() {
        let concern = WriteConcern::builder()
            .w(w.clone())
            .journal(journal)
            .build();
        let options = CollectionOptions::builder().write_concern(concern).build();
        let collection = database.collection_with_options::<Document>("events", options);
        let id = i64::try_from(index).expect("small");
        collection
            .insert_many([doc! {"_id": id}])
            .ordered(false)
            .await
            .unwrap_or_else(|error| panic!("w {w:?} journal {journal}: {error}"));
    }
    let stored = database
        .collection::<Document>("events")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(stored, 4);
}
