//! Consumer throughput against the dev services (`make bench`).
//!
//! 1. Ceiling: raw unordered `insert_many` of the consumer's documents into the dev MongoDB, in
//!    batches of the consumer's batch size, one after another (as the consumer writes).
//! 2. The `eventflow consumer` process draining a pre-filled topic into MongoDB, from its first
//!    write to its last (group join and start-up excluded), read from its `/metrics`.
//! 3. For context, the fetch ceiling: a bare librdkafka consumer reading the same topic.
//!
//! On two shared cores single runs swing (each round is printed), so the ceiling and the consumer run
//! alternate for several rounds (ceiling, consumer, ceiling, ...); each round's ratio uses the
//! mean of the ceilings just before and after it, and the median ratio is the result. Every
//! collection is dropped after its run, so the dev MongoDB-wire server (FerretDB over SQLite)
//! does not slow as it fills.
//!
//! Prints each round, the median ratio to the insert ceiling (goal >= 0.9), the consumer's
//! CPU time per event and its peak RSS (`VmHWM`).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use eventflow_workloads::{
    document::{ensure_indexes, to_document},
    event::{Event, IncomingEvent},
    testkit::{
        DevServices, Service, cpu_seconds, create_topic, free_port, median, metric_sum,
        peak_rss_kib, service_cpu, unique_name,
    },
};
use futures::future::try_join_all;
use mongodb::{Client, Collection, bson::Document};
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer},
    producer::{FutureProducer, FutureRecord},
};

const EVENTS: usize = 20_000;
const BATCH: usize = 100;
const PARTITIONS: i32 = 3;
const LIMIT: Duration = Duration::from_secs(60);
const ROUNDS: usize = 3;
const DATABASE: &str = "eventflow_bench";

fn event(i: usize) -> Event {
    let incoming: std::result::Result<IncomingEvent, _> = serde_json::from_value(
        serde_json::json!({
            "id": format!("bench-{i}"), "type": "PRODUCT_VIEW", "subject": format!("user-{}", i % 97),
            "data": {"userId": format!("user-{}", i % 97), "productId": i % 1000, "price": 19.99}
        }),
    );
    incoming.map_or_else(
        |_| unreachable!("a literal event"),
        |e| e.into_event(None, "bench"),
    )
}

async fn collection(uri: &str, name: &str) -> Result<Collection<Document>> {
    let collection = Client::with_uri_str(uri)
        .await?
        .database(DATABASE)
        .collection(name);
    ensure_indexes(&collection).await?;
    Ok(collection)
}

/// Docs/s of sequential unordered `insert_many` batches.
async fn raw_ceiling(uri: &str) -> Result<f64> {
    let collection = collection(uri, &unique_name("raw")).await?;
    let documents: Vec<_> = (0..EVENTS)
        .map(|i| to_document(&event(i), Some("user"), 0, i64::try_from(i).unwrap_or(0)))
        .collect();
    let start = Instant::now();
    for chunk in documents.chunks(BATCH) {
        collection.insert_many(chunk).ordered(false).await?;
    }
    let rate = EVENTS as f64 / start.elapsed().as_secs_f64();
    collection.drop().await?;
    Ok(rate)
}

async fn prefill(bootstrap: &str, topic: &str) -> Result<()> {
    create_topic(bootstrap, topic, PARTITIONS)
        .await
        .map_err(anyhow::Error::msg)?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let values: Vec<_> = (0..EVENTS).map(|i| event(i).to_json()).collect();
    for chunk in values.chunks(1000) {
        let sends = chunk.iter().enumerate().map(|(i, value)| {
            let key = format!("user-{}", i % 97);
            let producer = &producer;
            async move {
                let record = FutureRecord::to(topic).key(&key).payload(value);
                producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .map_err(|(e, _)| anyhow::anyhow!("produce: {e}"))
            }
        });
        try_join_all(sends).await?;
    }
    Ok(())
}

/// Messages/s of a bare consumer reading the whole topic (no decoding, no writes).
fn fetch_ceiling(bootstrap: &str, topic: &str) -> Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("bench_fetch"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    let (mut read, mut first) = (0, None);
    let start = Instant::now();
    while read < EVENTS {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            message?;
            first.get_or_insert_with(Instant::now);
            read += 1;
        }
        if start.elapsed() > LIMIT {
            bail!("read only {read} of {EVENTS} messages in {LIMIT:?}");
        }
    }
    let elapsed = first.context("no message")?.elapsed().as_secs_f64();
    Ok(EVENTS as f64 / elapsed)
}

