//! The reconciler: `EventPipeline` in, topic + Deployments + Service + status out.
//!
//! `reconcile` reads as its phases: finalizer → validate (pure) → resolve the topic under the
//! topic policy ([`tenancy`]) → check the schema versions against what is served (the schema
//! `ConfigMap`) → claim the topic ([`claims`]; a refusal applies nothing) → ensure the topic (and
//! its dead-letter topic) → scale (measure the lag; decide, autoscaled pipelines only) → build
//! the desired objects (pure) → server-side apply → read back readiness (and check the Secrets
//! the pods read) → status (only when changed) → events → requeue (at the next lag poll when
//! sooner; the Events are [`changes`]' and [`trouble`]'s). kube's finalizer helper
//! (`kube::runtime::finalizer`) adds the finalizer before the first of these phases and, on
//! deletion, removes it once [`finalizer::cleanup`] succeeded (then [`Context::forget`] drops
//! all it kept about the pipeline).
//!
//! The seam with the scaler (`crate::scaling`, `crate::kafka::lag`): the scaling phase
//! ([`scale::phase`]) runs between "ensure the topic" and "build". It measures `status.lag` of
//! every pipeline and, for autoscaled ones, decides
//! `status.consumer.{desiredReplicas,lastScaleTime,lastScaleReason}` and the `Scaling`
//! condition (others keep [`crate::resources::consumer::replicas`]); the replicas go to
//! [`resources::desired`] as a value, so this reconciler
//! stays the Deployment's only writer, and the replicas it applied are what the next poll counts
//! as current (the Deployment is not read back). [`status::write`] writes the scaler's part
//! with the rest of the status, in one apply under the one field manager. What every reconcile
//! shares is [`context`].

pub mod apply;
pub mod cached;
mod changes;
pub mod claims;
mod context;
pub mod events;
pub mod finalizer;
mod quantity;
pub mod references;
pub mod run;
pub mod scale;
pub mod status;
pub mod summary;
pub mod tenancy;
pub mod trouble;
mod watch_sync;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    runtime::{controller::Action, finalizer::Event as FinalizerEvent, reflector::ObjectRef},
};
use tracing::instrument;

use crate::{
    Error, Result,
    crd::{EventPipeline, TopicStatus},
    kafka::{
        KafkaConnection,
        topic::{self, DesiredTopic, PipelineTopicReports, TopicChange, TopicReport},
    },
    resources,
};
pub use context::{Context, Settings};
use events::Reason;
use status::DesiredCondition;

/// Reconciles one pipeline (the controller's reconcile function).
#[instrument(skip_all, fields(pipeline = %pipeline.name_any(), namespace = pipeline.namespace().unwrap_or_default()))]
pub async fn reconcile(pipeline: Arc<EventPipeline>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let api = Api::<EventPipeline>::namespaced(
        ctx.client.clone(),
        &pipeline.namespace().unwrap_or_default(),
    );
    let result = kube::runtime::finalizer(
        &api,
        finalizer::FINALIZER,
        Arc::clone(&pipeline),
        |event| async {
            match event {
                FinalizerEvent::Apply(pipeline) => {
                    Box::pin(reconcile_spec(&api, &pipeline, &ctx)).await
                }
                FinalizerEvent::Cleanup(pipeline) => {
                    let action = finalizer::cleanup(&api, &pipeline, &ctx).await?;
                    ctx.forget(&pipeline);
                    Ok(action)
                }
            }
        },
    )
    .await
    .map_err(Error::from);
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
    if let Error::CleanupWaiting { wait, .. } = error {
        tracing::debug!(pipeline = %pipeline.name_any(), retry_in = ?wait, "cleanup waits");
        return Action::requeue(*wait);
    }
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
    if let Err(problem) = ctx.spec_checks.validate(pipeline, &ctx.build) {
        return refuse_invalid(api, pipeline, ctx, Reason::InvalidSpec, problem).await;
    }
    let pipeline = &match ctx.settings.topic_policy.resolve(pipeline) {
        Ok(resolved) => resolved,
        Err(refusal) => {
            return refuse_invalid(api, pipeline, ctx, refusal.reason, refusal.message).await;
        }
    };
    let served = served_schemas(pipeline, ctx).await?;
    if let Err(problem) = resources::validate::schema_evolution(pipeline, &served) {
        return refuse_invalid(api, pipeline, ctx, Reason::IncompatibleSchema, problem).await;
    }
    // The connection (with `kafka.secretRef` read through the API) serves both phases.
    let (topic, connection) = match KafkaConnection::for_pipeline(&ctx.client, pipeline).await {
        Ok(connection) => match ensure_topic(pipeline, ctx, &connection).await {
            Ok(Err(refusal)) => return refuse_topic(api, pipeline, ctx, refusal).await,
            Ok(Ok(report)) => (Ok(report), Some(connection)),
            Err(error) => (Err(error), Some(connection)),
        },
        Err(error) => (Err(error), None),
    };
    let scaling = scale::phase(ctx, pipeline, &topic, connection).await;
    let consumers = scaling
        .consumer
        .desired_replicas
        .unwrap_or_else(|| resources::consumer::replicas(pipeline));
    let desired = resources::desired(pipeline, &ctx.build, consumers);
    let applied = apply::apply_all(&ctx.client, pipeline, &desired, ctx.children.as_ref()).await?;
    ctx.scaler.applied(pipeline, consumers);
    let missing = references::missing_secrets(&ctx.client, pipeline, &ctx.secrets).await?;
    let sink = sink_condition(pipeline, ctx, &missing).await;
    let mut desired_conditions = conditions_of(pipeline, &topic, sink, &applied, &missing);
    let ready = desired_conditions.iter().all(|v| v.ok);
    desired_conditions.extend(scaling.condition.clone());
    write_status(
        api,
        pipeline,
        ctx,
        &desired_conditions,
        &topic,
        &applied,
        &scaling,
    )
    .await?;
    changes::publish_changes(pipeline, ctx, &topic, &scaling).await;
    ctx.warnings
        .observe(&ctx.recorder, pipeline, &desired_conditions)
        .await;
    topic?;
    Ok(requeue(&ctx.settings, ready, Some(scaling.next_poll)))
}

