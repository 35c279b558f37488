//! Lag-measurement benchmark against the dev broker: N pipelines (one topic and one consumer
//! group each) measured by one shared [`LagReader`], as the operator polls them.
//!
//! ```text
//! eval "$(scripts/dev-services.sh start)"
//! cargo run --release -p eventflow-operator --example scaling_bench -- --pipelines 100
//! ```
//!
//! Prints per-measurement latency (p50/p95/max) for the cold round (handles created, group
//! coordinators looked up), for warm rounds with every pipeline polled at once and for a warm
//! sequential round; the time of one decision; and the process's RSS and thread count before,
//! after the cold round and at the end; then the reaction time of the poll loop (see
//! `reaction.rs`). No assertions: the figures are for reading.

mod reaction;

use std::time::{Duration, Instant};

use clap::Parser;
use eventflow_operator::{
    kafka::lag::{LagReader, LagTarget},
    scaling::OffsetReset,
    scaling::{self, History, Input, Policy},
};
use eventflow_workloads::testkit::{DevServices, unique_name};
use futures::future::join_all;
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    producer::{FutureProducer, FutureRecord},
};

#[derive(Debug, Parser)]
struct Args {
    /// Pipelines (topics with their own consumer group).
    #[arg(long, default_value_t = 100)]
    pipelines: usize,
    /// Partitions per topic.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Warm rounds with every pipeline polled at once.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Records produced per topic before measuring.
    #[arg(long, default_value_t = 10)]
    records: usize,
    /// Reaction-time runs (0: skip).
    #[arg(long, default_value_t = 10)]
    reaction_runs: u32,
    /// Poll interval of the reaction-time runs, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_interval_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bootstrap = DevServices::from_env()
        .map_err(anyhow::Error::msg)?
        .kafka_bootstrap;
    println!("{}", memory("start"));
    let targets = setup(&bootstrap, &args).await?;
    let reader = LagReader::default();

    let started = Instant::now();
    let cold = poll_concurrently(&reader, &targets).await?;
    report("cold round, all at once", &cold, started.elapsed());
    println!("{}", memory("after cold round"));

    for round in 1..=args.rounds {
        let started = Instant::now();
        let warm = poll_concurrently(&reader, &targets).await?;
        report(
            &format!("warm round {round}, all at once"),
            &warm,
            started.elapsed(),
        );
    }
    let started = Instant::now();
    let mut sequential = Vec::with_capacity(targets.len());
    for target in &targets {
        let begun = Instant::now();
        reader.measure(target).await?;
        sequential.push(begun.elapsed());
    }
    report(
        "warm round, one after another",
        &sequential,
        started.elapsed(),
    );
    decision_time(&reader, &targets[0]).await?;
    println!("cached handles: {}", reader.cached_handles());
    println!("{}", memory("end"));
    let interval = Duration::from_millis(args.poll_interval_ms);
    reaction::reaction(&reader, &bootstrap, args.reaction_runs, interval).await
}

/// Creates the topics and fills them; returns one target per pipeline.
async fn setup(bootstrap: &str, args: &Args) -> anyhow::Result<Vec<LagTarget>> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let producer: FutureProducer = config.create()?;
    let topics: Vec<String> = (0..args.pipelines)
        .map(|_| unique_name("bench-lag"))
        .collect();
    let started = Instant::now();
    for chunk in topics.chunks(20) {
        let new: Vec<NewTopic<'_>> = chunk
            .iter()
            .map(|t| NewTopic::new(t, args.partitions, TopicReplication::Fixed(1)))
            .collect();
        for result in admin.create_topics(&new, &AdminOptions::new()).await? {
            result.map_err(|(topic, code)| anyhow::anyhow!("create {topic}: {code}"))?;
        }
    }
    for topic in &topics {
        let sends = (0..args.records).map(|i| {
            let record = FutureRecord::<str, str>::to(topic).payload("{}").key("k");
            let partition = i32::try_from(i).unwrap_or(0) % args.partitions;
            producer.send(record.partition(partition), Duration::from_secs(10))
        });
        for sent in join_all(sends).await {
            sent.map_err(|(error, _)| error)?;
        }
    }
    println!(
        "setup: {} topics x {} partitions, {} records each, in {:.1?}",
        topics.len(),
        args.partitions,
        args.records,
        started.elapsed()
    );
    Ok(topics
        .into_iter()
        .map(|topic| target(bootstrap, topic))
        .collect())
}

/// `topic` as read by the group `<topic>-group` from the earliest offset.
fn target(bootstrap: &str, topic: String) -> LagTarget {
    LagTarget {
        bootstrap_servers: bootstrap.to_owned(),
        properties: std::collections::BTreeMap::new(),
        group_id: format!("{topic}-group"),
        topic,
        offset_reset: OffsetReset::Earliest,
    }
}

/// Measures every target at once; returns each measurement's latency.
async fn poll_concurrently(
    reader: &LagReader,
    targets: &[LagTarget],
) -> anyhow::Result<Vec<Duration>> {
    let polls = targets.iter().map(|target| async move {
        let begun = Instant::now();
        reader.measure(target).await.map(|_| begun.elapsed())
    });
    Ok(join_all(polls)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?)
}

async fn decision_time(reader: &LagReader, target: &LagTarget) -> anyhow::Result<()> {
    let sample = reader.measure(target).await?;
    let policy = Policy::new(1, 10, 5);
    let mut history = History::default();
    let runs = 10_000_u32;
    let started = Instant::now();
    for _ in 0..runs {
        let input = Input {
            sample: &sample,
            partitions: 3,
            current_replicas: 1,
        };
        std::hint::black_box(scaling::decide(&policy, &input, &mut history));
    }
    println!(
        "decide: {:.1?} per decision (mean of {runs})",
        started.elapsed() / runs
    );
    Ok(())
}

fn report(what: &str, latencies: &[Duration], wall: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |percent: usize| {
        let index = sorted.len().saturating_sub(1) * percent / 100;
        sorted.get(index).copied().unwrap_or_default()
    };
    println!(
        "{what}: {} measurements in {wall:.1?}; latency p50 {:.1?} p95 {:.1?} max {:.1?}",
        sorted.len(),
        at(50),
        at(95),
        at(100)
    );
}

/// `VmRSS` and `Threads` of this process (Linux).
fn memory(when: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("?".to_owned(), |value| value.trim().to_owned())
    };
    format!(
        "memory {when}: rss {}, threads {}",
        field("VmRSS:"),
        field("Threads:")
    )
}