fn spawn_consumer(services: &DevServices, topic: &str, port: u16) -> Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_eventflow"))
        .arg("consumer")
        .args(["--kafka-bootstrap", &services.kafka_bootstrap])
        .args(["--mongodb-uri", &services.mongodb_uri])
        .args([
            "--mongodb-database",
            DATABASE,
            "--mongodb-collection",
            topic,
        ])
        .args(["--topic", topic, "--group-id", topic])
        .args(["--batch-size", &BATCH.to_string(), "--batch-timeout", "1s"])
        .args([
            "--admin-port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// The sum of the samples of one metric of the consumer (0 while it does not answer).
async fn metric(port: u16, name: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return 0.0;
    };
    metric_sum(&response.text().await.unwrap_or_default(), name, "")
}

async fn written(port: u16) -> f64 {
    metric(port, "eventflow_consumer_events_written_total").await
}

/// What the consumer process did.
struct Run {
    /// Events/s from its first write to the last event.
    rate: f64,
    /// Peak RSS in kB.
    peak_kb: u64,
    /// CPU seconds (user + system) over the whole run.
    cpu_seconds: f64,
    /// Mean duration of one `insert_many`, in seconds.
    write_mean: f64,
}

async fn consumer_rate(services: &DevServices, topic: &str) -> Result<Run> {
    let port = free_port()?;
    let mut child = spawn_consumer(services, topic, port)?;
    let start = Instant::now();
    let (mut first, mut at_first) = (None, 0.0);
    loop {
        let now = written(port).await;
        if first.is_none() && now > 0.0 {
            (first, at_first) = (Some(Instant::now()), now);
        }
        if now >= EVENTS as f64 {
            break;
        }
        if start.elapsed() > LIMIT {
            child.kill()?;
            bail!("the consumer wrote only {now} of {EVENTS} events in {LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = first.context("no write observed")?.elapsed().as_secs_f64();
    let write_mean = metric(port, "eventflow_consumer_write_duration_seconds_sum").await
        / metric(port, "eventflow_consumer_write_duration_seconds_count").await;
    let peak_kb = peak_rss_kib(&child.id().to_string()).context("no VmHWM")?;
    let cpu_seconds = cpu_seconds(child.id()).context("no CPU time")?;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(Run {
        rate: (EVENTS as f64 - at_first) / elapsed,
        peak_kb,
        cpu_seconds,
        write_mean,
    })
}

/// Share of a core each dev service used since `start` (CPU seconds at `start` given).
fn service_load(start: Instant, at_start: &[Option<f64>; 2]) -> String {
    let wall = start.elapsed().as_secs_f64();
    let share = |now: Option<f64>, then: Option<f64>| {
        now.zip(then).map_or_else(
            || "?".to_owned(),
            |(n, t)| format!("{:.0}%", (n - t) * 100.0 / wall),
        )
    };
    format!(
        "broker {}, mongodb {}",
        share(service_cpu(Service::Kafka), at_start[0]),
        share(service_cpu(Service::MongoDb), at_start[1])
    )
}

fn services_cpu() -> [Option<f64>; 2] {
    [service_cpu(Service::Kafka), service_cpu(Service::MongoDb)]
}

/// One round: a fresh pre-filled topic drained by the consumer, then its collection dropped.
async fn consumer_round(services: &DevServices, round: usize) -> Result<(Run, String)> {
    let topic = unique_name("bench_consume");
    let fill = Instant::now();
    prefill(&services.kafka_bootstrap, &topic).await?;
    println!(
        "consume/prefill: {EVENTS} events in {:.1}s",
        fill.elapsed().as_secs_f64()
    );
    if round == 0 {
        let fetch = fetch_ceiling(&services.kafka_bootstrap, &topic)?;
        println!(
            "consume/raw_fetch: {fetch:.0} messages/s (bare librdkafka consumer, for context)"
        );
    }
    let (start, cpu) = (Instant::now(), services_cpu());
    let run = consumer_rate(services, &topic).await?;
    let load = service_load(start, &cpu);
    collection(&services.mongodb_uri, &topic)
        .await?
        .drop()
        .await?;
    Ok((run, load))
}

#[tokio::main]
async fn main() -> Result<()> {
    let services = DevServices::from_env().map_err(anyhow::Error::msg)?;
    let (start, cpu) = (Instant::now(), services_cpu());
    let mut ceiling = raw_ceiling(&services.mongodb_uri).await?;
    let raw_load = service_load(start, &cpu);
    println!("consume/raw_insert_many: {ceiling:.0} docs/s ({EVENTS} docs, batches of {BATCH})");
    let (mut ratios, mut runs, mut ceilings) = (Vec::new(), Vec::new(), vec![ceiling]);
    for round in 0..ROUNDS {
        let (run, run_load) = consumer_round(&services, round).await?;
        let after = raw_ceiling(&services.mongodb_uri).await?;
        let ratio = run.rate / f64::midpoint(ceiling, after);
        println!(
            "consume/round {}: end to end {:.0} events/s (batch {BATCH}, {PARTITIONS} partitions), raw insert_many after {after:.0} docs/s, ratio {ratio:.2}; service CPU: {run_load}",
            round + 1,
            run.rate
        );
        ceiling = after;
        ceilings.push(after);
        ratios.push(ratio);
        runs.push(run);
    }
    let rates: Vec<f64> = runs.iter().map(|r| r.rate).collect();
    println!(
        "consume/end_to_end: {:.0} events/s median; raw insert_many {:.0} docs/s median",
        median(&mut rates.clone()),
        median(&mut ceilings)
    );
    println!(
        "consume/ratio: {:.2} of raw insert_many, median of {ROUNDS} rounds (goal >= 0.90)",
        median(&mut ratios)
    );
    let count = runs.len() as f64;
    let write_mean = runs.iter().map(|r| r.write_mean).sum::<f64>() / count;
    println!(
        "consume/write_latency: {:.1} ms per insert_many in the consumer, {:.1} ms raw",
        write_mean * 1e3,
        BATCH as f64 * 1e3 / median(&mut ceilings)
    );
    println!("consume/service_cpu: during the first raw insert_many {raw_load}");
    let cpu = runs.iter().map(|r| r.cpu_seconds).sum::<f64>() / count;
    println!(
        "consume/cpu: {:.0} us per event (consumer process, whole run, mean of rounds)",
        cpu * 1e6 / EVENTS as f64
    );
    let peak_kb = runs.iter().map(|r| r.peak_kb).max().unwrap_or(0);
    println!(
        "consume/peak_rss: {:.1} MiB (VmHWM, highest of rounds)",
        peak_kb as f64 / 1024.0
    );
    Ok(())
}
