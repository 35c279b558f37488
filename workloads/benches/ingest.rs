//! `cargo bench --bench ingest` (run by `make bench` with the dev services up): the ingest API
//! against the raw produce ceiling of the same broker.
//!
//! Prints: raw rdkafka produce rate (acks=all, idempotent, as the producer configures it, of
//! the records the producer writes: same keys, headers and JSON events), sustained for as long
//! as a batched round, with the broker's own 20,000 in flight and with the batched runs' 1,600;
//! raw keyed single sends at 50 concurrent (the broker's own latency) in rounds alternating with
//! ingest of single-event requests at 50 connections (p99 of each, median p99s and their
//! ratio), with the producer's mean request time split into its own work and the wait for
//! Kafka's acknowledgement (from its `/metrics`); batched
//! requests in rounds alternating with the ceiling at the same events in flight (events/s,
//! p50/p99, share of the ceiling, median share), each round next to raw records sent in the
//! batched runs' shape without HTTP (what waiting for whole requests costs, apart from HTTP);
//! and the producer's peak RSS (`VmHWM`). Every ceiling and batched round also prints where its
//! CPU went (`cpu.rs`): how busy the machine's cores were, and the broker's, the producer's and
//! this process's CPU per 1k events. The producer is the release binary from
//! `EVENTFLOW_BIN_DIR` when set, else the router served in-process.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark fails loudly on any error"
)]

#[path = "ingest/cpu.rs"]
mod cpu;
#[path = "../tests/producer_support/mod.rs"]
pub mod producer_support;
#[path = "ingest/whole_pipeline.rs"]
mod whole_pipeline;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use cpu::CpuAccount;
use eventflow_workloads::{
    event::IncomingEvent,
    loadgen::{Plan, Summary, Workload, runner, summary::Latency},
    producer::kafka::headers,
    testkit::{self, DevServices, median, metric_sum, unique_name},
};
use futures::{StreamExt, future::join_all, stream::FuturesUnordered};
use producer_support::create_topic;
use rdkafka::{
    ClientConfig,
    message::Header,
    producer::{FutureProducer, FutureRecord},
};

/// Raw records unacknowledged at once in the broker's own ceiling, printed for context.
const BROKER_IN_FLIGHT: usize = 20_000;
/// Events per batched request.
const BATCH: usize = 100;
/// Raw records unacknowledged at once in the ceiling the batched runs are compared with: as
/// many as the batched runs have in flight, so both send the same records at the same
/// concurrency and differ only in the HTTP path.
const CEILING_IN_FLIGHT: usize = BATCHED_CONNECTIONS * BATCH;
/// Distinct records the raw runs cycle through.
const SAMPLES: usize = 20_000;
const ROUND_RUN: Duration = Duration::from_secs(5);
const ROUNDS: usize = 5;
/// Rounds of the single-event comparison: a p99 swings more than a rate.
const SINGLE_ROUNDS: usize = 5;
/// Length of each single-event round, HTTP and raw alike: long enough that the broker's
/// occasional stalls (a GC pause, a log roll) fall into every round rather than into a few.
const SINGLE_ROUND_RUN: Duration = Duration::from_secs(10);
/// Connections of the batched runs: 1,600 events in flight.
const BATCHED_CONNECTIONS: usize = 16;
const PARTITIONS: i32 = 3;

#[tokio::main]
async fn main() {
    let services = DevServices::from_env().expect("dev services (run through `make bench`)");
    let topic = unique_name("bench-ingest");
    create_topic(&services.kafka_bootstrap, &topic, PARTITIONS).await;

    println!("ingest benchmark (topic {topic}, {PARTITIONS} partitions)");
    let producer = ProducerUnderTest::start(&services, &topic).await;
    // Single runs swing on two shared cores: each ingest run is compared with a ceiling
    // measured next to it.
    let ceiling = measure_ceiling(&services.kafka_bootstrap, &topic, BROKER_IN_FLIGHT).await;
    header_cost(&services.kafka_bootstrap, &topic, ceiling).await;
    let before = producer.timings().await;
    let single = single_rounds(&services.kafka_bootstrap, &topic, &producer.url, ceiling).await;
    let own_ms = inside(before, producer.timings().await);
    let batched_share = batched_rounds(&services.kafka_bootstrap, &topic, &producer).await;
    println!(
        "peak RSS of {}: {:.1} MiB",
        producer.what(),
        producer.peak_rss_kib() as f64 / 1024.0
    );
    println!(
        "goals: batched >= 85% of ceiling: {}; single-event p99 <= 1.2 × raw p99: {}; producer's own share < 0.1 ms: {}",
        verdict(batched_share >= 0.85),
        verdict(single.p99_ms <= 1.2 * single.raw_p99_ms),
        own_ms.map_or("not measured (in-process)", |own| verdict(own < 0.1))
    );
    whole_pipeline::run(&services, single.raw_p99_ms).await;
}

