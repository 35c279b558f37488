//! Kubernetes Events about a pipeline: what the operator created, changed, refused or deleted.

use kube::{
    Resource,
    runtime::events::{Event, EventType, Recorder},
};

use crate::crd::EventPipeline;

/// Publishes an Event on the pipeline; a failure is logged, never fails the reconcile.
pub async fn publish(
    recorder: &Recorder,
    pipeline: &EventPipeline,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action_of(reason).to_owned(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, &pipeline.object_ref(&())).await {
        tracing::warn!(%error, reason, "could not publish event");
    }
}

/// A normal Event.
pub async fn normal(recorder: &Recorder, pipeline: &EventPipeline, reason: &str, note: String) {
    publish(recorder, pipeline, EventType::Normal, reason, note).await;
}

/// A warning Event.
pub async fn warning(recorder: &Recorder, pipeline: &EventPipeline, reason: &str, note: String) {
    publish(recorder, pipeline, EventType::Warning, reason, note).await;
}

fn action_of(reason: &str) -> &'static str {
    if reason.starts_with("Topic") || reason.starts_with("Partition") || reason.contains("Refused")
    {
        "ReconcileTopic"
    } else if reason.starts_with("Cleanup")
        || reason.ends_with("Deleted")
        || reason.ends_with("Retained")
    {
        "Cleanup"
    } else if reason == "Scaled" {
        "Scale"
    } else {
        "Reconcile"
    }
}
