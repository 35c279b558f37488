//! `cargo bench --bench soak` (run by `make bench`): the producer process under twice its
//! measured capacity for `EVENTFLOW_SOAK_DURATION` (default 10m) of mixed valid and invalid
//! requests, with a consumer process writing to MongoDB (both the release binaries from
//! `EVENTFLOW_BIN_DIR`, against the dev services).
//!
//! Prints: the capacity (single valid events, closed loop at 64 connections), the offered
//! rate (open loop: requests are sent on schedule whatever the answers), the answers by status,
//! p50/p99 of the accepted (202) requests, the producer's RSS before the overload, at the start
//! of the soak (after its first 30 s: connections open, buffers grown) and at the end, and
//! whether every 202'd id is in MongoDB exactly once: once the consumer's counter says it wrote
//! them all (or stopped writing for `STALL_LIMIT`), one scan counts the stored documents per `id`, so a loss
//! or a duplicate fails the bench.
#![expect(clippy::expect_used, reason = "a benchmark fails loudly on any error")]

#[path = "soak/load.rs"]
mod load;

use std::{
    collections::{BTreeMap, HashMap},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eventflow_contract::duration::parse as parse_duration;
use eventflow_workloads::{
    loadgen::{Plan, Workload, runner},
    testkit::{self, DevServices, unique_name},
};
use mongodb::bson::{Document, doc};

/// The soak's length unless `EVENTFLOW_SOAK_DURATION` says otherwise (e.g. `2m`).
const DEFAULT_DURATION: &str = "10m";
/// The offered load as a multiple of the measured capacity.
const OVERLOAD: f64 = 2.0;
const CAPACITY_CONNECTIONS: usize = 64;
const CAPACITY_RUN: Duration = Duration::from_secs(10);
/// The drain gives up when the consumer wrote nothing new for this long (a slow drain on a
/// loaded machine is not a loss; a stalled one may be).
const STALL_LIMIT: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 3;
const DATABASE: &str = "eventflow";

#[tokio::main]
async fn main() {
    let services = DevServices::from_env().expect("dev services (run through `make bench`)");
    let Ok(bin_dir) = std::env::var("EVENTFLOW_BIN_DIR") else {
        println!("soak: not run (needs the release binaries; run it with `make bench`)");
        return;
    };
    let duration =
        std::env::var("EVENTFLOW_SOAK_DURATION").unwrap_or_else(|_| DEFAULT_DURATION.to_owned());
    let duration = parse_duration(&duration).expect("EVENTFLOW_SOAK_DURATION");
    let topic = unique_name("soak");
    testkit::create_topic(&services.kafka_bootstrap, &topic, PARTITIONS)
        .await
        .expect("topic");
    let pipeline = Pipeline::start(&bin_dir, &services, &topic).await;
    println!(
        "soak: producer and consumer processes ({bin_dir}), topic {topic} ({PARTITIONS} partitions), collection {topic}, {} s",
        duration.as_secs()
    );
    let (capacity, mut acknowledged) = capacity(&pipeline.url).await;
    let rate = OVERLOAD * capacity;
    println!(
        "capacity: {capacity:.0} requests/s (single valid events, {CAPACITY_CONNECTIONS} connections, {} s); offering {rate:.0} requests/s ({OVERLOAD} ×), one in {} invalid",
        CAPACITY_RUN.as_secs(),
        load::INVALID_EVERY
    );
    let outcome = load::overload(&pipeline.url, rate, duration, &pipeline.producer_pid()).await;
    outcome.report(duration);
    acknowledged.extend(outcome.accepted_ids.iter().cloned());
    pipeline.drained(acknowledged.len() as f64).await;
    check_exactly_once(&services, &topic, &acknowledged).await;
}

/// Requests/s of single valid events at 64 connections; the ids it got accepted.
async fn capacity(url: &str) -> (f64, Vec<String>) {
    let plan = Plan {
        endpoint: format!("{url}/v1/events"),
        concurrency: CAPACITY_CONNECTIONS,
        rate: None,
        duration: Some(CAPACITY_RUN),
        count: None,
        batch: 1,
        workload: Workload::UserActivity,
        token: None,
        keep_ids: true,
        progress: false,
        prepared: None,
    };
    let (summary, ids) = runner::drive(plan).await.expect("capacity run");
    (summary.requests_per_s, ids)
}

/// Counts the stored documents per `id` (one scan): every acknowledged id must be there
/// exactly once, and nothing else.
async fn check_exactly_once(services: &DevServices, collection: &str, acknowledged: &[String]) {
    let client = mongodb::Client::with_uri_str(&services.mongodb_uri)
        .await
        .expect("client");
    let events = client.database(DATABASE).collection::<Document>(collection);
    let started = Instant::now();
    let mut stored: HashMap<String, u64> = HashMap::new();
    let mut cursor = events
        .find(doc! {})
        .projection(doc! {"id": 1})
        .await
        .expect("find");
    while cursor.advance().await.expect("cursor") {
        let id = cursor.current().get_str("id").expect("id").to_owned();
        *stored.entry(id).or_default() += 1;
    }
    let mut times_acknowledged: BTreeMap<&str, u64> = BTreeMap::new();
    for id in acknowledged {
        *times_acknowledged.entry(id).or_default() += 1;
    }
    let acknowledged_twice = times_acknowledged.values().filter(|n| **n > 1).count();
    let missing = times_acknowledged
        .keys()
        .filter(|id| !stored.contains_key(**id))
        .count();
    let stored_twice = stored.values().filter(|n| **n > 1).count();
    let unacknowledged = stored
        .keys()
        .filter(|id| !times_acknowledged.contains_key(id.as_str()))
        .count();
    println!(
        "exactly once: {} ids answered 202, {} documents stored ({:.1} s to scan); missing {missing}, stored twice {stored_twice}, 202'd twice {acknowledged_twice}, stored but never answered 202 {unacknowledged}: {}",
        times_acknowledged.len(),
        stored.values().sum::<u64>(),
        started.elapsed().as_secs_f64(),
        met_or_not(missing == 0 && stored_twice == 0 && acknowledged_twice == 0)
    );
    assert!(
        missing == 0 && stored_twice == 0 && acknowledged_twice == 0,
        "every 202 must be in MongoDB exactly once"
    );
}

/// How a report line says whether a goal was reached: `met` or `NOT met`.
fn met_or_not(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// A child process, stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The producer and a consumer of one topic and collection.
struct Pipeline {
    url: String,
    producer: Process,
    _consumer: Process,
    /// The consumer's `/metrics`.
    consumer_metrics: String,
}

impl Pipeline {
    async fn start(bin_dir: &str, services: &DevServices, topic: &str) -> Self {
        let free_port = || testkit::free_port().expect("free port").to_string();
        let (http, admin) = (free_port(), free_port());
        let common = [
            "--kafka-bootstrap",
            &services.kafka_bootstrap,
            "--mongodb-uri",
            &services.mongodb_uri,
            "--mongodb-database",
            DATABASE,
            "--mongodb-collection",
            topic,
            "--topic",
            topic,
            "--bind-address",
            "127.0.0.1",
        ];
        let spawn = |role: &str, extra: &[&str]| {
            Process(
                Command::new(format!("{bin_dir}/eventflow"))
                    .arg(role)
                    .args(common)
                    .args(extra)
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("the eventflow binary"),
            )
        };
        let producer = spawn("producer", &["--http-port", &http, "--admin-port", &admin]);
        let group = format!("{topic}-group");
        let consumer_admin = free_port();
        let consumer = spawn(
            "consumer",
            &["--group-id", &group, "--admin-port", &consumer_admin],
        );
        wait_ready(&format!("http://127.0.0.1:{admin}/readyz")).await;
        Self {
            url: format!("http://127.0.0.1:{http}"),
            producer,
            _consumer: consumer,
            consumer_metrics: format!("http://127.0.0.1:{consumer_admin}/metrics"),
        }
    }

    /// Waits until the consumer says it wrote `expected` documents, or wrote nothing new for
    /// [`STALL_LIMIT`], showing progress. The consumer's counter, not a count in MongoDB:
    /// counting millions of documents is a full scan on the MongoDB-wire dev server.
    async fn drained(&self, expected: f64) {
        let started = Instant::now();
        let (mut shown, mut moved) = (Instant::now(), Instant::now());
        let mut last = 0.0;
        loop {
            let written = self.written().await;
            if written > last {
                (last, moved) = (written, Instant::now());
            }
            let done = written >= expected;
            if done || moved.elapsed() >= STALL_LIMIT {
                let stalled = if done { "" } else { " (then stalled)" };
                println!(
                    "drain: the consumer wrote {written} of {expected} acknowledged events in {:.1} s{stalled}",
                    started.elapsed().as_secs_f64(),
                );
                return;
            }
            if shown.elapsed() >= Duration::from_secs(10) {
                println!("drain: {written} of {expected} written…");
                shown = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The consumer's `events_written_total`, over its labels (0 while it does not answer).
    async fn written(&self) -> f64 {
        let Ok(response) = reqwest::get(&self.consumer_metrics).await else {
            return 0.0;
        };
        let text = response.text().await.unwrap_or_default();
        testkit::metric_sum(&text, "eventflow_consumer_events_written_total", "")
    }

    fn producer_pid(&self) -> String {
        self.producer.0.id().to_string()
    }
}

async fn wait_ready(url: &str) {
    let started = Instant::now();
    while !reqwest::get(url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the producer is not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