/// Median p99s of the single-event rounds.
struct SingleEvents {
    p99_ms: f64,
    raw_p99_ms: f64,
}

/// Single-event requests at 50 connections against raw single sends of the same records at the
/// same concurrency. A p99 is the slowest 1% of a few seconds on two shared cores: rounds of the
/// two alternate, each as long as the other, every figure is printed, and the result is the
/// median HTTP p99 over the median raw p99.
async fn single_rounds(bootstrap: &str, topic: &str, url: &str, ceiling: f64) -> SingleEvents {
    let (mut raw_p99s, mut p99s) = (Vec::new(), Vec::new());
    for round in 1..=SINGLE_ROUNDS {
        let (rate, raw) = raw_latency(bootstrap, topic).await;
        println!(
            "raw rdkafka single sends, 50 concurrent, round {round}: {rate:.0} events/s, p50 {:.2} ms, p99 {:.2} ms",
            raw.p50_ms, raw.p99_ms
        );
        let single = load(url, 50, 1, SINGLE_ROUND_RUN).await;
        report(
            &format!("single-event requests, 50 connections, round {round}"),
            &single,
            ceiling,
        );
        println!(
            "  p99 {:.2} × the raw single sends' p99",
            single.latency.p99_ms / raw.p99_ms
        );
        raw_p99s.push(raw.p99_ms);
        p99s.push(single.latency.p99_ms);
    }
    let single = SingleEvents {
        p99_ms: median(&mut p99s),
        raw_p99_ms: median(&mut raw_p99s),
    };
    println!(
        "single events: median p99 {:.2} ms against the raw sends' median p99 {:.2} ms: {:.2} × ({SINGLE_ROUNDS} rounds)",
        single.p99_ms,
        single.raw_p99_ms,
        single.p99_ms / single.raw_p99_ms
    );
    single
}

/// Batched ingest against the ceiling. Both swing from one run to the next on two shared
/// cores, so ceiling and batched runs alternate, every figure is printed, and the result is
/// the median batched rate over the median ceiling. Each round also sends raw records in the
/// batched runs' shape, without HTTP ([`raw_requests`]), which splits the gap to the ceiling
/// into the request shape's part and the HTTP path's.
async fn batched_rounds(bootstrap: &str, topic: &str, producer: &ProducerUnderTest) -> f64 {
    let mut ceilings = vec![measure_ceiling(bootstrap, topic, CEILING_IN_FLIGHT).await];
    let (mut rates, mut shaped) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let raw = raw_requests(bootstrap, topic).await;
        println!(
            "raw rdkafka in requests of {BATCH} records awaited together, {BATCHED_CONNECTIONS} at once (the batched runs' shape without HTTP), round {round}: {raw:.0} events/s, {:.0}% of ceiling",
            100.0 * raw / ceilings.last().copied().unwrap_or(f64::NAN)
        );
        shaped.push(raw);
        let timings_before = producer.timings().await;
        let account = CpuAccount::now(producer.pid());
        let batched = load(&producer.url, BATCHED_CONNECTIONS, BATCH, ROUND_RUN).await;
        let cpu = account.since(batched.events_accepted);
        let timings_after = producer.timings().await;
        let last = ceilings.last().copied().unwrap_or(f64::NAN);
        report(
            &format!(
                "batched requests ({BATCH} events), {BATCHED_CONNECTIONS} connections, round {round}"
            ),
            &batched,
            last,
        );
        println!("  {cpu}");
        inside(timings_before, timings_after);
        rates.push(batched.events_per_s);
        ceilings.push(measure_ceiling(bootstrap, topic, CEILING_IN_FLIGHT).await);
    }
    let (rate, ceiling) = (median(&mut rates), median(&mut ceilings));
    let shaped = median(&mut shaped);
    println!(
        "batched: {rate:.0} events/s median against a median ceiling of {ceiling:.0} events/s: {:.0}% ({ROUNDS} rounds); raw in the same request shape: {shaped:.0} events/s = {:.0}% of the ceiling, and batched ingest {:.0}% of that",
        100.0 * rate / ceiling,
        100.0 * shaped / ceiling,
        100.0 * rate / shaped,
    );
    rate / ceiling
}

