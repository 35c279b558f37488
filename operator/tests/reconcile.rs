//! `reconcile` against an in-memory Kubernetes API (kube-fake-client) and the dev Kafka broker.
//!
//! The fake client has no watch, so each test calls `reconcile` directly with the stored object,
//! as the controller would after an event. Only fast unit-level cases stay here: what a real API
//! server proves (children, status, spec changes, deletion policies, bounded cleanup) is tested
//! end to end in `tests/cluster`.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use eventflow_operator::{
    Error,
    controller::{Settings, error_policy, finalizer, reconcile},
    crd::{DeletionPolicy, EventPipeline},
    kafka::{
        KafkaAdmin, KafkaConnection,
        topic::{self, DesiredTopic},
    },
};
use k8s_openapi::{
    api::{apps::v1::Deployment, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff,
};
use kube::{
    Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::controller::Action,
};
use serde_json::json;
use support::{
    api, bootstrap, cached_children, condition, context, context_with_children, fake,
    fake_counting_writes, fake_recording_patches, fake_with, pipeline, reconcile_stored, secret,
    stored,
};

async fn event_reasons(client: &Client) -> Vec<String> {
    let events = api::<Event>(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    events.items.into_iter().filter_map(|e| e.reason).collect()
}

fn admin(bootstrap: &str) -> Arc<KafkaAdmin> {
    Arc::new(
        KafkaAdmin::connect(&KafkaConnection::plain(bootstrap), Duration::from_secs(5)).unwrap(),
    )
}

#[tokio::test]
async fn second_reconcile_changes_nothing() {
    let pipeline = pipeline(&bootstrap(), "ep");
    let (name, client, ctx) = stored(pipeline, Settings::default()).await;
    reconcile_stored(&ctx, &name).await.unwrap();
    let before = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let events_before = event_reasons(&client).await.len();

    reconcile_stored(&ctx, &name).await.unwrap();

    let after = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert_eq!(
        after.resource_version(),
        before.resource_version(),
        "no status or finalizer write"
    );
    assert_eq!(after.status, before.status);
    assert_eq!(
        event_reasons(&client).await.len(),
        events_before,
        "no new events"
    );
}

/// A reconcile may read the pipeline from the watch cache before the cache has the status the
/// previous reconcile wrote: that stale copy publishes neither a second `Created` nor a
/// `TopicAdopted` for the topic the first reconcile created.
#[tokio::test]
async fn a_stale_copy_without_the_status_publishes_no_second_created() {
    let pipeline = pipeline(&bootstrap(), "stale");
    let (name, client, ctx) = stored(pipeline, Settings::default()).await;
    reconcile_stored(&ctx, &name).await.unwrap();
    let mut stale = api::<EventPipeline>(&client).get(&name).await.unwrap();
    stale.status = None;

    reconcile(Arc::new(stale), Arc::clone(&ctx)).await.unwrap();

    let reasons = event_reasons(&client).await;
    let count = |reason: &str| reasons.iter().filter(|r| *r == reason).count();
    assert_eq!(
        (
            count("Created"),
            count("TopicCreated"),
            count("TopicAdopted")
        ),
        (1, 1, 0),
        "{reasons:?}"
    );
}

/// The steady state at scale: a reconcile of a pipeline whose children (in the watch caches),
/// topic and status already say what it would write sends no write at all, and reads none of
/// the Secrets it found before; a spec change does write.
#[tokio::test]
async fn a_reconcile_that_changes_nothing_sends_no_write() {
    let pipeline = pipeline(&bootstrap(), "nw");
    let name = pipeline.name_any();
    let (writes, secret_reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = fake_counting_writes(pipeline, &writes, &secret_reads).await;
    reconcile_stored(&context(client.clone(), Settings::default()), &name)
        .await
        .unwrap();
    let ctx = context_with_children(client.clone(), cached_children(&client).await);
    let settled = writes.load(Ordering::SeqCst);
    assert!(
        settled >= 5,
        "set-up: the first reconcile wrote ({settled})"
    );

    reconcile_stored(&ctx, &name).await.unwrap();
    let found = secret_reads.load(Ordering::SeqCst);
    assert!(found >= 3, "set-up: the Secrets were read ({found})");
    reconcile_stored(&ctx, &name).await.unwrap();
    assert_eq!(
        writes.load(Ordering::SeqCst),
        settled,
        "no write when nothing changed"
    );
    assert_eq!(
        secret_reads.load(Ordering::SeqCst),
        found,
        "no Secret read again for an unchanged pipeline"
    );

    let spec = json!({"spec": {"producer": {"replicas": 4}}});
    api::<EventPipeline>(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&spec))
        .await
        .unwrap();
    let changed = writes.load(Ordering::SeqCst);
    reconcile_stored(&ctx, &name).await.unwrap();
    let producer = api::<Deployment>(&client)
        .get(&format!("{name}-producer"))
        .await
        .unwrap();
    assert_eq!(producer.spec.unwrap().replicas, Some(4));
    assert!(
        writes.load(Ordering::SeqCst) > changed,
        "a spec change is applied"
    );
}

/// A removal from the spec (here `producer.resources.limits`) changes the desired Deployment:
/// the reconcile applies it, although the stored Deployment holds every field still desired.
#[tokio::test]
async fn a_field_removed_from_the_spec_is_applied() {
    let pipeline = pipeline(&bootstrap(), "rm");
    let name = pipeline.name_any();
    let patched = Arc::new(Mutex::new(Vec::new()));
    let client = fake_recording_patches(pipeline, &patched).await;
    reconcile_stored(&context(client.clone(), Settings::default()), &name)
        .await
        .unwrap();
    let ctx = context_with_children(client.clone(), cached_children(&client).await);
    reconcile_stored(&ctx, &name).await.unwrap();
    let spec = json!({"spec": {"producer": {"resources": {"limits": null}}}});
    api::<EventPipeline>(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&spec))
        .await
        .unwrap();
    patched.lock().unwrap().clear();

    reconcile_stored(&ctx, &name).await.unwrap();
    let producer = format!("{name}-producer");
    assert_eq!(
        *patched.lock().unwrap(),
        [producer],
        "the removal of producer.resources.limits is applied, and nothing else"
    );
}

#[tokio::test]
async fn partition_decrease_is_refused_and_reported() {
    let bootstrap = bootstrap();
    let pipeline = pipeline(&bootstrap, "ep");
    let topic_name = pipeline.topic_name();
    let (name, client, ctx) = stored(pipeline, Settings::default()).await;
    reconcile_stored(&ctx, &name).await.unwrap();

    // The API server's CEL rule refuses this; an older CRD or a forced write may not.
    let change = json!({ "spec": { "topic": { "partitions": 2 } } });
    api::<EventPipeline>(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&change))
        .await
        .unwrap();
    reconcile_stored(&ctx, &name).await.unwrap();

    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let topic_ready = condition(&stored, "TopicReady");
    assert_eq!(
        (topic_ready.status.as_str(), topic_ready.reason.as_str()),
        ("False", "PartitionDecreaseRefused")
    );
    assert!(
        topic_ready.message.contains("cannot shrink"),
        "{}",
        topic_ready.message
    );
    assert_eq!(condition(&stored, "Ready").status, "False");
    assert_eq!(
        topic::describe(&admin(&bootstrap), &topic_name)
            .await
            .unwrap()
            .unwrap()
            .partitions,
        6
    );
    assert!(
        event_reasons(&client)
            .await
            .contains(&"PartitionDecreaseRefused".to_owned())
    );
}

