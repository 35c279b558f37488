//! The reconciler: `EventPipeline` in, topic + Deployments + Service + status out.
//!
//! `reconcile` reads as its phases: finalizer → validate (pure) → ensure the topic (and its
//! dead-letter topic) → scale (measure the lag and decide, autoscaled pipelines only) → build
//! the desired objects (pure) → server-side apply → read back readiness (and check the Secrets
//! the pods read) → status (only when changed) → events → requeue (at the next lag poll when
//! sooner). Deletion goes through [`finalizer::cleanup`] (and forgets the scaler's memory).
//!
//! The seam with the scaler (`crate::scaling`, `crate::kafka::lag`): the scaling phase
//! ([`scale::phase`], autoscaled pipelines only) runs between "ensure the topic" and "build". It
//! decides `status.lag`, `status.consumer.{desiredReplicas,lastScaleTime,lastScaleReason}` and
//! the `Scaling` condition; the decided replicas go to [`resources::desired`] as a value (without
//! a decision, [`crate::resources::consumer::replicas`] says where to start), so this reconciler
//! stays the Deployment's only writer, and the replicas it applied are what the next poll counts
//! as current (the Deployment is not read back). [`status::write`] writes the scaler's part with the rest of the status, in one apply
//! under the one field manager.

pub mod apply;
pub mod events;
pub mod finalizer;
pub mod references;
pub mod run;
pub mod scale;
pub mod status;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use kube::{Api, Client, Resource, ResourceExt, runtime::controller::Action};
use tracing::instrument;

use crate::{
    Error, Result,
    crd::{EventPipeline, TopicStatus},
    kafka::{
        KafkaAdmins, KafkaConnection, lag,
        topic::{self, DesiredTopic, RecentTopics, TopicChange, TopicReport},
    },
    metrics::Metrics,
    resources::{self, BuildContext, validate::Verdicts},
};
use status::Verdict;

/// Tunables of the reconciler.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cleanup attempts before the finalizer is removed with Kafka state left behind.
    pub cleanup_attempts: u32,
    /// First retry delay after a transient error; doubles per failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Requeue of a pipeline that is ready (drift check).
    pub resync: Duration,
    /// Requeue of a pipeline that is not ready yet.
    pub progress_check: Duration,
    /// Bound of each broker round trip of a lag measurement.
    pub lag_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cleanup_attempts: 5,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            resync: Duration::from_secs(300),
            progress_check: Duration::from_secs(15),
            lag_timeout: lag::DEFAULT_TIMEOUT,
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Operator-wide settings of the builders.
    pub build: BuildContext,
    /// Cached Kafka admin clients.
    pub kafka: KafkaAdmins,
    /// Publishes Kubernetes Events.
    pub recorder: events::Publisher,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables.
    pub settings: Settings,
    /// Lag measurement, per-pipeline scaling history and the scaler's metrics.
    pub scaler: scale::Scaler,
    /// The controller's watch caches of the children (none: every reconcile applies them).
    pub children: Option<apply::Children>,
    /// The spec checks' verdict per pipeline and generation.
    pub verdicts: Verdicts,
    /// The last topic reports, reused until the resync (no broker call per lag poll).
    pub topics: RecentTopics,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context over a client and the operator's settings.
    pub fn new(
        client: Client,
        build: BuildContext,
        kafka: KafkaAdmins,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let reporter = kube::runtime::events::Reporter {
            controller: resources::meta::FIELD_MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let reader = lag::LagReader::new(settings.lag_timeout);
        let topics = RecentTopics::new(settings.resync);
        Self {
            scaler: scale::Scaler::new(reader, metrics.scaling().clone()),
            recorder: events::Publisher::new(client.clone(), reporter),
            client,
            build,
            kafka,
            metrics,
            settings,
            children: None,
            verdicts: Verdicts::default(),
            topics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// This context reading the children from the controller's watch caches.
    #[must_use]
    pub fn with_children(mut self, children: apply::Children) -> Self {
        self.children = Some(children);
        self
    }

    /// The retry delay after one more failure of `pipeline`.
    fn next_backoff(&self, pipeline: &EventPipeline) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let count = failures.entry(pipeline.object_key()).or_insert(0);
        *count = count.saturating_add(1);
        backoff_delay(&self.settings, *count)
    }

    fn reset_backoff(&self, pipeline: &EventPipeline) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&pipeline.object_key());
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("build", &self.build)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The retry delay after `failures` consecutive failures: base, doubling, capped at max.
pub fn backoff_delay(settings: &Settings, failures: u32) -> Duration {
    let factor = 2_u32.saturating_pow(failures.saturating_sub(1).min(16));
    settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max)
}

