//! The Events of a reconcile: what it created, changed, scaled or refused.

use kube::Resource;

use super::{
    Context,
    events::{self, Reason},
    scale,
};
use crate::{
    Result,
    crd::EventPipeline,
    kafka::topic::{TopicChange, TopicReport},
};

/// Events for what this reconcile created, changed, scaled or refused.
pub(super) async fn announce(
    pipeline: &EventPipeline,
    ctx: &Context,
    topic: &Result<TopicReport>,
    scaling: &scale::Outcome,
) {
    if let Some(note) = scaling.scaled.clone() {
        events::normal(&ctx.recorder, pipeline, Reason::Scaled, note).await;
    }
    let observed = pipeline.status.as_ref().and_then(|s| s.observed_generation);
    let spec_changed = observed != pipeline.meta().generation;
    if let Ok(report) = topic {
        let first_time = pipeline
            .status
            .as_ref()
            .and_then(|s| s.topic.as_ref())
            .is_none();
        announce_topic(pipeline, ctx, report, first_time, spec_changed).await;
    }
    if spec_changed {
        let (reason, verb) = match observed {
            None => (Reason::Created, "created"),
            Some(_) => (Reason::Updated, "updated"),
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
        events::normal(recorder, pipeline, Reason::TopicAdopted, note).await;
    }
    for change in &report.changes {
        let (reason, note) = describe_change(&report.name, change);
        events::normal(recorder, pipeline, reason, note).await;
    }
    if let (Some(refusal), true) = (&report.refusal, spec_changed) {
        let note = refusal.message(&report.name);
        events::warning(
            recorder,
            pipeline,
            Reason::TopicRefused(refusal.reason()),
            note,
        )
        .await;
    }
}

fn describe_change(topic: &str, change: &TopicChange) -> (Reason, String) {
    match change {
        TopicChange::Created => (Reason::TopicCreated, format!("created topic {topic}")),
        TopicChange::ConfigUpdated(keys) => (
            Reason::TopicConfigUpdated,
            format!("topic {topic}: set {}", keys.join(", ")),
        ),
        TopicChange::PartitionsGrown { from, to } => (
            Reason::PartitionsIncreased,
            format!("topic {topic}: partitions {from} -> {to}"),
        ),
    }
}