#[tokio::test]
async fn invalid_spec_waits_with_ready_false_and_creates_nothing() {
    let mut pipeline = pipeline("127.0.0.1:1", "ep");
    pipeline.spec.autoscaling.min_replicas = 9;
    let name = pipeline.name_any();
    let client = fake(pipeline.clone()).await;
    let ctx = context(client.clone(), Settings::default());

    let error = reconcile_stored(&ctx, &name).await.unwrap_err();

    let expected = "autoscaling.minReplicas must not exceed autoscaling.maxReplicas";
    assert!(
        matches!(&error, Error::InvalidSpec(message) if message == expected),
        "{error}"
    );
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let ready = condition(&stored, "Ready");
    assert_eq!(
        (
            ready.status.as_str(),
            ready.reason.as_str(),
            ready.message.as_str()
        ),
        ("False", "InvalidSpec", expected)
    );
    let action = error_policy(Arc::new(stored), &error, Arc::clone(&ctx));
    assert_eq!(action, Action::await_change());
    assert!(
        api::<Deployment>(&client)
            .get_opt(&format!("{name}-producer"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn kafka_outage_is_a_condition_and_a_transient_error() {
    let pipeline = pipeline("127.0.0.1:1", "ep");
    let (name, client, ctx) = stored(pipeline, Settings::default()).await;

    let error = reconcile_stored(&ctx, &name).await.unwrap_err();

    assert!(matches!(error, Error::Kafka(_)), "{error:?}");
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let topic_ready = condition(&stored, "TopicReady");
    assert_eq!(
        (topic_ready.status.as_str(), topic_ready.reason.as_str()),
        ("False", "KafkaUnavailable")
    );
    assert!(
        api::<Deployment>(&client)
            .get_opt(&format!("{name}-producer"))
            .await
            .unwrap()
            .is_some()
    );
    let action = error_policy(Arc::new(stored), &error, ctx);
    assert_eq!(action, Action::requeue(Settings::default().backoff_base));
}

#[tokio::test]
async fn an_existing_topic_is_adopted_only_when_the_spec_says_so() {
    let bootstrap = bootstrap();
    let pipeline = pipeline(&bootstrap, "ep");
    let name = pipeline.name_any();
    topic::ensure(&admin(&bootstrap), &DesiredTopic::of(&pipeline))
        .await
        .unwrap();
    let client = fake(pipeline).await;
    let ctx = context(client.clone(), Settings::default());

    reconcile_stored(&ctx, &name).await.unwrap();
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert_eq!(condition(&stored, "Ready").reason, "TopicNotAdopted");
    assert!(stored.status.unwrap().topic.is_none(), "nothing applied");

    let adopt = json!({"spec": {"topic": {"adopt": true}}});
    api::<EventPipeline>(&client)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&adopt))
        .await
        .unwrap();
    reconcile_stored(&ctx, &name).await.unwrap();

    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    assert_eq!(condition(&stored, "TopicReady").status, "True");
    let reasons = event_reasons(&client).await;
    assert!(reasons.contains(&"TopicAdopted".to_owned()), "{reasons:?}");
    assert!(!reasons.contains(&"TopicCreated".to_owned()), "{reasons:?}");
}

#[tokio::test]
async fn a_missing_secret_is_named_in_the_workload_conditions() {
    let pipeline = pipeline(&bootstrap(), "ep");
    let name = pipeline.name_any();
    let client = fake_with(pipeline, vec![secret("mongodb", "url", "typo in the key")]).await;
    let ctx = context(client.clone(), Settings::default());

    reconcile_stored(&ctx, &name).await.unwrap();

    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let producer = condition(&stored, "ProducerReady");
    assert_eq!(producer.reason, "SecretMissing");
    assert!(
        producer
            .message
            .contains("secret shop/mongodb has no key uri"),
        "{}",
        producer.message
    );
    assert!(
        producer
            .message
            .contains("secret shop/ingest-tokens not found"),
        "{}",
        producer.message
    );
    let consumer = condition(&stored, "ConsumerReady");
    assert!(
        !consumer.message.contains("ingest-tokens"),
        "the consumer reads no tokens"
    );
    assert_eq!(condition(&stored, "Ready").reason, "SecretMissing");
}

#[tokio::test]
async fn kafka_properties_come_from_the_kafka_secret() {
    let mut pipeline = pipeline(&bootstrap(), "ep");
    pipeline.spec.kafka.secret_ref = Some(eventflow_operator::crd::SecretReference {
        name: "kafka-client".to_owned(),
    });
    let name = pipeline.name_any();
    let properties = secret("kafka-client", "security.protocol", "carrier-pigeon");
    let client = fake_with(pipeline.clone(), vec![properties]).await;
    let ctx = context(client.clone(), Settings::default());

    let error = reconcile_stored(&ctx, &name).await.unwrap_err();

    assert!(error.to_string().contains("security.protocol"), "{error}");
    let stored = api::<EventPipeline>(&client).get(&name).await.unwrap();
    let topic_ready = condition(&stored, "TopicReady");
    assert_eq!(topic_ready.reason, "KafkaUnavailable");
    assert!(
        topic_ready.message.contains("carrier-pigeon"),
        "{}",
        topic_ready.message
    );

    let without_secret = fake_with(pipeline, Vec::new()).await;
    let ctx = context(without_secret.clone(), Settings::default());
    reconcile_stored(&ctx, &name).await.unwrap_err();
    let stored = api::<EventPipeline>(&without_secret)
        .get(&name)
        .await
        .unwrap();
    assert_eq!(
        condition(&stored, "TopicReady").reason,
        "KafkaSecretUnavailable"
    );
}

/// A deleted pipeline (`deletionPolicy: Delete`) whose Kafka cannot be reached.
fn deleted_with_unreachable_kafka() -> EventPipeline {
    let mut pipeline = pipeline("127.0.0.1:1", "gone");
    pipeline.spec.topic.deletion_policy = DeletionPolicy::Delete;
    pipeline.metadata.finalizers = Some(vec![finalizer::FINALIZER.to_owned()]);
    pipeline.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
    pipeline
}

#[tokio::test]
async fn a_failed_cleanup_is_not_attempted_again_by_its_own_annotation_patch() {
    let (name, client, ctx) = stored(deleted_with_unreachable_kafka(), Settings::default()).await;
    let pipelines = api::<EventPipeline>(&client);

    let first = pipelines.get(&name).await.unwrap();
    reconcile(Arc::new(first), Arc::clone(&ctx))
        .await
        .unwrap_err();
    let after_first = pipelines.get(&name).await.unwrap();
    assert_eq!(finalizer::attempts(&after_first), 1);

    // The attempts annotation's own watch event reconciles at once: that must not be an attempt.
    let error = reconcile(Arc::new(after_first), Arc::clone(&ctx))
        .await
        .unwrap_err();
    let after_second = pipelines.get(&name).await.unwrap();
    assert_eq!(
        finalizer::attempts(&after_second),
        1,
        "the reconcile caused by the annotation patch attempted the cleanup again at once"
    );
    // It requeues for the due time instead: the first wait is the backoff base (5 s).
    let Error::CleanupWaiting { attempts: 1, wait } = error else {
        panic!("{error:?}");
    };
    let base = Settings::default().backoff_base;
    assert!(
        wait <= base && wait + Duration::from_secs(2) > base,
        "{wait:?}"
    );
    let action = error_policy(Arc::new(after_second), &error, ctx);
    assert_eq!(action, Action::requeue(wait));
}
