//! The spec checks the operator makes before it touches anything (pure).
//!
//! The CRD schema refuses most bad specs already; these checks repeat the cross-field ones so a
//! pipeline stored under an older schema, or applied with validation off, still gets a clear
//! `Ready=False` reason instead of half-built objects.

use eventflow_workloads::{
    config::parse_duration,
    event::{EventRules, PartitionKey},
};

use super::BuildContext;
use crate::crd::EventPipeline;

/// Every problem of the spec, joined; `Ok` when the pipeline can be built.
pub fn validate(pipeline: &EventPipeline, ctx: &BuildContext) -> Result<(), String> {
    let problems: Vec<String> = checks(pipeline, ctx).into_iter().flatten().collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn checks(pipeline: &EventPipeline, ctx: &BuildContext) -> Vec<Option<String>> {
    let spec = &pipeline.spec;
    let scaling = &spec.autoscaling;
    vec![
        check(
            !spec.kafka.bootstrap_servers.trim().is_empty(),
            "kafka.bootstrapServers is empty",
        ),
        check(
            spec.topic.partitions >= 1,
            "topic.partitions must be at least 1",
        ),
        check(
            spec.topic.replication_factor >= 1,
            "topic.replicationFactor must be at least 1",
        ),
        check(
            (1..=10_000).contains(&spec.consumer.batch_size),
            "consumer.batchSize must be between 1 and 10000",
        ),
        duration_in_range("consumer.batchTimeout", &spec.consumer.batch_timeout),
        check(
            scaling.min_replicas <= scaling.max_replicas,
            "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        ),
        check(
            scaling.lag_threshold >= 1,
            "autoscaling.lagThreshold must be at least 1",
        ),
        duration("autoscaling.pollInterval", &scaling.poll_interval),
        duration(
            "autoscaling.scaleUpStabilization",
            &scaling.scale_up_stabilization,
        ),
        duration(
            "autoscaling.scaleDownStabilization",
            &scaling.scale_down_stabilization,
        ),
        check(
            !ctx.image(pipeline).is_empty(),
            "no workload image: set spec.image or the operator's --workload-image",
        ),
        check(
            spec.producer
                .schema
                .as_ref()
                .is_none_or(serde_json::Value::is_object),
            "producer.schema must be a JSON Schema object",
        ),
        producer_schema(spec.producer.schema.as_ref()),
        spec.producer
            .partition_key
            .parse::<PartitionKey>()
            .err()
            .map(|error| format!("producer.partitionKey: {error}")),
        check(
            !spec.producer.allowed_types.iter().any(|t| t.contains(',')),
            "producer.allowedTypes: a type must not contain a comma (the producer reads the list comma separated)",
        ),
    ]
}

/// The producer compiles the schema at start: one it cannot compile is refused here instead.
fn producer_schema(schema: Option<&serde_json::Value>) -> Option<String> {
    let schema = schema.filter(|s| s.is_object())?;
    EventRules::new(Vec::new(), Some(schema))
        .err()
        .map(|error| format!("producer.schema: {error}"))
}

fn check(ok: bool, problem: &str) -> Option<String> {
    (!ok).then(|| problem.to_owned())
}

fn duration(field: &str, value: &str) -> Option<String> {
    parse_duration(value)
        .err()
        .map(|error| format!("{field}: {error}"))
}

fn duration_in_range(field: &str, value: &str) -> Option<String> {
    use std::time::Duration;
    match parse_duration(value) {
        Err(error) => Some(format!("{field}: {error}")),
        Ok(d) if d < Duration::from_millis(10) || d > Duration::from_secs(300) => {
            Some(format!("{field} must be between 10ms and 5m, got {value}"))
        }
        Ok(_) => None,
    }
}