/// An invalid spec (or one whose schema versions cannot be served): `Ready=False` with the
/// reason, a Warning Event ([`trouble`]), then [`Error::InvalidSpec`], on which
/// [`error_policy`] waits for the next change. Nothing is applied, so the workloads keep what
/// they served.
async fn refuse_invalid(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    reason: Reason,
    problem: String,
) -> Result<Action> {
    refuse(api, pipeline, ctx, reason, problem.clone()).await?;
    Err(Error::InvalidSpec(problem))
}

/// A topic this pipeline may not use (another pipeline owns it, or adopting it is not
/// allowed): `Ready=False` with the reason, a Warning Event ([`trouble`]), nothing applied;
/// looked at again at the next progress check, so a released topic is noticed.
async fn refuse_topic(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    refusal: tenancy::TopicRefusal,
) -> Result<Action> {
    refuse(api, pipeline, ctx, refusal.reason, refusal.message).await?;
    Ok(Action::requeue(ctx.settings.progress_check))
}

/// `Ready=False` with `reason`, and its Warning Event ([`trouble`]).
async fn refuse(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    reason: Reason,
    message: String,
) -> Result<()> {
    let desired_condition =
        DesiredCondition::not_ok(status::READY, reason.as_str(), message.clone());
    let desired = status::desired_status(pipeline, &[desired_condition], None, None);
    status::write(api, pipeline, &desired).await?;
    ctx.warnings
        .raise(&ctx.recorder, pipeline, reason.as_str(), &message)
        .await;
    ctx.metrics.record_conditions(pipeline, &desired.conditions);
    Ok(())
}

/// The schema versions the pipeline's `ConfigMap` serves (from the watch cache when there is
/// one); none when it has no schema `ConfigMap`.
async fn served_schemas(
    pipeline: &EventPipeline,
    ctx: &Context,
) -> Result<Vec<crate::crd::SchemaVersion>> {
    let namespace = pipeline.namespace().unwrap_or_default();
    let name = resources::meta::schema_config_map_name(pipeline);
    let stored = match &ctx.children {
        Some(children) => children
            .config_maps
            .get(&ObjectRef::new(&name).within(&namespace))
            .map(|stored| stored.object())
            .transpose()?,
        None => {
            Api::<ConfigMap>::namespaced(ctx.client.clone(), &namespace)
                .get_opt(&name)
                .await?
        }
    };
    Ok(stored
        .as_ref()
        .map(resources::schema::served_versions)
        .unwrap_or_default())
}

/// The pipeline's topic and dead-letter topic ([`topic::ensure_with_dead_letter`]) once the
/// pipeline owns the topic ([`tenancy::claim`]), unless this object's were ensured recently; a
/// Normal Event when the dead-letter topic is created; the refusal when it may not own it.
async fn ensure_topic(
    pipeline: &EventPipeline,
    ctx: &Context,
    connection: &KafkaConnection,
) -> Result<Result<TopicReport, tenancy::TopicRefusal>> {
    let admin = ctx.kafka.get(pipeline, connection)?;
    let desired = DesiredTopic::with_dead_letter(pipeline);
    if let Some(report) = ctx.topics.get(pipeline, connection, &desired) {
        return Ok(Ok(report));
    }
    if let Some(refusal) = tenancy::claim(&ctx.claims, &admin, pipeline).await? {
        return Ok(Err(refusal));
    }
    let PipelineTopicReports {
        topic: report,
        dead_letter,
    } = topic::ensure_with_dead_letter(&admin, &desired).await?;
    if dead_letter.changes.contains(&TopicChange::Created) {
        let note = format!("created dead-letter topic {}", dead_letter.name);
        events::normal(
            &ctx.recorder,
            pipeline,
            Reason::DeadLetterTopicCreated,
            note,
        )
        .await;
    }
    ctx.topics
        .keep(pipeline, connection, desired.to_vec(), &report);
    Ok(Ok(report))
}

