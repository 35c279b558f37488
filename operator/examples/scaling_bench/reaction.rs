//! Reaction time: from the acknowledgement of the record that takes the lag over the activation
//! lag to the first poll whose decision wakes the consumers, with the operator's poll loop
//! (measure, then decide, every `pollInterval`). Applying the replicas to the Deployment adds the
//! API server's patch time on top.

use std::time::{Duration, Instant};

use eventflow_operator::{
    kafka::lag::{LagReader, LagTarget},
    scaling::{self, History, Input, Policy},
};
use eventflow_workloads::testkit::{create_topic, unique_name};
use futures::future::join_all;
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};

const PARTITIONS: i32 = 4;
const ACTIVATION_LAG: u64 = 100;

/// Runs `runs` reaction measurements with a poll every `interval`; prints each and a summary.
pub async fn reaction(
    reader: &LagReader,
    bootstrap: &str,
    runs: u32,
    interval: Duration,
) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let mut reactions = Vec::new();
    for run in 0..runs {
        let target = new_pipeline(bootstrap).await?;
        produce(&producer, &target.topic, ACTIVATION_LAG).await?;
        let poller = poll_until_woken(reader, &target, interval);
        // Cross the activation lag at a varying phase of the poll interval.
        let crossing = async {
            tokio::time::sleep(interval.mul_f64(f64::from(run % 10) / 10.0)).await;
            produce(&producer, &target.topic, 1)
                .await
                .map(|()| Instant::now())
        };
        let (woken, crossed) = tokio::join!(poller, crossing);
        let reaction = woken?.saturating_duration_since(crossed?);
        println!("reaction run {run}: {reaction:.1?}");
        reactions.push(reaction);
        reader.forget(&target);
    }
    let total: Duration = reactions.iter().sum();
    let max = reactions.iter().max().copied().unwrap_or_default();
    println!(
        "reaction over {runs} runs, poll interval {interval:?}: mean {:.1?}, max {max:.1?} (goal: max <= interval + 1 s)",
        total / runs.max(1)
    );
    Ok(())
}

async fn new_pipeline(bootstrap: &str) -> anyhow::Result<LagTarget> {
    let topic = unique_name("bench-reaction");
    create_topic(bootstrap, &topic, PARTITIONS)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(super::target(bootstrap, topic))
}

async fn produce(producer: &FutureProducer, topic: &str, count: u64) -> anyhow::Result<()> {
    let sends = (0..count).map(|_| {
        let record = FutureRecord::<str, str>::to(topic).payload("{}").key("k");
        producer.send(record, Duration::from_secs(10))
    });
    for sent in join_all(sends).await {
        sent.map_err(|(error, _)| error)?;
    }
    Ok(())
}

/// The operator's poll loop for one scaled-to-zero pipeline: returns when a decision wakes it.
async fn poll_until_woken(
    reader: &LagReader,
    target: &LagTarget,
    interval: Duration,
) -> anyhow::Result<Instant> {
    let policy = Policy {
        activation_lag: ACTIVATION_LAG,
        ..Policy::new(0, 4, 1000)
    };
    let mut history = History::default();
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let sample = reader.measure(target).await?;
        let input = Input {
            sample: &sample,
            partitions: 4,
            current_replicas: 0,
        };
        if scaling::decide(&policy, &input, &mut history).desired > 0 {
            return Ok(Instant::now());
        }
    }
}
