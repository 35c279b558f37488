//! A consumer group through a long MongoDB outage with rebalances: partitions assigned meanwhile
//! stay paused, and every event is stored once when MongoDB returns.

use std::time::{Duration, Instant};

use eventflow_workloads::testkit::{PrivateServices, Service};

use crate::{
    consume::{private_services, settled, spec},
    support::{ConsumerProcess, Kafka, Spec, collection, events, name, produce},
};

const PARTITIONS: i32 = 4;

async fn metric(consumer: &ConsumerProcess, name: &str) -> i64 {
    consumer.metric(name, "").await
}

/// Waits until `check` holds for the consumers' metric values; fails after 90 s.
async fn wait_for(
    consumers: &[&ConsumerProcess],
    metric_name: &str,
    what: &str,
    check: impl Fn(&[i64]) -> bool,
) {
    let start = Instant::now();
    loop {
        let mut values = Vec::new();
        for consumer in consumers {
            values.push(metric(consumer, metric_name).await);
        }
        if check(&values) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{what}: {metric_name} {values:?}; last log:\n{}",
            consumers.last().map(|c| c.log_text()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the consumers share all partitions, each holding one at least.
async fn wait_shared(consumers: &[&ConsumerProcess]) {
    wait_for(
        consumers,
        "eventflow_consumer_assigned_partitions",
        "partitions not shared",
        |held| held.iter().all(|&n| n > 0) && held.iter().sum::<i64>() == i64::from(PARTITIONS),
    )
    .await;
}

async fn wait_paused(consumers: &[&ConsumerProcess]) {
    wait_for(
        consumers,
        "eventflow_consumer_paused",
        "not paused",
        |paused| paused.iter().all(|&p| p == 1),
    )
    .await;
}

/// Private services, the topic and the consumers' spec.
async fn group(prefix: &str, batch_size: usize) -> (PrivateServices, Kafka, Spec) {
    let (services, kafka) = private_services();
    let topic = name(prefix);
    kafka.create_topics(&topic, PARTITIONS).await;
    let mut spec = spec(&services, &topic);
    spec.batch_size = batch_size;
    // A revocation during the outage gives its batch up soon (it is read again), well within
    // the rebalance timeout.
    spec.extra = vec!["--shutdown-timeout".into(), "2s".into()];
    (services, kafka, spec)
}

fn spawn(spec: &Spec, members: usize) -> Vec<ConsumerProcess> {
    (0..members).map(|_| ConsumerProcess::spawn(spec)).collect()
}

#[tokio::test]
async fn partitions_assigned_during_a_mongodb_outage_are_paused_on_assignment() {
    let (services, kafka, spec) = group("paused-on-assign", 20).await;
    let mut members = spawn(&spec, 2);
    let second = members.pop().unwrap();
    let first = members.pop().unwrap();
    first.wait_ready(Duration::from_secs(60)).await;
    wait_shared(&[&first, &second]).await;

    services.kill(Service::MongoDb).unwrap();
    produce(&kafka.producer(), &spec.topic, &events("during", 0..400)).await;
    wait_paused(&[&first, &second]).await;
    let consumed = "eventflow_consumer_events_consumed_total";
    let before = metric(&first, consumed).await;
    // The second's partitions, with events it never committed, go to the first.
    second.kill();
    wait_for(
        &[&first],
        "eventflow_consumer_assigned_partitions",
        "the survivor never held every partition",
        |held| held == [i64::from(PARTITIONS)],
    )
    .await;
    // Several retries long: nothing is fetched while writes fail, old partitions or new.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let now = (
            metric(&first, consumed).await,
            metric(&first, "eventflow_consumer_paused").await,
        );
        assert_eq!(
            now,
            (before, 1),
            "(consumed, paused): the survivor fetched during the outage; log:\n{}",
            first.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    services.revive().unwrap();
    let stored = collection(&spec.mongodb_uri, &spec.collection).await;
    let all = [("during", 400)];
    settled(
        &kafka,
        &spec,
        &stored,
        &all,
        PARTITIONS,
        Duration::from_secs(90),
    )
    .await;
    assert!(first.terminate(Duration::from_secs(30)).await.success());
}
