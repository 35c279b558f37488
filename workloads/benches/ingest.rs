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
#[path = "ingest/in_cluster.rs"]
mod in_cluster;
#[path = "../tests/producer_support/mod.rs"]
pub mod producer_support;
#[path = "ingest/raw.rs"]
mod raw;
#[path = "ingest/whole_pipeline.rs"]
mod whole_pipeline;

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use cpu::CpuAccount;
use eventflow_workloads::{
    loadgen::{Plan, Summary, Workload, runner},
    testkit::{self, DevServices, median, metric_sum, unique_name},
};
use producer_support::create_topic;
use raw::{Headers, Raw};

/// Raw records unacknowledged at once in the broker's own ceiling, printed for context.
const BROKER_IN_FLIGHT: usize = 20_000;
/// Events per batched request.
const BATCH: usize = 100;
/// Raw records unacknowledged at once in the ceiling the batched runs are compared with: as
/// many as the batched runs have in flight, so both send the same records at the same
/// concurrency and differ only in the HTTP path.
const CEILING_IN_FLIGHT: usize = BATCHED_CONNECTIONS * BATCH;
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
    let raw = Raw::new(&services.kafka_bootstrap, &topic);
    let ceiling = measure_ceiling(&raw, BROKER_IN_FLIGHT).await;
    header_cost(&raw, ceiling).await;
    let before = producer.timings().await;
    let single = single_rounds(&raw, &producer.url, ceiling).await;
    let own_ms = inside(before, producer.timings().await);
    let batched_share = batched_rounds(&raw, &producer).await;
    println!(
        "peak RSS of {}: {:.1} MiB",
        producer.what(),
        producer.peak_rss_kib() as f64 / 1024.0
    );
    println!(
        "goals: batched >= 85% of ceiling: {}; single-event p99 <= 1.2 × raw p99: {}; producer's own share < 0.1 ms: {}",
        met_or_not(batched_share >= 0.85),
        met_or_not(single.p99_ms <= 1.2 * single.raw_p99_ms),
        own_ms.map_or("not measured (in-process)", |own| met_or_not(own < 0.1))
    );
    if let Some(local) = whole_pipeline::run(&services, single.raw_p99_ms).await {
        in_cluster::run(&local).await;
    }
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
async fn single_rounds(raw_runs: &Raw, url: &str, ceiling: f64) -> SingleEvents {
    let (mut raw_p99s, mut p99s) = (Vec::new(), Vec::new());
    for round in 1..=SINGLE_ROUNDS {
        let (rate, raw) = raw_runs.latency(50, SINGLE_ROUND_RUN).await;
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
/// batched runs' shape, without HTTP ([`Raw::requests`]), which splits the gap to the ceiling
/// into the request shape's part and the HTTP path's.
async fn batched_rounds(raw_runs: &Raw, producer: &ProducerUnderTest) -> f64 {
    let mut ceilings = vec![measure_ceiling(raw_runs, CEILING_IN_FLIGHT).await];
    let (mut rates, mut shaped) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let raw = raw_runs
            .requests(BATCHED_CONNECTIONS, BATCH, ROUND_RUN)
            .await;
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
        ceilings.push(measure_ceiling(raw_runs, CEILING_IN_FLIGHT).await);
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

/// How a report line says whether a goal was reached: `met` or `NOT met`.
fn met_or_not(met: bool) -> &'static str {
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
async fn measure_ceiling(raw: &Raw, in_flight: usize) -> f64 {
    let account = CpuAccount::now(None);
    let (events, ceiling) = raw.ceiling(in_flight, Headers::Written, ROUND_RUN).await;
    println!(
        "raw rdkafka produce ceiling: {ceiling:.0} events/s (sustained for {ROUND_RUN:?}, {in_flight} events in flight, acks=all, idempotent)\n  {}",
        account.since(events)
    );
    ceiling
}

/// What every CloudEvents attribute as a header would cost the broker's ceiling, measured
/// next to the ceiling of the two headers the producer writes.
async fn header_cost(raw: &Raw, written: f64) {
    let (_, all) = raw
        .ceiling(BROKER_IN_FLIGHT, Headers::AllAttributes, ROUND_RUN)
        .await;
    println!(
        "headers: with ce_id, ce_source, ce_specversion, ce_time and ce_subject as well, {all:.0} events/s: {:.0}% of the ceiling with the two written ({written:.0})",
        100.0 * all / written
    );
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
