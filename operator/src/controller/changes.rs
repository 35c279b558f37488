//! The Events of a reconcile: what it created, changed or scaled. A topic that the pipeline
//! had and that was created again is a Warning: the events it held are gone.
//!
//! Which generation's `Created`/`Updated` Event was published lives in
//! [`PublishedGenerations`], not only in the status: a reconcile may read the pipeline from the
//! watch cache before the cache has the status the previous reconcile wrote, and would publish
//! the same generation's Event twice.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

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

/// The generation of each pipeline (`namespace/name`) whose `Created`/`Updated` Event was
/// published.
#[derive(Debug, Default)]
pub struct PublishedGenerations(Mutex<HashMap<String, i64>>);

impl PublishedGenerations {
    /// The generation published last for `pipeline`, and records its current one.
    fn published(&self, pipeline: &EventPipeline) -> Option<i64> {
        let mut published = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = pipeline.object_key();
        match pipeline.meta().generation {
            Some(generation) => published.insert(key, generation),
            None => published.get(&key).copied(),
        }
    }

    /// Forgets `pipeline` (deleted).
    pub fn forget(&self, pipeline: &EventPipeline) {
        let mut published = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        published.remove(&pipeline.object_key());
    }
}

/// Events for what this reconcile created, changed or scaled.
pub(super) async fn publish_changes(
    pipeline: &EventPipeline,
    ctx: &Context,
    topic: &Result<TopicReport>,
    scaling: &scale::Outcome,
) {
    if let Some(note) = scaling.scaled.clone() {
        events::normal(&ctx.recorder, pipeline, Reason::Scaled, note).await;
    }
    let observed = pipeline.status.as_ref().and_then(|s| s.observed_generation);
    let remembered = ctx.published_generations.published(pipeline);
    let published = remembered.or(observed);
    let spec_changed = published != pipeline.meta().generation;
    if let Ok(report) = topic {
        // The first topic this pipeline has: none published by this process and none in the
        // status (a pipeline refused its topic at first has a generation but no topic yet).
        let first_topic = remembered.is_none()
            && pipeline
                .status
                .as_ref()
                .and_then(|s| s.topic.as_ref())
                .is_none();
        publish_topic_changes(pipeline, ctx, report, first_topic).await;
    }
    if spec_changed {
        let (reason, verb) = match published {
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

async fn publish_topic_changes(
    pipeline: &EventPipeline,
    ctx: &Context,
    report: &TopicReport,
    first_time: bool,
) {
    let recorder = &ctx.recorder;
    if report.existed && first_time {
        let note = format!(
            "adopted existing topic {} ({} partitions)",
            report.name, report.partitions
        );
        events::normal(recorder, pipeline, Reason::TopicAdopted, note).await;
    }
    let had_topic = pipeline
        .status
        .as_ref()
        .and_then(|s| s.topic.as_ref())
        .is_some_and(|t| t.name == report.name);
    for change in &report.changes {
        match change {
            TopicChange::Created if had_topic => {
                let note = format!(
                    "topic {} disappeared and was created again, empty: the events it held are \
                     gone, and consumers start from the new topic's beginning",
                    report.name
                );
                events::warning(recorder, pipeline, Reason::TopicRecreated, note).await;
            }
            change => {
                let (reason, note) = describe_change(&report.name, change);
                events::normal(recorder, pipeline, reason, note).await;
            }
        }
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