/// `SinkReady`: whether the sink's MongoDB answers a ping ([`crate::sink`]); none while the
/// pipeline is suspended (no pod writes to it) or the settings turn the check off.
async fn sink_condition(
    pipeline: &EventPipeline,
    ctx: &Context,
    missing_secrets: &[references::MissingSecret],
) -> Option<DesiredCondition> {
    if pipeline.spec.suspend || !ctx.settings.check_sinks {
        return None;
    }
    let missing = missing_secrets
        .iter()
        .find(|m| m.field == references::SINK_FIELD);
    Some(match missing {
        Some(missing) => {
            DesiredCondition::not_ok(status::SINK_READY, "SecretMissing", missing.message.clone())
        }
        None => match ctx.sinks.check(&ctx.client, pipeline).await {
            Ok(()) => DesiredCondition::ok(status::SINK_READY, "Reachable", "MongoDB answers ping"),
            Err(unavailable) => DesiredCondition::not_ok(
                status::SINK_READY,
                "MongoDBUnavailable",
                unavailable.to_string(),
            ),
        },
    })
}

/// The conditions of a reconcile that applied the workloads; `Ready` first, the sink's right
/// after the topic's (a failing MongoDB is the cause of consumers that are not ready).
fn conditions_of(
    pipeline: &EventPipeline,
    topic: &Result<TopicReport>,
    sink: Option<DesiredCondition>,
    applied: &apply::Applied,
    missing_secrets: &[references::MissingSecret],
) -> Vec<DesiredCondition> {
    let workload = |type_, deployment, producer: bool| {
        let missing: Vec<&str> = missing_secrets
            .iter()
            .filter(|m| producer || m.reader == references::Reader::Both)
            .map(|m| m.message.as_str())
            .collect();
        if missing.is_empty() {
            status::workload_condition(type_, deployment)
        } else {
            DesiredCondition::not_ok(type_, "SecretMissing", missing.join("; "))
        }
    };
    let mut desired_conditions = vec![status::topic_condition(topic)];
    desired_conditions.extend(sink);
    desired_conditions.extend([
        workload(status::PRODUCER_READY, &applied.producer, true),
        workload(status::CONSUMER_READY, &applied.consumer, false),
    ]);
    let ready = if pipeline.spec.suspend {
        DesiredCondition::not_ok(
            status::READY,
            "Suspended",
            "spec.suspend is true: no pods run",
        )
    } else {
        status::ready_condition(&desired_conditions)
    };
    desired_conditions.insert(0, ready);
    desired_conditions
}

async fn write_status(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    desired_conditions: &[DesiredCondition],
    topic: &Result<TopicReport>,
    applied: &apply::Applied,
    scaling: &scale::Outcome,
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
    let mut desired =
        status::desired_status(pipeline, desired_conditions, topic_status, Some(consumers));
    scaling.write_into(&mut desired);
    if scale::autoscaled(pipeline) {
        ctx.scaler.running(pipeline, consumers);
    }
    status::write(api, pipeline, &desired).await?;
    ctx.metrics.record_conditions(pipeline, &desired.conditions);
    Ok(())
}

/// The next reconcile: the resync or progress check, or the next lag poll when sooner (at
/// least 100 ms away).
pub fn requeue(settings: &Settings, ready: bool, next_poll: Option<Duration>) -> Action {
    let after = if ready {
        settings.resync
    } else {
        settings.progress_check
    };
    let poll = next_poll.map_or(after, |poll| poll.max(Duration::from_millis(100)));
    Action::requeue(after.min(poll))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requeue_is_the_sooner_of_the_check_and_the_next_poll() {
        let settings = Settings::default();
        let ms = Duration::from_millis;
        let cases = [
            (true, None, settings.resync),
            (false, None, settings.progress_check),
            (true, Some(ms(7_000)), ms(7_000)),
            (false, Some(ms(60_000)), settings.progress_check),
            (false, Some(ms(3)), ms(100)),
        ];
        for (ready, next_poll, expected) in cases {
            assert_eq!(
                requeue(&settings, ready, next_poll),
                Action::requeue(expected),
                "{ready} {next_poll:?}"
            );
        }
    }
}
