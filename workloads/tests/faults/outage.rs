//! A consumer group through a long MongoDB outage with rebalances: partitions assigned meanwhile
//! stay paused, the survivors' memory stays flat under the documented bound, and every event is
//! stored once when MongoDB returns.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{PrivateServices, Service, rss_kib};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

use crate::{
    consume::{private_services, settled, spec},
    support::{
        ConsumerProcess, Kafka, Outgoing, Spec, collection, event_json_with, events, name, produce,
    },
};

const PARTITIONS: i32 = 4;
/// The resident memory a consumer may add during an outage with the default prefetch, batch
/// size (100) and writes in flight (1): librdkafka's queue and one fetch response (2 MiB), two
/// batches of 4 KiB events (about 2.4 MiB decoded) and the allocator's slack
/// (docs/consumer-memory.md).
const BOUND_KIB: u64 = 10 * 1024;
/// How much more a paused consumer may hold after rebalances hand it more partitions: they are
/// paused on assignment, so at most allocator noise.
const FLAT_KIB: u64 = 4 * 1024;

/// Events of about `bytes` each (the data padded), for tests of memory.
fn padded_events(prefix: &str, range: std::ops::Range<usize>, bytes: usize) -> Vec<Outgoing> {
    let padding = "x".repeat(bytes);
    range
        .map(|i| {
            let (id, user) = (format!("{prefix}-{i}"), format!("user-{}", i % 7));
            let data = json!({"userId": user, "padding": padding});
            Outgoing {
                value: event_json_with(&id, "LOGIN", &user, &data),
                key: user,
                headers: Vec::new(),
            }
        })
        .collect()
}

/// Produces the messages many at a time (each acknowledged), for volumes `produce` is too slow for.
async fn produce_many(producer: &FutureProducer, topic: &str, messages: &[Outgoing]) {
    for chunk in messages.chunks(500) {
        let sends = chunk.iter().map(|message| {
            let record = FutureRecord::to(topic)
                .key(&message.key)
                .payload(&message.value);
            producer.send(record, Duration::from_secs(10))
        });
        for sent in futures::future::join_all(sends).await {
            sent.expect("acknowledged");
        }
    }
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
            values.push(consumer.metric(metric_name, "").await);
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
    let before = first.metric(consumed, "").await;
    // The second's partitions, with events it never committed, go to the first.
    second.kill();
    wait_for(
        &[&first],
        "eventflow_consumer_assigned_partitions",
        "the survivor never held every partition",
        |held| held == [i64::from(PARTITIONS)],
    )
    .await;
    assert!(
        first.log_text().contains("paused on assignment"),
        "the survivor did not pause the partitions it was assigned; log:\n{}",
        first.log_text()
    );
    // Several retries long: nothing is fetched while writes fail, old partitions or new.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let now = (
            first.metric(consumed, "").await,
            first.metric("eventflow_consumer_paused", "").await,
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

/// Samples the resident memory of processes every 200 ms until stopped.
struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<BTreeMap<u32, Vec<u64>>>,
}

impl RssWatch {
    fn start(pids: Vec<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
            while !stopped.load(Ordering::SeqCst) {
                for &pid in &pids {
                    // None once the process is gone: its series ends there.
                    if let Some(rss) = rss_kib(&pid.to_string()) {
                        samples.entry(pid).or_default().push(rss);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            samples
        });
        Self { stop, thread }
    }

    /// The samples (KiB) per PID.
    fn stop(self) -> BTreeMap<u32, Vec<u64>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

#[tokio::test]
async fn consumers_memory_stays_flat_through_a_mongodb_outage_and_rebalances() {
    let (services, kafka, spec) = group("outage-memory", 100).await;
    let mut members = spawn(&spec, 4);
    for member in &members {
        member.wait_ready(Duration::from_secs(60)).await;
    }
    wait_shared(&members.iter().collect::<Vec<_>>()).await;
    let stored = collection(&spec.mongodb_uri, &spec.collection).await;
    let producer = kafka.producer();
    // Enough to run full fetches and batches: the footprint before the outage is a working
    // consumer's.
    produce_many(
        &producer,
        &spec.topic,
        &padded_events("warm", 0..2000, 4000),
    )
    .await;
    let warm = [("warm", 2000)];
    settled(
        &kafka,
        &spec,
        &stored,
        &warm,
        PARTITIONS,
        Duration::from_secs(60),
    )
    .await;

    let mut leaving = members.split_off(2);
    let pids: Vec<u32> = members.iter().map(|m| m.child.id()).collect();
    let baseline: Vec<u64> = pids
        .iter()
        .map(|pid| rss_kib(&pid.to_string()).unwrap())
        .collect();
    services.kill(Service::MongoDb).unwrap();
    let watch = RssWatch::start(pids.clone());
    // About 48 MB waiting in Kafka, far more than the bound.
    produce_many(
        &producer,
        &spec.topic,
        &padded_events("during", 0..12_000, 4000),
    )
    .await;
    wait_paused(&members.iter().chain(&leaving).collect::<Vec<_>>()).await;
    let paused = watch.stop();
    // Two rebalances, each handing the survivors partitions with events never committed. (A
    // consumer started now would not join: it waits for MongoDB before subscribing.)
    let watch = RssWatch::start(pids.clone());
    while let Some(member) = leaving.pop() {
        member.kill();
        wait_shared(&members.iter().chain(&leaving).collect::<Vec<_>>()).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rebalanced = watch.stop();

    let peak = |series: Option<&Vec<u64>>| series.and_then(|s| s.iter().max().copied());
    for (pid, base) in pids.iter().zip(&baseline) {
        let paused_peak = peak(paused.get(pid)).unwrap_or(*base);
        let rebalanced_peak = peak(rebalanced.get(pid)).unwrap_or_default();
        eprintln!(
            "consumer {pid}: RSS {base} KiB before the outage, peak {paused_peak} KiB until paused, {rebalanced_peak} KiB through the rebalances (bound +{BOUND_KIB} KiB, flat within {FLAT_KIB} KiB)"
        );
        assert!(
            paused_peak.max(rebalanced_peak) <= base + BOUND_KIB,
            "consumer {pid}: RSS grew from {base} KiB to {} KiB during the outage (bound +{BOUND_KIB} KiB): {:?} then {:?}",
            paused_peak.max(rebalanced_peak),
            paused.get(pid),
            rebalanced.get(pid)
        );
        assert!(
            rebalanced_peak <= paused_peak + FLAT_KIB,
            "consumer {pid}: RSS grew through the rebalances from {paused_peak} KiB to {rebalanced_peak} KiB (flat within {FLAT_KIB} KiB): {:?}",
            rebalanced.get(pid)
        );
    }

    services.revive().unwrap();
    let all = [("warm", 2000), ("during", 12_000)];
    settled(
        &kafka,
        &spec,
        &stored,
        &all,
        PARTITIONS,
        Duration::from_secs(240),
    )
    .await;
    for member in members {
        assert!(member.terminate(Duration::from_secs(30)).await.success());
    }
}