/// Prints the producer's mean request time between two snapshots of its histograms, split into
/// the wait for Kafka's acknowledgements and the rest (its own work), and returns its own share
/// in ms; `None` in-process (no `/metrics` of its own).
fn inside(before: Option<Timings>, after: Option<Timings>) -> Option<f64> {
    let (request, kafka) = after?.since(&before?);
    println!(
        "  inside the producer: mean request {request:.3} ms, of which waiting for the Kafka acknowledgement {kafka:.3} ms: its own share {:.3} ms",
        request - kafka
    );
    Some(request - kafka)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn report(name: &str, summary: &Summary, ceiling: f64) {
    let failed: u64 = summary
        .statuses
        .iter()
        .filter(|(s, _)| s.as_str() != "202")
        .map(|(_, n)| n)
        .sum();
    println!(
        "{name}: {:.0} events/s ({:.0} requests/s), {:.0}% of ceiling, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, non-202 {failed}",
        summary.events_per_s,
        summary.requests_per_s,
        100.0 * summary.events_per_s / ceiling,
        summary.latency.p50_ms,
        summary.latency.p99_ms,
        summary.latency.max_ms,
    );
}

/// Measures and prints the raw ceiling, and where its CPU went.
async fn measure_ceiling(bootstrap: &str, topic: &str, in_flight: usize) -> f64 {
    let account = CpuAccount::now(None);
    let (events, ceiling) = raw_ceiling(bootstrap, topic, in_flight, Headers::Written).await;
    println!(
        "raw rdkafka produce ceiling: {ceiling:.0} events/s (sustained for {ROUND_RUN:?}, {in_flight} events in flight, acks=all, idempotent)\n  {}",
        account.since(events)
    );
    ceiling
}

/// Events/s of a bare `FutureProducer` configured like the ingest path, sending the records
/// the ingest path sends (key, headers, JSON event) for as long as a batched round runs, with
/// `in_flight` unacknowledged: a rate sustained over the same time as the one
/// it is compared with (a single burst of queued records measures librdkafka's batching of
/// one queue, not what the broker keeps up with). The producer is connected (one record
/// acknowledged) before the clock starts: its start-up is not produce rate. Returns the records
/// acknowledged and their rate.
async fn raw_ceiling(bootstrap: &str, topic: &str, in_flight: usize, which: Headers) -> (u64, f64) {
    let samples = sample_payloads(SAMPLES);
    let producer = connected_producer(bootstrap, topic, &samples, which).await;
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut acknowledged = 0_u64;
    for sample in samples.iter().cycle() {
        if started.elapsed() >= ROUND_RUN {
            break;
        }
        if pending.len() >= in_flight {
            settle(pending.next().await);
            acknowledged += 1;
        }
        pending.push(
            producer
                .send_result(sample.record(topic, which))
                .map_err(|(e, _)| e)
                .expect("queued"),
        );
    }
    while let Some(delivery) = pending.next().await {
        settle(Some(delivery));
        acknowledged += 1;
    }
    (
        acknowledged,
        acknowledged as f64 / started.elapsed().as_secs_f64(),
    )
}

/// Events/s of raw records sent as the batched runs send events, without HTTP: as many tasks
/// as the batched runs have connections, each sending [`BATCH`] records and waiting for all of
/// them to be acknowledged before it sends the next ones. Its rate against the ceiling is what
/// waiting for a whole request costs (a request is as slow as its slowest record, and nothing
/// of its connection is in flight between two requests); batched ingest against it is what the
/// HTTP path costs.
async fn raw_requests(bootstrap: &str, topic: &str) -> f64 {
    let samples = std::sync::Arc::new(sample_payloads(SAMPLES));
    let producer = connected_producer(bootstrap, topic, &samples, Headers::Written).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..BATCHED_CONNECTIONS)
        .map(|task| {
            let (producer, samples, topic) = (producer.clone(), samples.clone(), topic.to_owned());
            tokio::spawn(async move {
                let mut acknowledged = 0_u64;
                let requests = samples
                    .chunks(BATCH)
                    .skip(task)
                    .step_by(BATCHED_CONNECTIONS);
                for request in requests.cycle() {
                    if started.elapsed() >= ROUND_RUN {
                        break;
                    }
                    let deliveries = request.iter().map(|sample| {
                        producer
                            .send_result(sample.record(&topic, Headers::Written))
                            .map_err(|(e, _)| e)
                            .expect("queued")
                    });
                    for delivery in join_all(deliveries).await {
                        settle(Some(delivery));
                        acknowledged += 1;
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = 0;
    for task in join_all(tasks).await {
        acknowledged += task.expect("request task");
    }
    acknowledged as f64 / started.elapsed().as_secs_f64()
}

/// A raw producer with one of `samples` acknowledged: its start-up is not produce rate.
async fn connected_producer(
    bootstrap: &str,
    topic: &str,
    samples: &[Sample],
    which: Headers,
) -> FutureProducer {
    let producer = raw_producer(bootstrap);
    if let Some(first) = samples.first() {
        producer
            .send(first.record(topic, which), Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("the warm-up record is acknowledged");
    }
    producer
}

/// Fails the benchmark unless a raw delivery was acknowledged.
fn settle(
    delivery: Option<
        Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    >,
) {
    delivery
        .expect("a delivery in flight")
        .expect("not cancelled")
        .map_err(|(e, _)| e)
        .expect("acknowledged");
}

/// What every CloudEvents attribute as a header would cost the broker's ceiling, measured
/// next to the ceiling of the two headers the producer writes.
async fn header_cost(bootstrap: &str, topic: &str, written: f64) {
    let (_, all) = raw_ceiling(bootstrap, topic, BROKER_IN_FLIGHT, Headers::AllAttributes).await;
    println!(
        "headers: with ce_id, ce_source, ce_specversion, ce_time and ce_subject as well, {all:.0} events/s: {:.0}% of the ceiling with the two written ({written:.0})",
        100.0 * all / written
    );
}

/// Events/s and latency of 50 tasks each sending one event record at a time: what the broker
/// gives single-event requests at 50 connections before any HTTP is involved.
async fn raw_latency(bootstrap: &str, topic: &str) -> (f64, Latency) {
    let producer = raw_producer(bootstrap);
    let samples = std::sync::Arc::new(sample_payloads(1000));
    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (producer, samples, topic) = (producer.clone(), samples.clone(), topic.to_owned());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for sample in samples.iter().cycle() {
                    if started.elapsed() >= SINGLE_ROUND_RUN {
                        break;
                    }
                    let sent = Instant::now();
                    producer
                        .send(
                            sample.record(&topic, Headers::Written),
                            Duration::from_secs(10),
                        )
                        .await
                        .map_err(|(e, _)| e)
                        .expect("acknowledged");
                    latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in join_all(tasks).await {
        latencies.extend(task.expect("sender task"));
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    (rate, Latency::of(&mut latencies))
}

async fn load(url: &str, concurrency: usize, batch: usize, run: Duration) -> Summary {
    load_batches(
        url,
        concurrency,
        batch,
        Workload::UserActivity,
        Some(run),
        None,
    )
    .await
}

/// Single-event requests of `workload` for `run` or until `count` were sent.
async fn load_plan(
    url: &str,
    concurrency: usize,
    workload: Workload,
    run: Option<Duration>,
    count: Option<u64>,
) -> Summary {
    load_batches(url, concurrency, 1, workload, run, count).await
}

/// Bodies each load run cycles through: generating and serialising every request's events
/// would cost the load generator, on the producer's two cores, a large part of what it measures.
const PREPARED_BODIES: usize = 512;

async fn load_batches(
    url: &str,
    concurrency: usize,
    batch: usize,
    workload: Workload,
    duration: Option<Duration>,
    count: Option<u64>,
) -> Summary {
    let mut plan = Plan {
        endpoint: format!("{url}/v1/events"),
        concurrency,
        rate: None,
        duration,
        count,
        batch,
        workload,
        token: None,
        keep_ids: false,
        progress: false,
        prepared: None,
    };
    plan.prepared = Some(runner::prepare(&plan, PREPARED_BODIES));
    runner::drive(plan).await.expect("load run").0
}

/// A `FutureProducer` configured like the ingest path's.
fn raw_producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// One event as the ingest path writes it to Kafka.
struct Sample {
    key: String,
    kind: String,
    payload: Vec<u8>,
    /// The other CloudEvents attributes as binary-mode headers would carry them.
    attributes: Vec<(&'static str, String)>,
}

/// Which headers the raw records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Headers {
    /// The producer's own: `ce_type` and `content-type`.
    Written,
    /// Those and every other CloudEvents attribute in binary-mode form (`ce_id`, `ce_source`,
    /// `ce_specversion`, `ce_time`, `ce_subject`): what writing them all would cost.
    AllAttributes,
}

impl Sample {
    fn record<'a>(&'a self, topic: &'a str, which: Headers) -> FutureRecord<'a, str, [u8]> {
        let mut headers = headers(&self.kind);
        if which == Headers::AllAttributes {
            for (key, value) in &self.attributes {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_str()),
                });
            }
        }
        FutureRecord::to(topic)
            .key(self.key.as_str())
            .payload(self.payload.as_slice())
            .headers(headers)
    }
}

/// `count` random user-activity events as the ingest path would write them.
fn sample_payloads(count: usize) -> Vec<Sample> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let incoming: IncomingEvent =
                serde_json::from_value(Workload::UserActivity.event(&mut rng)).expect("event");
            let event = incoming.into_event(None, "/bench");
            Sample {
                key: event.subject.clone().unwrap_or_default(),
                kind: event.kind.clone(),
                payload: event.to_json(),
                attributes: vec![
                    ("ce_id", event.id.clone()),
                    ("ce_source", event.source.clone()),
                    ("ce_specversion", event.specversion.clone()),
                    ("ce_time", event.time.to_rfc3339()),
                    ("ce_subject", event.subject.clone().unwrap_or_default()),
                ],
            }
        })
        .collect()
}

/// Cumulative sums and counts of the producer's request and Kafka delivery histograms.
#[derive(Debug, Clone, Copy)]
struct Timings {
    request: (f64, f64),
    kafka: (f64, f64),
}

impl Timings {
    /// Mean request and Kafka delivery durations in ms between two snapshots.
    fn since(&self, before: &Self) -> (f64, f64) {
        let mean = |(sum, count): (f64, f64), (sum0, count0): (f64, f64)| {
            1e3 * (sum - sum0) / (count - count0).max(1.0)
        };
        (
            mean(self.request, before.request),
            mean(self.kafka, before.kafka),
        )
    }
}

/// The producer being measured: the release binary, or the router in this process.
struct ProducerUnderTest {
    url: String,
    admin_port: u16,
    child: Option<Child>,
}

impl ProducerUnderTest {
    async fn start(services: &DevServices, topic: &str) -> Self {
        let (port, admin_port) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{port}");
        let collection = unique_name("bench");
        let flags = [
            "--http-port",
            &port.to_string(),
            "--admin-port",
            &admin_port.to_string(),
            "--bind-address",
            "127.0.0.1",
            "--mongodb-collection",
            &collection,
        ];
        let child = if let Ok(dir) = std::env::var("EVENTFLOW_BIN_DIR") {
            let child = Command::new(format!("{dir}/eventflow"))
                .arg("producer")
                .args([
                    "--topic",
                    topic,
                    "--kafka-bootstrap",
                    &services.kafka_bootstrap,
                    "--mongodb-uri",
                    &services.mongodb_uri,
                ])
                .args(flags)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .expect("the release producer binary");
            Some(child)
        } else {
            let args = producer_support::args(
                &services.kafka_bootstrap,
                &services.mongodb_uri,
                topic,
                &flags,
            );
            let (app, _) = producer_support::app(&args).await;
            let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
                .await
                .expect("bind");
            tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
            None
        };
        let producer = Self {
            url,
            admin_port,
            child,
        };
        producer.wait_listening(port).await;
        producer
    }

    async fn wait_listening(&self, port: u16) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the producer did not listen on {port}");
    }

    /// The release binary's histogram totals, from its admin `/metrics`.
    async fn timings(&self) -> Option<Timings> {
        self.child.as_ref()?;
        let url = format!("http://127.0.0.1:{}/metrics", self.admin_port);
        let text = reqwest::get(url).await.ok()?.text().await.ok()?;
        let pair = |histogram: &str| {
            (
                metric_sum(&text, &format!("{histogram}_sum"), ""),
                metric_sum(&text, &format!("{histogram}_count"), ""),
            )
        };
        Some(Timings {
            request: pair("eventflow_producer_http_request_duration_seconds"),
            kafka: pair("eventflow_producer_kafka_delivery_duration_seconds"),
        })
    }

    fn what(&self) -> &'static str {
        if self.child.is_some() {
            "the producer process (release binary)"
        } else {
            "this process (producer in-process plus the load generator)"
        }
    }

    /// The producer process (`None` in-process: it shares this one).
    fn pid(&self) -> Option<u32> {
        Some(self.child.as_ref()?.id())
    }

    fn peak_rss_kib(&self) -> u64 {
        let pid = self
            .child
            .as_ref()
            .map_or_else(|| "self".to_owned(), |c| c.id().to_string());
        testkit::peak_rss_kib(&pid).expect("VmHWM")
    }
}

impl Drop for ProducerUnderTest {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    testkit::free_port().expect("free port")
}
