//! Kubernetes Events about a pipeline: what the operator created, changed, scaled, refused or
//! deleted, and the trouble a person must act on ([`super::trouble`]). Each Event is created
//! once as an `events.k8s.io/v1` Event; only a continuing trouble is patched into a series
//! ([`Publisher::repeat`]). kube's `Recorder` is not used: it aggregates by reason alone, which
//! would fold "scaled 4→1" into the series of an earlier "scaled 1→4" and keep only the first
//! note.

use k8s_openapi::{
    api::events::v1::{Event, EventSeries},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    runtime::events::Reporter,
};

use crate::crd::EventPipeline;

/// The longest note the API server accepts (1 kB).
const NOTE_LIMIT: usize = 1024;

/// The severity of an Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something happened that needs nobody.
    Normal,
    /// Something a person must act on.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Publishes Events on pipelines as the operator.
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

    /// Creates an Event on `pipeline`; its name, or the API server's refusal.
    pub async fn create(
        &self,
        pipeline: &EventPipeline,
        severity: Severity,
        (reason, action): (&str, &str),
        note: &str,
    ) -> kube::Result<String> {
        let now = Timestamp::now();
        let name = format!("{}.{:x}", pipeline.name_any(), now.as_nanosecond());
        let event = Event {
            action: Some(action.to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(truncated(note).to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(pipeline.object_ref(&())),
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: pipeline.namespace(),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(severity.as_str().to_owned()),
            ..Event::default()
        };
        self.events(pipeline)
            .create(&PostParams::default(), &event)
            .await?;
        Ok(name)
    }

    /// Records that the Event `name` on `pipeline` happened `count` times so far (its
    /// `series`, which `kubectl describe` shows as `(xN over T)`).
    pub async fn repeat(
        &self,
        pipeline: &EventPipeline,
        name: &str,
        count: i32,
    ) -> kube::Result<()> {
        let series = EventSeries {
            count,
            last_observed_time: MicroTime(Timestamp::now()),
        };
        let patch = serde_json::json!({ "series": series });
        self.events(pipeline)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
    }

    /// This operator's Warning Events of `reason` on `pipeline` (this very object, by uid).
    pub async fn warnings(
        &self,
        pipeline: &EventPipeline,
        reason: &str,
    ) -> kube::Result<Vec<Event>> {
        let selector = format!(
            "regarding.uid={},reason={reason},type={},reportingController={}",
            pipeline.uid().unwrap_or_default(),
            Severity::Warning.as_str(),
            self.reporter.controller,
        );
        let listed = self
            .events(pipeline)
            .list(&kube::api::ListParams::default().fields(&selector))
            .await?;
        Ok(listed.items)
    }

    fn events(&self, pipeline: &EventPipeline) -> Api<Event> {
        Api::namespaced(
            self.client.clone(),
            &pipeline.namespace().unwrap_or_default(),
        )
    }
}

/// `note` cut at a character boundary to the API server's limit.
fn truncated(note: &str) -> &str {
    let mut end = note.len().min(NOTE_LIMIT);
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    &note[..end]
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
    /// The topic disappeared and was created again, empty.
    TopicRecreated,
    /// The topic was kept on deletion (`deletionPolicy: Retain`).
    TopicRetained,
    /// The topic and group were deleted with the pipeline.
    TopicDeleted,
    /// Cleanup gave up and left Kafka state behind.
    CleanupAbandoned,
    /// A trouble reported by a Warning is over.
    Recovered,
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
            Self::TopicRecreated => "TopicRecreated",
            Self::TopicRetained => "TopicRetained",
            Self::TopicDeleted => "TopicDeleted",
            Self::CleanupAbandoned => "CleanupAbandoned",
            Self::Recovered => "Recovered",
        }
    }

    /// What the operator was doing when it happened.
    pub fn action(self) -> EventAction {
        match self {
            Self::InvalidSpec
            | Self::IncompatibleSchema
            | Self::Created
            | Self::Updated
            | Self::Recovered => EventAction::Reconcile,
            Self::Scaled => EventAction::Scale,
            Self::TopicCreated
            | Self::TopicAdopted
            | Self::TopicConfigUpdated
            | Self::PartitionsIncreased
            | Self::DeadLetterTopicCreated
            | Self::TopicConflict
            | Self::TopicNotAdopted
            | Self::TopicNotAllowed
            | Self::TopicRecreated => EventAction::ReconcileTopic,
            Self::TopicRetained | Self::TopicDeleted | Self::CleanupAbandoned => {
                EventAction::Cleanup
            }
        }
    }
}

/// Publishes an Event on the pipeline; a failure is logged, never fails the reconcile.
pub async fn publish(
    publisher: &Publisher,
    pipeline: &EventPipeline,
    severity: Severity,
    reason: Reason,
    note: String,
) {
    let what = (reason.as_str(), reason.action().as_str());
    if let Err(error) = publisher.create(pipeline, severity, what, &note).await {
        tracing::warn!(%error, reason = reason.as_str(), "could not publish event");
    }
}

/// A normal Event.
pub async fn normal(publisher: &Publisher, pipeline: &EventPipeline, reason: Reason, note: String) {
    publish(publisher, pipeline, Severity::Normal, reason, note).await;
}

/// A warning Event.
pub async fn warning(
    publisher: &Publisher,
    pipeline: &EventPipeline,
    reason: Reason,
    note: String,
) {
    publish(publisher, pipeline, Severity::Warning, reason, note).await;
}

#[cfg(test)]
mod tests {
    use super::{EventAction, NOTE_LIMIT, Reason, truncated};

    #[test]
    fn a_long_note_is_cut_to_the_limit_at_a_character_boundary() {
        let note = "é".repeat(NOTE_LIMIT);
        let cut = truncated(&note);
        assert_eq!(cut.len(), NOTE_LIMIT);
        assert_eq!(truncated("short"), "short");
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
