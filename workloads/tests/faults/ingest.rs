//! The broker killed (SIGKILL, then restarted on its port) or paused (SIGSTOP for longer than
//! the delivery timeout, then SIGCONT) under single-event HTTP ingest, with a consumer writing
//! to MongoDB. During the outage requests get 503 with `Retry-After`; a 202 only ever answers an
//! acknowledged event; afterwards the same producer process accepts again, and the time that
//! takes is measured.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{PrivateServices, Service, free_port};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use serde_json::{Value, json};

use crate::support::{ConsumerProcess, Kafka, Spec, collection, ids, name};

const PARTITIONS: i32 = 3;
const WORKERS: usize = 4;

/// An `eventflow producer` process, killed if the test ends early.
struct Producer {
    child: Child,
    url: String,
    admin: String,
}

impl Producer {
    fn spawn(services: &PrivateServices, topic: &str) -> Self {
        let (http, admin) = (free_port().unwrap(), free_port().unwrap());
        let child = Command::new(env!("CARGO_BIN_EXE_eventflow"))
            .args(["producer", "--topic", topic, "--bind-address", "127.0.0.1"])
            .args(["--http-port", &http.to_string()])
            .args(["--admin-port", &admin.to_string()])
            .args(["--kafka-bootstrap", &services.addresses.kafka_bootstrap])
            .args(["--mongodb-uri", &services.addresses.mongodb_uri])
            .args(["--delivery-timeout", "3s", "--request-timeout", "5s"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            url: format!("http://127.0.0.1:{http}/v1/events"),
            admin: format!("http://127.0.0.1:{admin}"),
        }
    }

    async fn wait_ready(&self) {
        super::wait_until_ready(&format!("{}/readyz", self.admin)).await;
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

/// One answered request.
#[derive(Debug, Clone)]
struct Outcome {
    id: String,
    status: u16,
    retry_after: bool,
}

/// Posts single events (ids `<worker>-<n>`) from `WORKERS` connections until `stop` is set.
fn drive(url: &str, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Outcome>> {
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (url, stop) = (url.to_owned(), Arc::clone(stop));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut outcomes = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("w{worker}-{n}");
                    let event = json!({"id": id, "type": "LOGIN", "subject": format!("user-{n}")});
                    let response = client
                        .post(&url)
                        .json(&event)
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    let (status, retry_after) = response.map_or((0, false), |r| {
                        (r.status().as_u16(), r.headers().contains_key("retry-after"))
                    });
                    outcomes.push(Outcome {
                        id,
                        status,
                        retry_after,
                    });
                    if status != 202 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                outcomes
            })
        })
        .collect();
    tokio::spawn(async move {
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.await.unwrap());
        }
        all
    })
}

