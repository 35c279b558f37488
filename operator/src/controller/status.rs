//! The status the operator owns: observed generation, conditions, topic, consumer replicas,
//! and the scaling phase's lag and decision (`controller::scale`).
//!
//! Built purely from what the phases observed; written with server-side apply only when it
//! differs from what is stored, a condition keeps its `lastTransitionTime` while its status
//! stays the same, and a lag measured again at the same figures is no difference (its
//! `measuredAt` is written with the next change), so a settled pipeline is never rewritten.

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentStatus},
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::summary;
use crate::{
    Error, Result,
    crd::{EventPipeline, EventPipelineStatus, LagStatus, Summary, TopicStatus},
    kafka::topic::TopicReport,
    resources::meta::FIELD_MANAGER,
};

/// Condition types the reconciler owns (`Scaling` is decided by the scaling phase).
pub const READY: &str = "Ready";
/// The topic matches the spec.
pub const TOPIC_READY: &str = "TopicReady";
/// The producer Deployment is available.
pub const PRODUCER_READY: &str = "ProducerReady";
/// The consumer Deployment is available.
pub const CONSUMER_READY: &str = "ConsumerReady";
/// The sink's MongoDB answers (not checked while the pipeline is suspended).
pub const SINK_READY: &str = "SinkReady";
/// The scaling phase measured the lag and decided (autoscaled pipelines only).
pub const SCALING: &str = "Scaling";

/// One condition before timestamps: type, status, reason, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCondition {
    /// Condition type.
    pub type_: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// `PascalCase` reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

