//! `status.summary`: the figures of `kubectl get eventpipelines`, as text, derived from the rest
//! of the status the reconciler wants (printer columns can neither default nor combine fields).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::status::READY;
use crate::{
    crd::{ConsumerStatus, EventPipeline, EventPipelineStatus, Summary},
    resources::{consumer, service},
    scaling::assignment::Assignment,
};

/// What a figure shows after a reconcile that could not learn it (e.g. Kafka unreachable).
pub const UNKNOWN: &str = "Unknown";

/// The summary of `status` (with its lag and consumer figures already set).
pub fn summary(pipeline: &EventPipeline, status: &EventPipelineStatus) -> Summary {
    let unknown = || UNKNOWN.to_owned();
    let ready = status.conditions.iter().find(|c| c.type_ == READY);
    let consumer = status.consumer.clone().unwrap_or_default();
    Summary {
        ready: ready.map_or_else(unknown, |c| c.status.clone()),
        reason: ready.map(not_ready_reason).unwrap_or_default(),
        partitions: status
            .topic
            .as_ref()
            .map_or_else(unknown, |t| t.partitions.to_string()),
        consumers: consumers(
            pipeline,
            &consumer,
            status.topic.as_ref().map(|t| t.partitions),
        ),
        lag: status
            .lag
            .as_ref()
            .map_or_else(unknown, |lag| lag.total.to_string()),
        topic: status
            .topic
            .as_ref()
            .map_or_else(|| pipeline.topic_name(), |t| t.name.clone()),
        producer_url: service::producer_url(pipeline),
        last_scale: last_scale(pipeline, &consumer),
    }
}

/// The `Ready` condition's reason while it does not hold; empty when it does.
fn not_ready_reason(ready: &Condition) -> String {
    if ready.status == "True" {
        String::new()
    } else {
        ready.reason.clone()
    }
}

/// `current/desired` consumer pods, and who holds the partitions when some have no owner or a
/// consumer holds none (`2/2 assigned 1/4 (1 holding none)`).
fn consumers(pipeline: &EventPipeline, status: &ConsumerStatus, partitions: Option<u32>) -> String {
    let desired = status
        .desired_replicas
        .unwrap_or_else(|| consumer::replicas(pipeline));
    let pods = format!("{}/{desired}", status.replicas.unwrap_or(0));
    let (Some(assigned), Some(holding_none), Some(partitions)) = (
        status.assigned_partitions,
        status.consumers_holding_none,
        partitions,
    ) else {
        return pods;
    };
    if assigned >= partitions && holding_none == 0 {
        return pods;
    }
    let assignment = Assignment {
        assigned_partitions: assigned,
        consumers_holding_none: holding_none,
        working_consumers: 0,
    };
    format!("{pods} {}", assignment.describe(partitions))
}

/// Why the consumer count is what it is: the scaler's last reason, or why it is fixed.
fn last_scale(pipeline: &EventPipeline, status: &ConsumerStatus) -> String {
    let spec = &pipeline.spec;
    if spec.suspend {
        "suspended (spec.suspend)".to_owned()
    } else if !spec.autoscaling.enabled {
        format!(
            "autoscaling off: spec.consumer.replicas is {}",
            spec.consumer.replicas
        )
    } else {
        status
            .last_scale_reason
            .clone()
            .unwrap_or_else(|| "not scaled yet".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::crd::{EventPipelineSpec, LagStatus, TopicStatus};

    fn pipeline(autoscaling: bool) -> EventPipeline {
        let mut pipeline = EventPipeline::new("orders", EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("shop".to_owned());
        pipeline.spec.autoscaling.enabled = autoscaling;
        pipeline.spec.consumer.replicas = 2;
        pipeline
    }

    fn ready(status: &str, reason: &str) -> Condition {
        Condition {
            type_: READY.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        }
    }

    #[test]
    fn a_running_pipeline_shows_its_figures_and_no_reason() {
        let status = EventPipelineStatus {
            conditions: vec![ready("True", "Ready")],
            topic: Some(TopicStatus {
                name: "orders-v2".to_owned(),
                partitions: 6,
            }),
            lag: Some(LagStatus {
                total: 1234,
                ..LagStatus::default()
            }),
            consumer: Some(ConsumerStatus {
                replicas: Some(1),
                desired_replicas: Some(3),
                last_scale_reason: Some("scaled 1→3: lag".to_owned()),
                ..ConsumerStatus::default()
            }),
            ..EventPipelineStatus::default()
        };
        let summary = summary(&pipeline(true), &status);
        assert_eq!(
            summary,
            Summary {
                ready: "True".to_owned(),
                reason: String::new(),
                partitions: "6".to_owned(),
                consumers: "1/3".to_owned(),
                lag: "1234".to_owned(),
                topic: "orders-v2".to_owned(),
                producer_url: "http://orders-producer.shop.svc:8080".to_owned(),
                last_scale: "scaled 1→3: lag".to_owned(),
            }
        );
    }

    #[test]
    fn a_pipeline_kafka_refused_shows_the_reason_and_unknown_figures() {
        let status = EventPipelineStatus {
            conditions: vec![ready("False", "KafkaUnavailable")],
            ..EventPipelineStatus::default()
        };
        let summary = summary(&pipeline(false), &status);
        assert_eq!(
            (summary.ready.as_str(), summary.reason.as_str()),
            ("False", "KafkaUnavailable")
        );
        assert_eq!(
            (summary.partitions.as_str(), summary.lag.as_str()),
            (UNKNOWN, UNKNOWN)
        );
        assert_eq!(summary.consumers, "0/2", "the spec's replicas are wanted");
        assert_eq!(
            summary.topic, "orders",
            "the topic named after the pipeline"
        );
        assert_eq!(
            summary.last_scale,
            "autoscaling off: spec.consumer.replicas is 2"
        );
    }

    #[test]
    fn consumers_say_when_partitions_have_no_owner_or_a_consumer_holds_none() {
        // (assigned, holding none) of 4 partitions -> the Consumers column
        let table = [
            (None, "2/2"),
            (Some((4, 0)), "2/2"),
            (Some((1, 0)), "2/2 assigned 1/4"),
            (Some((4, 1)), "2/2 assigned 4/4 (1 holding none)"),
            (Some((0, 2)), "2/2 assigned 0/4 (2 holding none)"),
        ];
        for (held, expected) in table {
            let status = EventPipelineStatus {
                topic: Some(TopicStatus {
                    name: "orders".to_owned(),
                    partitions: 4,
                }),
                consumer: Some(ConsumerStatus {
                    replicas: Some(2),
                    desired_replicas: Some(2),
                    assigned_partitions: held.map(|(assigned, _)| assigned),
                    consumers_holding_none: held.map(|(_, none)| none),
                    ..ConsumerStatus::default()
                }),
                ..EventPipelineStatus::default()
            };
            assert_eq!(
                summary(&pipeline(true), &status).consumers,
                expected,
                "{held:?}"
            );
        }
    }

    #[test]
    fn nothing_is_blank_before_the_first_reconcile() {
        let pending = Summary::default();
        let value = serde_json::to_value(&pending).unwrap();
        for (field, text) in value.as_object().unwrap() {
            assert_eq!(text, Summary::PENDING, "{field}");
        }
    }
}