/// Reconciles one pipeline (the controller's reconcile function).
#[instrument(skip_all, fields(pipeline = %pipeline.name_any(), namespace = pipeline.namespace().unwrap_or_default()))]
pub async fn reconcile(pipeline: Arc<EventPipeline>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let api = Api::<EventPipeline>::namespaced(
        ctx.client.clone(),
        &pipeline.namespace().unwrap_or_default(),
    );
    let result = if pipeline.meta().deletion_timestamp.is_some() {
        let cleaned = finalizer::cleanup(&api, &pipeline, &ctx).await;
        if cleaned.is_ok() {
            ctx.scaler.forget(&pipeline);
            ctx.kafka.release(&pipeline);
            ctx.verdicts.forget(&pipeline);
            ctx.topics.forget(&pipeline);
        }
        cleaned
    } else {
        Box::pin(reconcile_spec(&api, &pipeline, &ctx)).await
    };
    let label = if result.is_ok() { "success" } else { "error" };
    ctx.metrics.reconciled(label, started.elapsed());
    ctx.metrics.kafka_clients(ctx.kafka.cached());
    if result.is_ok() {
        ctx.reset_backoff(&pipeline);
    }
    result
}

/// What to do after a failed reconcile: wait for a change when retrying cannot help, else back off.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube's Controller::run requires"
)]
pub fn error_policy(pipeline: Arc<EventPipeline>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error(error.kind());
    if error.is_permanent() {
        tracing::warn!(%error, pipeline = %pipeline.name_any(), "waiting for a spec change");
        return Action::await_change();
    }
    let delay = ctx.next_backoff(&pipeline);
    tracing::warn!(%error, pipeline = %pipeline.name_any(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_spec(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
) -> Result<Action> {
    let stored = finalizer::ensure(api, pipeline).await?;
    let pipeline = stored.as_ref().unwrap_or(pipeline);
    if let Err(problem) = ctx.verdicts.validate(pipeline, &ctx.build) {
        return refuse_invalid(api, pipeline, ctx, problem).await;
    }
    // The connection (with `kafka.secretRef` read through the API) serves both phases.
    let (topic, connection) = match KafkaConnection::for_pipeline(&ctx.client, pipeline).await {
        Ok(connection) => (
            ensure_topic(pipeline, ctx, &connection).await,
            Some(connection),
        ),
        Err(error) => (Err(error), None),
    };
    let scaling = scale::phase(ctx, pipeline, &topic, connection).await;
    let consumers = scaling
        .as_ref()
        .and_then(|outcome| outcome.consumer.desired_replicas)
        .unwrap_or_else(|| resources::consumer::replicas(pipeline));
    let desired = resources::desired(pipeline, &ctx.build, consumers);
    let applied = apply::apply_all(&ctx.client, pipeline, &desired, ctx.children.as_ref()).await?;
    if scaling.is_some() {
        ctx.scaler.applied(pipeline, consumers);
    }
    let missing = references::missing_secrets(&ctx.client, pipeline).await?;
    let mut verdicts = verdicts(pipeline, &topic, &applied, &missing);
    let ready = verdicts.iter().all(|v| v.ok);
    verdicts.extend(scaling.as_ref().map(|outcome| outcome.verdict.clone()));
    write_status(
        api,
        pipeline,
        ctx,
        &verdicts,
        &topic,
        &applied,
        scaling.as_ref(),
    )
    .await?;
    announce(pipeline, ctx, &topic, scaling.as_ref()).await;
    topic?;
    Ok(requeue(
        ctx,
        ready,
        scaling.map(|outcome| outcome.next_poll),
    ))
}

/// An invalid spec: `Ready=False` with the reason, and wait for the next change.
async fn refuse_invalid(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    problem: String,
) -> Result<Action> {
    let verdict = Verdict::not_ok(status::READY, "InvalidSpec", problem.clone());
    let desired = status::desired_status(pipeline, &[verdict], None, None);
    if status::write(api, pipeline, &desired).await? {
        events::warning(&ctx.recorder, pipeline, "InvalidSpec", problem).await;
    }
    ctx.metrics.record_conditions(pipeline, &desired.conditions);
    Ok(Action::await_change())
}

/// The pipeline's topic, then its dead-letter topic (brokers often do not auto-create topics).
async fn ensure_topic(
    pipeline: &EventPipeline,
    ctx: &Context,
    connection: &KafkaConnection,
) -> Result<TopicReport> {
    let admin = ctx.kafka.get(pipeline, connection)?;
    let desired = [
        DesiredTopic::of(pipeline),
        DesiredTopic::dead_letter_of(pipeline),
    ];
    if let Some(report) = ctx.topics.get(pipeline, connection, &desired) {
        return Ok(report);
    }
    let [wanted, dead_letter_wanted] = &desired;
    let report = topic::ensure(&admin, wanted).await?;
    let dead_letter = topic::ensure(&admin, dead_letter_wanted).await?;
    if dead_letter.changes.contains(&TopicChange::Created) {
        let note = format!("created dead-letter topic {}", dead_letter.name);
        events::normal(&ctx.recorder, pipeline, "DeadLetterTopicCreated", note).await;
    }
    ctx.topics
        .keep(pipeline, connection, desired.to_vec(), &report);
    Ok(report)
}

fn verdicts(
    pipeline: &EventPipeline,
    topic: &Result<TopicReport>,
    applied: &apply::Applied,
    missing_secrets: &[references::MissingSecret],
) -> Vec<Verdict> {
    let workload = |type_, deployment, producer: bool| {
        let missing: Vec<&str> = missing_secrets
            .iter()
            .filter(|m| producer || m.reader == references::Reader::Both)
            .map(|m| m.message.as_str())
            .collect();
        if missing.is_empty() {
            status::workload_verdict(type_, deployment)
        } else {
            Verdict::not_ok(type_, "SecretMissing", missing.join("; "))
        }
    };
    let mut verdicts = vec![
        status::topic_verdict(topic),
        workload(status::PRODUCER_READY, &applied.producer, true),
        workload(status::CONSUMER_READY, &applied.consumer, false),
    ];
    let ready = if pipeline.spec.suspend {
        Verdict::not_ok(
            status::READY,
            "Suspended",
            "spec.suspend is true: no pods run",
        )
    } else {
        status::ready_verdict(&verdicts)
    };
    verdicts.insert(0, ready);
    verdicts
}

async fn write_status(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    verdicts: &[Verdict],
    topic: &Result<TopicReport>,
    applied: &apply::Applied,
    scaling: Option<&scale::Outcome>,
) -> Result<()> {
    let topic_status = topic.as_ref().ok().map(|report| TopicStatus {
        name: report.name.clone(),
        partitions: report.partitions,
    });
    let consumers = applied
        .consumer
        .status
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(0);
    let consumers = u32::try_from(consumers).unwrap_or(0);
    let mut desired = status::desired_status(pipeline, verdicts, topic_status, Some(consumers));
    if let Some(outcome) = scaling {
        outcome.write_into(&mut desired);
        ctx.scaler.running(pipeline, consumers);
    }
    status::write(api, pipeline, &desired).await?;
    ctx.metrics.record_conditions(pipeline, &desired.conditions);
    Ok(())
}

/// Events for what this reconcile created, changed, scaled or refused.
async fn announce(
    pipeline: &EventPipeline,
    ctx: &Context,
    topic: &Result<TopicReport>,
    scaling: Option<&scale::Outcome>,
) {
    if let Some(note) = scaling.and_then(|outcome| outcome.scaled.clone()) {
        events::normal(&ctx.recorder, pipeline, "Scaled", note).await;
    }
    let observed = pipeline.status.as_ref().and_then(|s| s.observed_generation);
    let spec_changed = observed != pipeline.meta().generation;
    if let Ok(report) = topic {
        announce_topic(pipeline, ctx, report, observed.is_none(), spec_changed).await;
    }
    if spec_changed {
        let (reason, verb) = match observed {
            None => ("Created", "created"),
            Some(_) => ("Updated", "updated"),
        };
        let generation = pipeline.meta().generation.unwrap_or(0);
        let note = format!(
            "producer and consumer Deployments and producer Service {verb} for generation {generation}"
        );
        events::normal(&ctx.recorder, pipeline, reason, note).await;
    }
}

async fn announce_topic(
    pipeline: &EventPipeline,
    ctx: &Context,
    report: &TopicReport,
    first_time: bool,
    spec_changed: bool,
) {
    let recorder = &ctx.recorder;
    if report.existed && first_time {
        let note = format!(
            "adopted existing topic {} ({} partitions)",
            report.name, report.partitions
        );
        events::normal(recorder, pipeline, "TopicAdopted", note).await;
    }
    for change in &report.changes {
        let (reason, note) = describe_change(&report.name, change);
        events::normal(recorder, pipeline, reason, note).await;
    }
    if let (Some(refusal), true) = (&report.refusal, spec_changed) {
        let note = refusal.message(&report.name);
        events::warning(recorder, pipeline, refusal.reason(), note).await;
    }
}

fn describe_change(topic: &str, change: &TopicChange) -> (&'static str, String) {
    match change {
        TopicChange::Created => ("TopicCreated", format!("created topic {topic}")),
        TopicChange::ConfigUpdated(keys) => (
            "TopicConfigUpdated",
            format!("topic {topic}: set {}", keys.join(", ")),
        ),
        TopicChange::PartitionsGrown { from, to } => (
            "PartitionsIncreased",
            format!("topic {topic}: partitions {from} -> {to}"),
        ),
    }
}

/// The next reconcile: the resync or progress check, or the next lag poll when sooner.
fn requeue(ctx: &Context, ready: bool, next_poll: Option<Duration>) -> Action {
    let after = if ready {
        ctx.settings.resync
    } else {
        ctx.settings.progress_check
    };
    let poll = next_poll.map_or(after, |poll| poll.max(Duration::from_millis(100)));
    Action::requeue(after.min(poll))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_failure_up_to_the_cap() {
        let settings = Settings::default();
        let delays: Vec<u64> = [1, 2, 3, 7, 40]
            .into_iter()
            .map(|n| backoff_delay(&settings, n).as_secs())
            .collect();
        assert_eq!(delays, [5, 10, 20, 300, 300]);
    }
}