impl DesiredCondition {
    /// A condition that holds.
    pub fn ok(type_: &'static str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_,
            ok: true,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn not_ok(type_: &'static str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            type_,
            ok: false,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The topic phase's outcome as a condition.
pub fn topic_condition(topic: &Result<TopicReport>) -> DesiredCondition {
    match topic {
        Ok(report) => match &report.refusal {
            None => DesiredCondition::ok(
                TOPIC_READY,
                "TopicReady",
                format!("topic {} has {} partitions", report.name, report.partitions),
            ),
            Some(refusal) => DesiredCondition::not_ok(
                TOPIC_READY,
                refusal.reason(),
                refusal.message(&report.name),
            ),
        },
        Err(error @ Error::Secret { .. }) => {
            DesiredCondition::not_ok(TOPIC_READY, "KafkaSecretUnavailable", error.to_string())
        }
        Err(error @ Error::KafkaRefused { .. }) => {
            DesiredCondition::not_ok(TOPIC_READY, "KafkaAuthenticationFailed", error.to_string())
        }
        Err(error) => DesiredCondition::not_ok(TOPIC_READY, "KafkaUnavailable", error.to_string()),
    }
}

/// A Deployment's readiness as read back after applying it: ready once the rollout of its
/// current generation finished (as `kubectl rollout status` judges it: the generation observed,
/// every pod updated and available, no old pod left), and stuck (`RolloutStuck`) once the
/// Deployment controller reports `ProgressDeadlineExceeded`.
pub fn workload_condition(type_: &'static str, deployment: &Deployment) -> DesiredCondition {
    let name = deployment.name_any();
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or(0);
    let progress =
        |what: String| DesiredCondition::not_ok(type_, "Progressing", format!("{name}: {what}"));
    if status.observed_generation.unwrap_or(0) < generation {
        return progress("waiting for the Deployment controller to see the new spec".to_owned());
    }
    if let Some(stuck) = deadline_exceeded(&status) {
        let updated = status.updated_replicas.unwrap_or(0);
        let message = format!(
            "{name}: the rollout of generation {generation} is stuck ({updated}/{wanted} pods \
             updated): {stuck}"
        );
        return DesiredCondition::not_ok(type_, "RolloutStuck", message);
    }
    if wanted == 0 {
        return DesiredCondition::ok(type_, "ScaledToZero", format!("{name} runs no pods"));
    }
    let [replicas, updated, ready, available] = [
        status.replicas,
        status.updated_replicas,
        status.ready_replicas,
        status.available_replicas,
    ]
    .map(|count| count.unwrap_or(0));
    if updated < wanted {
        progress(format!(
            "{updated}/{wanted} pods updated to the current spec"
        ))
    } else if replicas > updated {
        progress(format!(
            "{updated}/{wanted} pods updated, {} old pod(s) still running",
            replicas - updated
        ))
    } else if available < wanted || ready < wanted {
        progress(format!("{available}/{wanted} pods available"))
    } else {
        DesiredCondition::ok(
            type_,
            "Available",
            format!("{name}: {ready}/{wanted} pods ready"),
        )
    }
}

/// The message of a `Progressing` condition whose reason is `ProgressDeadlineExceeded`.
fn deadline_exceeded(status: &DeploymentStatus) -> Option<String> {
    let conditions = status.conditions.as_deref().unwrap_or_default();
    conditions
        .iter()
        .find(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
        .map(|c| {
            c.message
                .clone()
                .unwrap_or_else(|| "ProgressDeadlineExceeded".to_owned())
        })
}

/// `Ready` from the other conditions: `True` when all of them are.
pub fn ready_condition(parts: &[DesiredCondition]) -> DesiredCondition {
    match parts.iter().find(|v| !v.ok) {
        None => DesiredCondition::ok(READY, "Ready", "the pipeline is running"),
        Some(first) => DesiredCondition::not_ok(READY, &first.reason, first.message.clone()),
    }
}

/// The status the reconciler wants, carrying over unchanged conditions' transition times.
pub fn desired_status(
    pipeline: &EventPipeline,
    desired_conditions: &[DesiredCondition],
    topic: Option<TopicStatus>,
    consumer_replicas: Option<u32>,
) -> EventPipelineStatus {
    let current = pipeline.status.clone().unwrap_or_default();
    let now = Time(Timestamp::now());
    let conditions = desired_conditions
        .iter()
        .map(|desired_condition| condition(pipeline, &current.conditions, desired_condition, &now))
        .collect();
    let mut consumer = current.consumer.clone().unwrap_or_default();
    consumer.replicas = consumer_replicas.or(consumer.replicas);
    EventPipelineStatus {
        observed_generation: pipeline.meta().generation,
        conditions,
        topic: topic.or(current.topic),
        lag: None,
        consumer: Some(consumer),
        summary: Summary::default(),
    }
}

fn condition(
    pipeline: &EventPipeline,
    current: &[Condition],
    desired_condition: &DesiredCondition,
    now: &Time,
) -> Condition {
    let status = if desired_condition.ok {
        "True"
    } else {
        "False"
    };
    let since = current
        .iter()
        .find(|c| c.type_ == desired_condition.type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: desired_condition.type_.to_owned(),
        status: status.to_owned(),
        reason: desired_condition.reason.clone(),
        message: desired_condition.message.clone(),
        observed_generation: pipeline.meta().generation,
        last_transition_time: since,
    }
}

/// Whether the stored status already says what `desired` says (in the fields the reconciler owns).
pub fn unchanged(pipeline: &EventPipeline, desired: &EventPipelineStatus) -> bool {
    let Some(current) = &pipeline.status else {
        return false;
    };
    let owned = |c: &&Condition| {
        c.type_ == SCALING || desired.conditions.iter().any(|d| d.type_ == c.type_)
    };
    let current_conditions: Vec<&Condition> = current.conditions.iter().filter(owned).collect();
    let desired_conditions: Vec<&Condition> = desired.conditions.iter().collect();
    current.observed_generation == desired.observed_generation
        && current_conditions == desired_conditions
        && current.topic == desired.topic
        && same_lag(current.lag.as_ref(), desired.lag.as_ref())
        && current.consumer == desired.consumer
        && current.summary == desired.summary
}

/// Whether two lag figures say the same, whenever they were measured: a poll that finds the lag
/// as it was writes nothing (at 1,000 pipelines polled every 10 s, rewriting `measuredAt` alone
/// would be 100 status writes a second, each one a watch event and a reconcile).
fn same_lag(current: Option<&LagStatus>, desired: Option<&LagStatus>) -> bool {
    match (current, desired) {
        (Some(current), Some(desired)) => {
            current.total == desired.total
                && current.partitions_with_lag == desired.partitions_with_lag
                && current.excluded_partitions == desired.excluded_partitions
        }
        (current, desired) => current == desired,
    }
}

/// Writes the reconciler's part of the status (server-side apply), with its summary
/// ([`summary::summary`]); `false` when nothing changed.
pub async fn write(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    desired: &EventPipelineStatus,
) -> Result<bool> {
    let desired = &EventPipelineStatus {
        summary: summary::summary(pipeline, desired),
        ..desired.clone()
    };
    if unchanged(pipeline, desired) {
        return Ok(false);
    }
    let mut status = json!({
        "observedGeneration": desired.observed_generation,
        "conditions": desired.conditions,
        "summary": desired.summary,
    });
    if let Some(topic) = &desired.topic {
        status["topic"] = serde_json::to_value(topic)?;
    }
    if let Some(lag) = &desired.lag {
        status["lag"] = serde_json::to_value(lag)?;
    }
    if let Some(consumer) = &desired.consumer {
        status["consumer"] = serde_json::to_value(consumer)?;
    }
    let patch = json!({
        "apiVersion": EventPipeline::api_version(&()),
        "kind": EventPipeline::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&pipeline.name_any(), &params, &Patch::Apply(&patch))
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::DeploymentSpec;

    use super::*;
    use crate::crd::EventPipelineSpec;

    fn deployment(wanted: i32, ready: i32, generation: i64, observed: i64) -> Deployment {
        let mut deployment = Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(wanted),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                replicas: Some(ready),
                updated_replicas: Some(ready),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                observed_generation: Some(observed),
                ..DeploymentStatus::default()
            }),
            ..Deployment::default()
        };
        deployment.metadata.name = Some("p-producer".to_owned());
        deployment.metadata.generation = Some(generation);
        deployment
    }

    #[test]
    fn workload_is_ready_only_when_current_and_all_pods_are_ready() {
        let desired_condition = |d: &Deployment| workload_condition(PRODUCER_READY, d);
        assert!(desired_condition(&deployment(2, 2, 3, 3)).ok);
        assert_eq!(
            desired_condition(&deployment(2, 1, 3, 3)).reason,
            "Progressing"
        );
        assert!(
            !desired_condition(&deployment(2, 2, 4, 3)).ok,
            "a rollout not yet observed"
        );
        assert_eq!(
            desired_condition(&deployment(0, 0, 1, 1)).reason,
            "ScaledToZero"
        );
    }

    /// A Deployment of `wanted` pods at `generation`, its status from the table's columns.
    fn rollout(
        wanted: i32,
        generation: i64,
        status: [i32; 5],
        progressing: Option<&str>,
    ) -> Deployment {
        let [observed, replicas, updated, ready, available] = status;
        let mut deployment = deployment(wanted, ready, generation, i64::from(observed));
        let status = deployment.status.as_mut().unwrap();
        status.replicas = Some(replicas);
        status.updated_replicas = Some(updated);
        status.available_replicas = Some(available);
        status.conditions = progressing.map(|reason| {
            vec![k8s_openapi::api::apps::v1::DeploymentCondition {
                type_: "Progressing".to_owned(),
                status: if reason == "ProgressDeadlineExceeded" {
                    "False"
                } else {
                    "True"
                }
                .to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(format!("ReplicaSet \"p-producer-2\" {reason}")),
                ..Default::default()
            }]
        });
        deployment
    }

    #[test]
    fn workload_readiness_follows_the_rollout_of_the_current_generation() {
        // (wanted, generation, [observedGeneration, replicas, updated, ready, available],
        //  Progressing reason, expected reason, words the message must hold)
        let cases = [
            (
                1,
                2,
                [2, 1, 1, 1, 1],
                Some("NewReplicaSetAvailable"),
                "Available",
                "1/1 pods ready",
            ),
            (3, 2, [2, 3, 3, 3, 3], None, "Available", "3/3"),
            (
                1,
                2,
                [1, 1, 1, 1, 1],
                Some("NewReplicaSetAvailable"),
                "Progressing",
                "new spec",
            ),
            // The new pod cannot be scheduled: the old one is ready, the new one is not.
            (
                1,
                2,
                [2, 2, 1, 1, 1],
                Some("ReplicaSetUpdated"),
                "Progressing",
                "old pod",
            ),
            (
                2,
                2,
                [2, 2, 1, 2, 2],
                Some("ReplicaSetUpdated"),
                "Progressing",
                "1/2 pods updated",
            ),
            (
                2,
                2,
                [2, 2, 2, 1, 1],
                Some("ReplicaSetUpdated"),
                "Progressing",
                "1/2 pods available",
            ),
            (
                1,
                2,
                [2, 2, 1, 1, 1],
                Some("ProgressDeadlineExceeded"),
                "RolloutStuck",
                "p-producer-2",
            ),
            (0, 2, [2, 0, 0, 0, 0], None, "ScaledToZero", "no pods"),
        ];
        for (wanted, generation, status, progressing, reason, words) in cases {
            let desired_condition = workload_condition(
                PRODUCER_READY,
                &rollout(wanted, generation, status, progressing),
            );
            let row =
                format!("{wanted} {generation} {status:?} {progressing:?}: {desired_condition:?}");
            assert_eq!(desired_condition.reason, reason, "{row}");
            assert_eq!(
                desired_condition.ok,
                ["Available", "ScaledToZero"].contains(&reason),
                "{row}"
            );
            assert!(desired_condition.message.contains(words), "{row}");
            assert!(desired_condition.message.starts_with("p-producer"), "{row}");
        }
    }

    #[test]
    fn ready_takes_the_first_failing_reason() {
        let parts = [
            DesiredCondition::ok(TOPIC_READY, "TopicReady", "ok"),
            DesiredCondition::not_ok(PRODUCER_READY, "Progressing", "1/2 pods ready"),
        ];
        let ready = ready_condition(&parts);
        assert_eq!((ready.ok, ready.reason.as_str()), (false, "Progressing"));
        assert!(ready_condition(&parts[..1]).ok);
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time_and_need_no_write() {
        let mut pipeline = EventPipeline::new("p", EventPipelineSpec::default());
        pipeline.metadata.generation = Some(2);
        let desired_conditions = [DesiredCondition::ok(READY, "Ready", "running")];
        let first = desired_status(&pipeline, &desired_conditions, None, Some(1));
        assert!(!unchanged(&pipeline, &first));
        pipeline.status = Some(first.clone());
        let second = desired_status(&pipeline, &desired_conditions, None, Some(1));
        assert_eq!(
            second.conditions, first.conditions,
            "same lastTransitionTime"
        );
        assert!(unchanged(&pipeline, &second));
        let flipped = desired_status(
            &pipeline,
            &[DesiredCondition::not_ok(READY, "Progressing", "x")],
            None,
            Some(1),
        );
        assert!(!unchanged(&pipeline, &flipped));
    }

    #[test]
    fn a_new_measurement_of_the_same_lag_needs_no_write_a_new_lag_does() {
        let lag = |total: u64, second: i64| LagStatus {
            total,
            partitions_with_lag: u32::from(total > 0),
            measured_at: Some(Time(Timestamp::from_second(second).unwrap())),
            excluded_partitions: Vec::new(),
        };
        let mut pipeline = EventPipeline::new("p", EventPipelineSpec::default());
        let desired_conditions = [DesiredCondition::ok(READY, "Ready", "running")];
        let mut stored = desired_status(&pipeline, &desired_conditions, None, Some(1));
        stored.lag = Some(lag(0, 1_000));
        pipeline.status = Some(stored.clone());
        let mut remeasured = desired_status(&pipeline, &desired_conditions, None, Some(1));
        remeasured.lag = Some(lag(0, 1_010));
        assert!(unchanged(&pipeline, &remeasured), "only measuredAt moved");
        remeasured.lag = Some(lag(7, 1_010));
        assert!(!unchanged(&pipeline, &remeasured), "the lag changed");
        remeasured.lag = None;
        assert!(!unchanged(&pipeline, &remeasured), "the lag went away");
    }
}
