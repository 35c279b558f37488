//! Deletion through the finalizer (added and removed by `kube::runtime::finalizer`): honour
//! `deletionPolicy`, never wedge the namespace.
//!
//! With `Delete`, the topic (and the consumer group's offsets, where the broker supports it)
//! is removed before the finalizer is. When Kafka cannot be reached, each failed attempt is
//! counted in the [`CLEANUP_ATTEMPTS_ANNOTATION`]; after the configured number of attempts the
//! finalizer is removed anyway and a Warning Event says what was left behind.

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde_json::json;

use super::{
    Context,
    events::{self, Reason},
};
use crate::{
    Error, Result,
    crd::{DeletionPolicy, EventPipeline},
    kafka::topic::{self, GroupDeletion},
};

/// The operator's finalizer on every pipeline.
pub const FINALIZER: &str = "eventflow.dev/cleanup";
/// Failed cleanup attempts so far.
pub const CLEANUP_ATTEMPTS_ANNOTATION: &str = "eventflow.dev/cleanup-attempts";

/// Cleans up after a deleted pipeline; on `Ok`, kube's finalizer helper removes the finalizer.
pub async fn cleanup(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
) -> Result<Action> {
    if pipeline.spec.topic.deletion_policy == DeletionPolicy::Retain {
        let note = format!(
            "topic {} kept (deletionPolicy Retain)",
            pipeline.topic_name()
        );
        events::normal(&ctx.recorder, pipeline, Reason::TopicRetained, note).await;
    } else {
        match delete_topic_and_group(pipeline, ctx).await {
            Ok(note) => events::normal(&ctx.recorder, pipeline, Reason::TopicDeleted, note).await,
            Err(error) => give_up_or_retry(api, pipeline, ctx, error).await?,
        }
    }
    ctx.metrics.forget(pipeline);
    Ok(Action::await_change())
}

async fn delete_topic_and_group(pipeline: &EventPipeline, ctx: &Context) -> Result<String> {
    let admin = ctx.kafka.for_pipeline(&ctx.client, pipeline).await?;
    let mut notes = Vec::new();
    for name in [pipeline.topic_name(), pipeline.dead_letter_topic_name()] {
        let outcome = if topic::delete(&admin, &name).await? {
            "deleted"
        } else {
            "was already gone"
        };
        notes.push(format!("topic {name} {outcome}"));
    }
    let group = pipeline.group_id();
    notes.push(match topic::delete_group(&admin, &group).await? {
        GroupDeletion::Deleted => format!("consumer group {group} deleted"),
        GroupDeletion::NotFound => format!("consumer group {group} had no offsets"),
        GroupDeletion::NotDeleted(why) => format!("consumer group {group} kept: {why}"),
    });
    Ok(notes.join("; "))
}

/// Counts a failed attempt; after the last one, warns and returns `Ok` so the finalizer goes.
async fn give_up_or_retry(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    error: Error,
) -> Result<()> {
    let attempts = attempts(pipeline) + 1;
    if attempts < ctx.settings.cleanup_attempts {
        let patch = json!({ "metadata": { "annotations": { CLEANUP_ATTEMPTS_ANNOTATION: attempts.to_string() } } });
        api.patch(
            &pipeline.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        tracing::warn!(%error, attempts, "cleanup failed; will retry");
        return Err(error);
    }
    let note = format!(
        "gave up deleting topics {} and {} and consumer group {} on {} after {attempts} attempts ({error}); all were left behind",
        pipeline.topic_name(),
        pipeline.dead_letter_topic_name(),
        pipeline.group_id(),
        pipeline.spec.kafka.bootstrap_servers,
    );
    events::warning(&ctx.recorder, pipeline, Reason::CleanupAbandoned, note).await;
    Ok(())
}

/// Failed cleanup attempts recorded on the pipeline.
pub fn attempts(pipeline: &EventPipeline) -> u32 {
    pipeline
        .annotations()
        .get(CLEANUP_ATTEMPTS_ANNOTATION)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
