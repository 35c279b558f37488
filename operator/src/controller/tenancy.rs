//! Tenants sharing one Kafka cluster: which topics a pipeline may name (the operator's
//! [`TopicPolicy`]) and which pipeline owns a topic ([`Claims`]). A second pipeline resolving
//! to an owned topic is refused with `TopicConflict`; an existing topic no pipeline owns is
//! adopted only when `spec.topic.adopt` says so.

use std::sync::Arc;

use kube::ResourceExt;

use super::{claims::Claims, events::Reason};
use crate::{
    Result,
    crd::EventPipeline,
    kafka::{KafkaAdmin, topic},
};

/// Which topics a pipeline may name (`--topic-policy`, the chart's `operator.topicPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TopicPolicy {
    /// A pipeline's topic starts with `<namespace>.`; without `topic.name` it is
    /// `<namespace>.<name>`.
    #[default]
    NamespacePrefix,
    /// Any topic; without `topic.name` it is the pipeline's name.
    Any,
}

/// Why a pipeline may not use the topic it resolves to; nothing is applied for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRefusal {
    /// The `Ready` reason and Event reason.
    pub reason: Reason,
    /// What is wrong and what to do.
    pub message: String,
}

impl TopicPolicy {
    /// The value of `--topic-policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NamespacePrefix => "namespace-prefix",
            Self::Any => "any",
        }
    }

    /// `pipeline` with `spec.topic.name` set to the topic this policy gives it, or why it
    /// may not have it.
    pub fn resolve(self, pipeline: &EventPipeline) -> Result<EventPipeline, TopicRefusal> {
        let namespace = pipeline.namespace().unwrap_or_default();
        let prefix = format!("{namespace}.");
        let topic = match (&pipeline.spec.topic.name, self) {
            (Some(name), _) => name.clone(),
            (None, Self::NamespacePrefix) => format!("{prefix}{}", pipeline.name_any()),
            (None, Self::Any) => pipeline.name_any(),
        };
        let policy = self.as_str();
        let running = pipeline.status.as_ref().and_then(|s| s.topic.as_ref());
        if let Some(current) = running.map(|t| &t.name).filter(|name| **name != topic) {
            return Err(not_allowed(format!(
                "the pipeline runs on topic {current}, but the operator's topic policy ({policy}) \
                 names its topic {topic}; it never moves to another topic silently: recreate the \
                 pipeline to move to {topic}, or run the operator with topic policy any to keep {current}"
            )));
        }
        if self == Self::NamespacePrefix && !topic.starts_with(&prefix) {
            return Err(not_allowed(format!(
                "topic {topic} is not one of namespace {namespace}'s topics: the operator's topic \
                 policy ({policy}) allows only topics named {prefix}*"
            )));
        }
        let mut resolved = pipeline.clone();
        resolved.spec.topic.name = Some(topic);
        Ok(resolved)
    }
}

fn not_allowed(message: String) -> TopicRefusal {
    TopicRefusal {
        reason: Reason::TopicNotAllowed,
        message,
    }
}

/// Claims the pipeline's topic on its Kafka cluster, or says why it may not have it: another
/// pipeline owns it, or it exists, no pipeline owns it and `spec.topic.adopt` is false (a
/// pipeline that ran on it before owner records existed, per its status, claims it).
pub async fn claim(
    claims: &Claims,
    admin: &Arc<KafkaAdmin>,
    pipeline: &EventPipeline,
) -> Result<Option<TopicRefusal>> {
    let topic = pipeline.topic_name();
    let cluster = admin.cluster_id().await?;
    if claims.confirmed(&cluster, &topic, pipeline) {
        return Ok(None);
    }
    if let Some(owner) = claims.owner(&cluster, &topic).await? {
        return Ok(owner.refusal_for(pipeline, &topic));
    }
    let ran_on_it = pipeline
        .status
        .as_ref()
        .and_then(|s| s.topic.as_ref())
        .is_some_and(|t| t.name == topic);
    if !pipeline.spec.topic.adopt && !ran_on_it && topic::describe(admin, &topic).await?.is_some() {
        return Ok(Some(TopicRefusal {
            reason: Reason::TopicNotAdopted,
            message: format!(
                "topic {topic} already exists and no pipeline owns it; set spec.topic.adopt: true \
                 to adopt it (its events, configs and partitions become this pipeline's)"
            ),
        }));
    }
    if claims.create(&cluster, &topic, pipeline).await? {
        return Ok(None);
    }
    // Another pipeline claimed it meanwhile.
    let owner = claims.owner(&cluster, &topic).await?;
    Ok(owner.and_then(|owner| owner.refusal_for(pipeline, &topic)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{EventPipelineStatus, TopicStatus};

    fn pipeline(topic: Option<&str>, running: Option<&str>) -> EventPipeline {
        let mut pipeline = EventPipeline::new("orders", crate::crd::EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("team-a".to_owned());
        pipeline.spec.topic.name = topic.map(str::to_owned);
        pipeline.status = running.map(|name| EventPipelineStatus {
            topic: Some(TopicStatus {
                name: name.to_owned(),
                partitions: 1,
            }),
            ..EventPipelineStatus::default()
        });
        pipeline
    }

    #[test]
    fn each_policy_resolves_or_refuses_the_topic() {
        use TopicPolicy::{Any, NamespacePrefix};
        // (policy, spec.topic.name, status.topic.name, resolved topic or refused)
        let cases = [
            (NamespacePrefix, None, None, Some("team-a.orders")),
            (NamespacePrefix, Some("team-a.x"), None, Some("team-a.x")),
            (NamespacePrefix, Some("team-b.x"), None, None),
            (NamespacePrefix, Some("team-ax"), None, None),
            (NamespacePrefix, None, Some("orders"), None),
            (
                NamespacePrefix,
                None,
                Some("team-a.orders"),
                Some("team-a.orders"),
            ),
            (Any, None, None, Some("orders")),
            (Any, Some("team-b.x"), None, Some("team-b.x")),
            (Any, None, Some("orders"), Some("orders")),
            (Any, None, Some("team-a.orders"), None),
        ];
        for (policy, name, running, expected) in cases {
            let outcome = policy.resolve(&pipeline(name, running));
            let resolved = outcome.as_ref().ok().map(EventPipeline::topic_name);
            assert_eq!(
                resolved.as_deref(),
                expected,
                "{policy:?} {name:?} {running:?}"
            );
            if let Err(refusal) = outcome {
                assert_eq!(refusal.reason, Reason::TopicNotAllowed);
            }
        }
    }
}
