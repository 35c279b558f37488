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

/// Why an Event is published: its `reason`, and the `action` it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The spec cannot be turned into a running pipeline.
    InvalidSpec,
    /// The spec's event schema versions break `producer.compatibility` or change a served one.
    IncompatibleSchema,
    /// The Deployments and Service were created (first reconcile).
    Created,
    /// The Deployments and Service were updated for a new generation.
    Updated,
    /// The consumer Deployment was scaled.
    Scaled,
    /// The topic was created.
    TopicCreated,
    /// An existing topic was adopted.
    TopicAdopted,
    /// Topic configs were set.
    TopicConfigUpdated,
    /// Partitions were added.
    PartitionsIncreased,
    /// The dead-letter topic was created.
    DeadLetterTopicCreated,
    /// Another pipeline owns the topic this one names; nothing was applied.
    TopicConflict,
    /// The topic exists, no pipeline owns it, and `spec.topic.adopt` is false.
    TopicNotAdopted,
    /// The operator's topic policy does not allow the pipeline's topic.
    TopicNotAllowed,
    /// A topic change was refused (its reason says which).
    TopicRefused(&'static str),
    /// The topic was kept on deletion (`deletionPolicy: Retain`).
    TopicRetained,
    /// The topic and group were deleted with the pipeline.
    TopicDeleted,
    /// Cleanup gave up and left Kafka state behind.
    CleanupAbandoned,
}

/// The `action` of an Event: what the operator was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// Applying the Deployments, Service and status.
    Reconcile,
    /// Creating or changing the topic.
    ReconcileTopic,
    /// Scaling the consumers.
    Scale,
    /// Cleaning up after a deleted pipeline.
    Cleanup,
}

impl EventAction {
    /// The Event's `action` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconcile => "Reconcile",
            Self::ReconcileTopic => "ReconcileTopic",
            Self::Scale => "Scale",
            Self::Cleanup => "Cleanup",
        }
    }
}

impl Reason {
    /// The Event's `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSpec => "InvalidSpec",
            Self::IncompatibleSchema => "IncompatibleSchema",
            Self::Created => "Created",
            Self::Updated => "Updated",
            Self::Scaled => "Scaled",
            Self::TopicCreated => "TopicCreated",
            Self::TopicAdopted => "TopicAdopted",
            Self::TopicConfigUpdated => "TopicConfigUpdated",
            Self::PartitionsIncreased => "PartitionsIncreased",
            Self::DeadLetterTopicCreated => "DeadLetterTopicCreated",
            Self::TopicConflict => "TopicConflict",
            Self::TopicNotAdopted => "TopicNotAdopted",
            Self::TopicNotAllowed => "TopicNotAllowed",
            Self::TopicRefused(reason) => reason,
            Self::TopicRetained => "TopicRetained",
            Self::TopicDeleted => "TopicDeleted",
            Self::CleanupAbandoned => "CleanupAbandoned",
        }
    }

    /// What the operator was doing when it happened.
    pub fn action(self) -> EventAction {
        match self {
            Self::InvalidSpec | Self::IncompatibleSchema | Self::Created | Self::Updated => {
                EventAction::Reconcile
            }
            Self::Scaled => EventAction::Scale,
            Self::TopicCreated
            | Self::TopicAdopted
            | Self::TopicConfigUpdated
            | Self::PartitionsIncreased
            | Self::DeadLetterTopicCreated
            | Self::TopicConflict
            | Self::TopicNotAdopted
            | Self::TopicNotAllowed
            | Self::TopicRefused(_) => EventAction::ReconcileTopic,
            Self::TopicRetained | Self::TopicDeleted | Self::CleanupAbandoned => {
                EventAction::Cleanup
            }
        }
    }
}

/// Publishes an Event on the pipeline; a failure is logged, never fails the reconcile.
pub async fn publish(
    recorder: &Publisher,
    pipeline: &EventPipeline,
    type_: EventType,
    reason: Reason,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.as_str().to_owned(),
        note: Some(note),
        action: reason.action().as_str().to_owned(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, pipeline).await {
        tracing::warn!(%error, reason = reason.as_str(), "could not publish event");
    }
}

/// A normal Event.
pub async fn normal(recorder: &Publisher, pipeline: &EventPipeline, reason: Reason, note: String) {
    publish(recorder, pipeline, EventType::Normal, reason, note).await;
}

/// A warning Event.
pub async fn warning(recorder: &Publisher, pipeline: &EventPipeline, reason: Reason, note: String) {
    publish(recorder, pipeline, EventType::Warning, reason, note).await;
}

#[cfg(test)]
mod tests {
    use super::{EventAction, Reason};

    #[test]
    fn every_topic_refusal_is_a_topic_action() {
        for refusal in [
            "PartitionDecreaseRefused",
            "ConfigRejected",
            "PartitionGrowthRejected",
        ] {
            let reason = Reason::TopicRefused(refusal);
            assert_eq!(
                (reason.as_str(), reason.action()),
                (refusal, EventAction::ReconcileTopic)
            );
        }
    }

    #[test]
    fn cleanup_and_scaling_have_their_own_actions() {
        let actions: Vec<_> = [
            Reason::TopicRetained,
            Reason::CleanupAbandoned,
            Reason::Scaled,
            Reason::Updated,
        ]
        .into_iter()
        .map(Reason::action)
        .collect();
        assert_eq!(
            actions,
            [
                EventAction::Cleanup,
                EventAction::Cleanup,
                EventAction::Scale,
                EventAction::Reconcile
            ]
        );
    }
}
