//! The scaling phase of `reconcile` against an in-memory Kubernetes API (kube-fake-client) and
//! the dev Kafka broker: lag over the threshold scales the consumer Deployment, with status,
//! an Event and metrics; a failed measurement never scales; pipelines not autoscaled are not
//! measured.
//!
//! Records are produced and never committed, so the group's lag is everything produced (a
//! partition without a commit counts from its low watermark).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

mod support;

use std::{sync::Arc, time::Duration};

use eventflow_operator::{
    controller::{Context, Settings, reconcile},
    crd::{DeletionPolicy, EventPipeline},
    kafka::{
        KafkaAdmin, KafkaConnection,
        topic::{self, DesiredTopic},
    },
    scaling,
};
use k8s_openapi::{
    api::{apps::v1::Deployment, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::controller::Action,
};
use prometheus::{Encoder, TextEncoder};
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::json;
use support::{NAMESPACE, api, bootstrap, reconcile_stored, stored};

const PARTITIONS: i32 = 6;

/// Lag measurements bounded to 10 s: a first measurement on the real broker (coordinator lookup,
/// fresh clients) must fit while the whole suite loads two cores (1 s, then 3 s, did not always:
/// the set-up then held its one consumer, seen in `make test` on 2026-11-30).
fn settings() -> Settings {
    Settings {
        lag_timeout: Duration::from_secs(10),
        ..Settings::default()
    }
}

/// The full fixture, unique, on `bootstrap`, autoscaled: 1..6 consumers, 100 records each.
fn autoscaled_pipeline(bootstrap: &str) -> EventPipeline {
    let mut pipeline = support::pipeline(bootstrap, "as");
    // The tests create and fill the topic before the first reconcile.
    pipeline.spec.topic.adopt = true;
    pipeline.spec.consumer.replicas = 1;
    let autoscaling = &mut pipeline.spec.autoscaling;
    autoscaling.enabled = true;
    autoscaling.min_replicas = 1;
    autoscaling.max_replicas = 6;
    autoscaling.lag_threshold = 100;
    autoscaling.activation_lag = 0;
    autoscaling.poll_interval = eventflow_contract::Duration::from_secs(10);
    autoscaling.scale_up_stabilization = eventflow_contract::Duration::from_secs(0);
    autoscaling.exclude_persistent_lag = false;
    autoscaling.target_drain_seconds = None;
    pipeline
}

/// Creates the pipeline's topic and produces `per_partition` records to each partition.
async fn produce(pipeline: &EventPipeline, per_partition: usize) {
    let bootstrap = &pipeline.spec.kafka.bootstrap_servers;
    let admin = Arc::new(
        KafkaAdmin::connect(&KafkaConnection::plain(bootstrap), Duration::from_secs(5)).unwrap(),
    );
    topic::ensure(&admin, &DesiredTopic::of(pipeline))
        .await
        .unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let topic = pipeline.topic_name();
    for partition in 0..PARTITIONS {
        for i in 0..per_partition {
            let payload = format!("{{\"n\":{i}}}");
            let record = FutureRecord::<str, str>::to(&topic)
                .payload(&payload)
                .partition(partition);
            producer
                .send(record, Duration::from_secs(10))
                .await
                .expect("acknowledged");
        }
    }
}

async fn consumer_replicas(client: &Client, name: &str) -> Option<i32> {
    let deployment = api::<Deployment>(client)
        .get(&format!("{name}-consumer"))
        .await
        .unwrap();
    deployment.spec.unwrap().replicas
}

fn scaling_condition(pipeline: &EventPipeline) -> Option<&Condition> {
    let status = pipeline.status.as_ref().expect("status written");
    status.conditions.iter().find(|c| c.type_ == "Scaling")
}

async fn events(client: &Client, reason: &str) -> Vec<Event> {
    let events = api::<Event>(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    events
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

fn exposition(ctx: &Context) -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&ctx.metrics.registry().gather(), &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// A pipeline whose topic holds 75 records on each of 6 partitions (lag 450), reconciled once.
async fn scaled_pipeline() -> (String, Client, Arc<Context>) {
    let pipeline = autoscaled_pipeline(&bootstrap());
    produce(&pipeline, 75).await;
    let (name, client, ctx) = stored(pipeline, settings()).await;
    reconcile_stored(&ctx, &name).await.unwrap();
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert_eq!(
        consumer_replicas(&client, &name).await,
        Some(5),
        "set-up: ceil(450 / 100) consumers; Scaling: {:?}",
        scaling_condition(&stored).map(|c| &c.message)
    );
    (name, client, ctx)
}

#[tokio::test]
async fn lag_over_the_threshold_scales_the_consumer_deployment() {
    let (name, client, ctx) = scaled_pipeline().await;

    assert_eq!(
        consumer_replicas(&client, &name).await,
        Some(5),
        "ceil(450 / 100)"
    );
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let status = stored.status.clone().unwrap();
    let lag = status.lag.unwrap();
    assert_eq!((lag.total, lag.partitions_with_lag), (450, 6));
    assert!(lag.measured_at.is_some());
    let consumer = status.consumer.unwrap();
    assert_eq!(consumer.desired_replicas, Some(5));
    assert!(consumer.last_scale_time.is_some());
    let reason = consumer.last_scale_reason.unwrap();
    assert!(
        reason.starts_with("scaled 1→5: lag 450 over threshold 100 on 6 partitions"),
        "{reason}"
    );
    let scaling = scaling_condition(&stored).expect("Scaling condition");
    assert_eq!(
        (scaling.status.as_str(), scaling.reason.as_str()),
        ("True", "LagThreshold")
    );
    let scaled = events(&client, "Scaled").await;
    assert_eq!(scaled.len(), 1);
    assert_eq!(scaled[0].note.as_deref(), Some(reason.as_str()));
    let metrics = exposition(&ctx);
    let label = format!("pipeline=\"{NAMESPACE}/{name}\"");
    for line in [
        format!("eventflow_consumer_group_lag{{{label}}} 450"),
        format!("eventflow_consumer_desired_replicas{{{label}}} 5"),
        format!("eventflow_scale_events_total{{direction=\"up\",{label}}} 1"),
    ] {
        assert!(metrics.contains(&line), "{line} missing in\n{metrics}");
    }
}

// Paused time: the clock moves only when told (or when nothing but a timer is left to wait
// for), so the requeue can be named exactly.
#[tokio::test(start_paused = true)]
async fn a_reconcile_before_the_next_poll_reuses_the_decision_and_writes_nothing() {
    let (name, client, ctx) = scaled_pipeline().await;
    let before = api::<EventPipeline>(&client).get(&name).await.unwrap();
    produce(&before, 25).await; // lag 600 would ask for 6, but the next poll is not due
    let since_poll = Duration::from_secs(3);
    tokio::time::advance(since_poll).await;

    let action = reconcile_stored(&ctx, &name).await.unwrap();

    let after = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert_eq!(
        after.resource_version(),
        before.resource_version(),
        "no status write"
    );
    assert_eq!(
        after.status.unwrap().lag.unwrap().total,
        450,
        "not measured"
    );
    assert_eq!(consumer_replicas(&client, &name).await, Some(5));
    assert_eq!(events(&client, "Scaled").await.len(), 1, "no second Event");
    assert_eq!(
        action,
        Action::requeue(
            scaling::poll_interval(&before.spec.autoscaling).saturating_sub(since_poll)
        ),
        "requeued for the next poll, due one interval after the last"
    );
}

#[tokio::test]
async fn a_failed_measurement_keeps_the_replicas_and_says_why() {
    let (name, client, ctx) = scaled_pipeline().await;
    let unreachable = json!({ "spec": { "kafka": { "bootstrapServers": "127.0.0.1:1" } } });
    api::<EventPipeline>(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&unreachable))
        .await
        .unwrap();

    reconcile_stored(&ctx, &name).await.unwrap_err();

    assert_eq!(
        consumer_replicas(&client, &name).await,
        Some(5),
        "held, not spec.consumer.replicas"
    );
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let scaling = scaling_condition(&stored).expect("Scaling condition");
    assert_eq!(
        (scaling.status.as_str(), scaling.reason.as_str()),
        ("False", "MeasurementFailed")
    );
    assert!(
        scaling
            .message
            .starts_with("kept 5: lag measurement failed"),
        "{}",
        scaling.message
    );
    let status = stored.status.unwrap();
    assert_eq!(status.consumer.unwrap().desired_replicas, Some(5));
    assert_eq!(status.lag.unwrap().total, 450, "the last measurement stays");
    assert_eq!(events(&client, "Scaled").await.len(), 1);
    let errors =
        format!("eventflow_lag_measurement_errors_total{{pipeline=\"{NAMESPACE}/{name}\"}} 1");
    assert!(exposition(&ctx).contains(&errors));
}

#[tokio::test]
async fn a_pipeline_without_autoscaling_is_measured_but_not_scaled() {
    let mut pipeline = autoscaled_pipeline(&bootstrap());
    pipeline.spec.autoscaling.enabled = false;
    pipeline.spec.consumer.replicas = 3;
    produce(&pipeline, 75).await;
    let (name, client, ctx) = stored(pipeline, settings()).await;

    reconcile_stored(&ctx, &name).await.unwrap();

    assert_eq!(consumer_replicas(&client, &name).await, Some(3));
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert!(scaling_condition(&stored).is_none());
    let status = stored.status.unwrap();
    let total = 75 * u64::try_from(PARTITIONS).unwrap();
    assert_eq!(
        status.lag.unwrap().total,
        total,
        "measured for the LAG column"
    );
    assert_eq!(status.summary.lag, total.to_string());
    assert_eq!(status.consumer.unwrap().desired_replicas, Some(3));
    assert!(!exposition(&ctx).contains("eventflow_consumer_group_lag"));
}

#[tokio::test]
async fn deleting_a_pipeline_forgets_its_scaling_series() {
    let (name, client, ctx) = scaled_pipeline().await;
    let mut deleting = api::<EventPipeline>(&client).get(&name).await.unwrap();
    deleting.spec.topic.deletion_policy = DeletionPolicy::Retain;
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
    let label = format!("pipeline=\"{NAMESPACE}/{name}\"");
    assert!(exposition(&ctx).contains(&label));

    reconcile(Arc::new(deleting), Arc::clone(&ctx))
        .await
        .unwrap();

    assert!(!exposition(&ctx).contains(&label), "series forgotten");
}