/// How many times each event id is on the topic (read from the beginning to the end offsets).
fn ids_on_topic(kafka: &Kafka, topic: &str) -> BTreeMap<String, usize> {
    let consumer: BaseConsumer = kafka
        .config()
        .set("group.id", name("reader"))
        .create()
        .unwrap();
    let end = kafka.end_offsets(topic, PARTITIONS);
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let (mut counts, mut read) = (BTreeMap::new(), 0);
    let total: i64 = end.iter().sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < total {
        assert!(Instant::now() < deadline, "read {read} of {total} messages");
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.unwrap();
        let event: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        *counts
            .entry(event["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
        read += 1;
    }
    counts
}

/// Runs ingest through `fault` (which takes the broker away and returns the instant it was
/// back), then checks every answer against the topic and MongoDB; returns the time from the
/// broker being back to the first 202.
async fn ingest_through<F>(label: &str, fault: F) -> Duration
where
    F: AsyncFnOnce(&PrivateServices),
{
    let services = PrivateServices::start().expect("private dev services");
    let kafka = Kafka {
        bootstrap: services.addresses.kafka_bootstrap.clone(),
    };
    let topic = name(label);
    kafka.create_topics(&topic, PARTITIONS).await;
    let mut spec = Spec::new(&topic, &topic);
    spec.kafka_bootstrap.clone_from(&kafka.bootstrap);
    spec.mongodb_uri.clone_from(&services.addresses.mongodb_uri);
    let consumer = ConsumerProcess::spawn(&spec);
    let producer = Producer::spawn(&services, &topic);
    producer.wait_ready().await;
    consumer.wait_ready(Duration::from_secs(60)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = drive(&producer.url, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await;
    fault(&services).await;
    let back = Instant::now();
    let recovered = wait_for_a_202_after(&producer.url, back).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let outcomes = load.await.unwrap();
    check(&outcomes, &kafka, &topic, &spec).await;
    drop(producer);
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
    recovered
}

/// Polls with single requests until one is accepted; the time since `back`.
async fn wait_for_a_202_after(url: &str, back: Instant) -> Duration {
    let client = reqwest::Client::new();
    loop {
        let event = json!({"id": name("probe"), "type": "PROBE"});
        let status = client
            .post(url)
            .json(&event)
            .send()
            .await
            .map(|r| r.status());
        if status.as_ref().is_ok_and(|s| *s == 202) {
            return back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "no 202 within 60 s of the broker being back (last: {status:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check(outcomes: &[Outcome], kafka: &Kafka, topic: &str, spec: &Spec) {
    let statuses: BTreeSet<u16> = outcomes.iter().map(|o| o.status).collect();
    assert!(
        statuses.is_subset(&BTreeSet::from([202, 503])),
        "only 202 and 503 expected, got {statuses:?}"
    );
    let refused: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 503).collect();
    assert!(
        !refused.is_empty(),
        "the outage refused none of {} requests",
        outcomes.len()
    );
    assert!(
        refused.iter().all(|o| o.retry_after),
        "a 503 without Retry-After"
    );
    let accepted: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.status == 202)
        .map(|o| o.id.as_str())
        .collect();
    let sent: BTreeSet<&str> = outcomes.iter().map(|o| o.id.as_str()).collect();
    // Every 202 was acknowledged by Kafka, once: the idempotent producer wrote no duplicate
    // through the broker restart. A 503'd event may have been written too (its fate was not
    // known within the delivery timeout); it is then there once as well.
    let on_topic = ids_on_topic(kafka, topic);
    let twice: Vec<_> = on_topic.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "on the topic more than once: {twice:?}");
    let missing: Vec<_> = accepted
        .iter()
        .filter(|id| !on_topic.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered 202 but not on the topic: {missing:?}"
    );
    let stored = wait_for_ids(spec, &accepted).await;
    let foreign: Vec<_> = stored
        .iter()
        .filter(|id| !sent.contains(id.as_str()) && !id.starts_with("probe"))
        .collect();
    assert!(foreign.is_empty(), "stored but never sent: {foreign:?}");
    println!(
        "{} requests: {} accepted, {} refused with 503 + Retry-After; {} events stored once each",
        outcomes.len(),
        accepted.len(),
        refused.len(),
        stored.len()
    );
}

/// Waits until MongoDB holds every accepted id (each once); the ids stored.
async fn wait_for_ids(spec: &Spec, accepted: &BTreeSet<&str>) -> BTreeSet<String> {
    let stored = collection(&spec.mongodb_uri, &spec.collection).await;
    let start = Instant::now();
    loop {
        let ids = ids(&stored).await;
        let missing = accepted.iter().filter(|id| !ids.contains(**id)).count();
        if missing == 0 {
            return ids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{missing} accepted events not in MongoDB after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_and_restarted_during_ingest_loses_and_doubles_nothing() {
    let recovered = ingest_through("ingest-kill", async |services: &PrivateServices| {
        services.kill(Service::Kafka).unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        services.revive().unwrap();
    })
    .await;
    println!("first 202 {recovered:?} after the broker answered again");
    assert!(recovered < Duration::from_secs(30), "{recovered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_paused_past_the_delivery_timeout_loses_and_doubles_nothing() {
    let recovered = ingest_through("ingest-pause", async |services: &PrivateServices| {
        services.signal(Service::Kafka, "STOP").unwrap();
        tokio::time::sleep(Duration::from_secs(6)).await;
        services.signal(Service::Kafka, "CONT").unwrap();
    })
    .await;
    println!("first 202 {recovered:?} after SIGCONT");
    assert!(recovered < Duration::from_secs(30), "{recovered:?}");
}
