//! Kubernetes Events about a pipeline: what the operator created, changed, scaled, refused or
//! deleted. Each is a new `events.k8s.io/v1` Event: they are emitted only on changes, so there is
//! nothing to aggregate, and kube's `Recorder` aggregates by reason alone, which would fold
//! "scaled 4→1" into the series of an earlier "scaled 1→4" and keep only the first note.

use kube::{
    Client, Resource,
    runtime::events::{Event, EventType, Recorder, Reporter},
};

use crate::crd::EventPipeline;

/// Publishes Events as the operator (a fresh `Recorder` per Event, so none is folded into another).
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    reporter: Reporter,
}

impl Publisher {
    /// A publisher over `client`, reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self { client, reporter }
    }

    async fn publish(&self, event: &Event, pipeline: &EventPipeline) -> kube::Result<()> {
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        recorder.publish(event, &pipeline.object_ref(&())).await
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("reporter", &self.reporter)
            .finish_non_exhaustive()
    }
}

/// Publishes an Event on the pipeline; a failure is logged, never fails the reconcile.
pub async fn publish(
    recorder: &Publisher,
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
    if let Err(error) = recorder.publish(&event, pipeline).await {
        tracing::warn!(%error, reason, "could not publish event");
    }
}

/// A normal Event.
pub async fn normal(recorder: &Publisher, pipeline: &EventPipeline, reason: &str, note: String) {
    publish(recorder, pipeline, EventType::Normal, reason, note).await;
}

/// A warning Event.
pub async fn warning(recorder: &Publisher, pipeline: &EventPipeline, reason: &str, note: String) {
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
