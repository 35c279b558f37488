//! Reaction time of autoscaling through `reconcile`: from the acknowledgement of the record that
//! takes the lag over the threshold to the consumer Deployment's replicas changing, with the dev
//! broker and an in-memory Kubernetes API (kube-fake-client).
//!
//! ```text
//! eval "$(scripts/dev-services.sh start)"
//! cargo run --release -p eventflow-operator --example autoscale_reaction -- --runs 5 --poll-interval 1s
//! ```
//!
//! Each run: a new pipeline (4 partitions, threshold 100, 1..4 consumers) is reconciled once
//! (topic and Deployments created), 100 records are produced (lag 100: still 1 consumer), and
//! reconcile runs every `--tick` as a busy controller would — the scaling phase itself measures
//! only when a poll is due. At a phase of the poll interval that varies per run one more record
//! is produced; the run ends when the Deployment asks for 2 replicas. The fake API has no watch,
//! so the controller's requeue is replaced by the tick (it adds at most one tick). No
//! assertions: the figures are for reading (goal: max <= pollInterval + 1 s).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the shared test support fails loudly on set-up errors"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use clap::Parser;
use eventflow_operator::{controller::Settings, crd::EventPipeline};
use eventflow_workloads::testkit::DevServices;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Client, ResourceExt};
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};

#[derive(Debug, Parser)]
struct Args {
    /// Runs (one new pipeline each).
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// `autoscaling.pollInterval` of the pipelines.
    #[arg(long, default_value = "1s")]
    poll_interval: eventflow_contract::Duration,
    /// How often the stand-in controller calls reconcile.
    #[arg(long, default_value = "100ms")]
    tick: eventflow_contract::Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bootstrap = DevServices::from_env()
        .map_err(anyhow::Error::msg)?
        .kafka_bootstrap;
    let (interval, tick) = (args.poll_interval.get(), args.tick.get());
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()?;
    let mut reactions = Vec::new();
    for run in 0..args.runs {
        let phase = interval.mul_f64(f64::from(run % 10) / 10.0);
        let reaction = Box::pin(one_run(
            &bootstrap,
            &producer,
            args.poll_interval,
            phase,
            tick,
        ))
        .await?;
        println!("reconcile reaction run {run}: {reaction:.2?}");
        reactions.push(reaction);
    }
    let total: Duration = reactions.iter().sum();
    let max = reactions.iter().max().copied().unwrap_or_default();
    println!(
        "reconcile reaction over {} runs, pollInterval {interval:?}, tick {tick:?}: mean {:.2?}, max {max:.2?} (goal: max <= pollInterval + 1 s)",
        args.runs,
        total / args.runs.max(1)
    );
    Ok(())
}

/// One pipeline: returns the time from the crossing record's acknowledgement to the replicas.
async fn one_run(
    bootstrap: &str,
    producer: &FutureProducer,
    poll_interval: eventflow_contract::Duration,
    phase: Duration,
    tick: Duration,
) -> anyhow::Result<Duration> {
    let interval = poll_interval.get();
    let pipeline = pipeline(bootstrap, poll_interval);
    let (name, topic) = (pipeline.name_any(), pipeline.topic_name());
    let ctx = support::context(support::fake(pipeline).await, Settings::default());
    support::reconcile_stored(&ctx, &name).await?;
    produce(producer, &topic, 100).await?;
    let controller = async {
        loop {
            support::reconcile_stored(&ctx, &name).await?;
            if replicas(&ctx.client, &name).await? == Some(2) {
                return anyhow::Ok(Instant::now());
            }
            tokio::time::sleep(tick).await;
        }
    };
    let crossing = async {
        tokio::time::sleep(phase).await;
        produce(producer, &topic, 1).await.map(|()| Instant::now())
    };
    let bound = tick + phase + 3 * interval;
    let (scaled, crossed) =
        tokio::time::timeout(bound, async { tokio::join!(controller, crossing) })
            .await
            .map_err(|_| anyhow::anyhow!("no scale within {bound:?}: is the broker healthy?"))?;
    Ok(scaled?.saturating_duration_since(crossed?))
}

/// The tests' pipeline with 4 partitions and autoscaling from 1 to 4 consumers at a lag
/// threshold of 100.
fn pipeline(bootstrap: &str, poll_interval: eventflow_contract::Duration) -> EventPipeline {
    let mut pipeline = support::pipeline(bootstrap, "react");
    pipeline.spec.topic.partitions = 4;
    pipeline.spec.consumer.replicas = 1;
    let autoscaling = &mut pipeline.spec.autoscaling;
    autoscaling.enabled = true;
    (autoscaling.min_replicas, autoscaling.max_replicas) = (1, 4);
    (autoscaling.lag_threshold, autoscaling.activation_lag) = (100, 0);
    autoscaling.poll_interval = poll_interval;
    autoscaling.scale_up_stabilization = eventflow_contract::Duration::from_secs(0);
    autoscaling.exclude_persistent_lag = false;
    autoscaling.target_drain_seconds = None;
    pipeline
}

async fn replicas(client: &Client, name: &str) -> anyhow::Result<Option<i32>> {
    let deployment = support::api::<Deployment>(client)
        .get(&format!("{name}-consumer"))
        .await?;
    Ok(deployment.spec.and_then(|spec| spec.replicas))
}

async fn produce(producer: &FutureProducer, topic: &str, count: u32) -> anyhow::Result<()> {
    for _ in 0..count {
        let record = FutureRecord::<str, str>::to(topic).payload("{}").key("k");
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(error, _)| error)?;
    }
    Ok(())
}
