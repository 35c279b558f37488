//! Servers taken away under a running consumer, on private dev services (their own Kafka and
//! MongoDB, so other tests keep theirs): a MongoDB outage pauses fetching and commits nothing; a
//! broker restart resumes from the committed offsets. Every event ends in MongoDB, written once.

use std::time::{Duration, Instant};

use eventflow_workloads::testkit::{PrivateServices, Service};
use mongodb::{Collection, bson::Document};

use crate::support::{
    ConsumerProcess, Kafka, Spec, collection, events, ids, name, produce, wait_for_count,
};

pub fn private_services() -> (PrivateServices, Kafka) {
    let services = PrivateServices::start().expect("private dev services");
    let kafka = Kafka {
        bootstrap: services.addresses.kafka_bootstrap.clone(),
    };
    (services, kafka)
}

pub fn spec(services: &PrivateServices, topic: &str) -> Spec {
    let mut spec = Spec::new(topic, topic);
    spec.kafka_bootstrap
        .clone_from(&services.addresses.kafka_bootstrap);
    spec.mongodb_uri = format!(
        "{}&serverSelectionTimeoutMS=2000",
        services.addresses.mongodb_uri
    );
    spec.batch_size = 20;
    spec.batch_timeout = "200ms";
    spec
}

/// Every id of `prefixes` × 0..n, once.
fn expected(prefixes: &[(&str, usize)]) -> std::collections::BTreeSet<String> {
    prefixes
        .iter()
        .flat_map(|(prefix, n)| (0..*n).map(move |i| format!("{prefix}-{i}")))
        .collect()
}

/// Waits until MongoDB holds exactly the events of `prefixes` (each once) and the group
/// committed the end of the topic's `partitions`.
pub async fn settled(
    kafka: &Kafka,
    spec: &Spec,
    stored: &Collection<Document>,
    prefixes: &[(&str, usize)],
    partitions: i32,
    limit: Duration,
) {
    let expected = expected(prefixes);
    wait_for_count(stored, expected.len() as u64, limit).await;
    kafka
        .wait_committed_at_end(&spec.group, &spec.topic, partitions, limit)
        .await;
    assert_eq!(ids(stored).await, expected);
}

async fn wait_until_readyz(consumer: &ConsumerProcess, status: u16, limit: Duration) {
    let start = Instant::now();
    while consumer.readyz().await != status {
        assert!(
            start.elapsed() < limit,
            "readyz never answered {status} within {limit:?}; log:\n{}",
            consumer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A consumer on private services that consumed 100 events `before` (in MongoDB, committed).
pub struct Consuming {
    pub services: PrivateServices,
    kafka: Kafka,
    pub spec: Spec,
    pub consumer: ConsumerProcess,
    stored: Collection<Document>,
}

impl Consuming {
    pub async fn start(prefix: &str, extra: &[&str]) -> Self {
        let (services, kafka) = private_services();
        let topic = name(prefix);
        kafka.create_topics(&topic, 2).await;
        let mut spec = spec(&services, &topic);
        spec.extra = extra.iter().map(|&arg| arg.to_owned()).collect();
        let consumer = ConsumerProcess::spawn(&spec);
        consumer.wait_ready(Duration::from_secs(60)).await;
        produce(&kafka.producer(), &topic, &events("before", 0..100)).await;
        let stored = collection(&spec.mongodb_uri, &spec.collection).await;
        let before = [("before", 100)];
        settled(&kafka, &spec, &stored, &before, 2, Duration::from_secs(60)).await;
        Self {
            services,
            kafka,
            spec,
            consumer,
            stored,
        }
    }
}

#[tokio::test]
async fn a_mongodb_outage_pauses_commits_nothing_and_resumes_with_every_event_once() {
    // Two writes in flight: a failure must also take back the write behind it.
    let run = Consuming::start("outage", &["--max-writes-in-flight", "2"]).await;
    let topic = &run.spec.topic;
    let committed_before = run.kafka.committed(&run.spec.group, topic, 2);

    run.services.kill(Service::MongoDb).unwrap();
    produce(&run.kafka.producer(), topic, &events("during", 0..200)).await;
    wait_until_readyz(&run.consumer, 503, Duration::from_secs(20)).await;
    for _ in 0..10 {
        assert_eq!(
            run.kafka.committed(&run.spec.group, topic, 2),
            committed_before,
            "committed during the outage"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(
        run.consumer.metric("eventflow_consumer_paused", "").await,
        1
    );
    assert!(
        run.consumer
            .metric("eventflow_consumer_write_retries_total", "")
            .await
            >= 1
    );

    // Back on the same port with its data: the events before are still there.
    run.services.revive().unwrap();
    let all = [("before", 100), ("during", 200)];
    settled(
        &run.kafka,
        &run.spec,
        &run.stored,
        &all,
        2,
        Duration::from_secs(90),
    )
    .await;
    wait_until_readyz(&run.consumer, 200, Duration::from_secs(20)).await;
    assert_eq!(
        run.consumer.metric("eventflow_consumer_paused", "").await,
        0
    );
    assert!(
        run.consumer
            .terminate(Duration::from_secs(30))
            .await
            .success()
    );
}

#[tokio::test]
async fn a_broker_restart_during_consumption_resumes_from_the_committed_offsets() {
    let run = Consuming::start("broker-restart", &[]).await;
    // A warning at start (a transaction coordinator still loading) may have begun an outage
    // already; the broker's loss is a new one once that is over.
    let start = Instant::now();
    while outage_in_progress(&run.consumer.log_text()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the outage at start never ended; log:\n{}",
            run.consumer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let lost_before = run.consumer.log_text().matches("is failing").count();
    run.services.kill(Service::Kafka).unwrap();
    // The run.consumer saw the broker go (librdkafka reports the lost connection) before it returns.
    let start = Instant::now();
    while run.consumer.log_text().matches("is failing").count() == lost_before {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the run.consumer never noticed the broker was gone; log:\n{}",
            run.consumer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    run.services.revive().unwrap();
    produce(
        &run.kafka.producer(),
        &run.spec.topic,
        &events("after", 0..200),
    )
    .await;
    let all = [("before", 100), ("after", 200)];
    settled(
        &run.kafka,
        &run.spec,
        &run.stored,
        &all,
        2,
        Duration::from_secs(120),
    )
    .await;
    // Resumed where it had committed: nothing of before was read and written again.
    let duplicates = run
        .consumer
        .metric("eventflow_consumer_events_duplicate_total", "")
        .await;
    let inserted = run
        .consumer
        .metric("eventflow_consumer_events_written_total", "")
        .await;
    assert_eq!(
        (inserted, duplicates),
        (300, 0),
        "{}",
        run.consumer.log_text()
    );
    assert!(
        run.consumer
            .terminate(Duration::from_secs(30))
            .await
            .success()
    );
}

/// Whether the log's last outage line says a dependency is failing (no `works again` after it).
fn outage_in_progress(log: &str) -> bool {
    log.lines()
        .rfind(|line| line.contains("is failing") || line.contains("works again"))
        .is_some_and(|line| line.contains("is failing"))
}
