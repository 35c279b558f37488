//! The CRD's CEL rules evaluated client-side (kube's `cel` feature), as the API server would on
//! `kubectl apply`: creation rules and transition rules against the previous object.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use eventflow_operator::crd::{EventPipeline, RateLimitSpec, SchemaVersion};
use kube::core::cel::{validate_cel, validate_cel_update};

fn full() -> EventPipeline {
    serde_yaml::from_str(include_str!("fixtures/full.yaml")).unwrap()
}

fn refused(result: Result<(), impl std::fmt::Display>, message: &str) {
    match result {
        Ok(()) => unreachable!("expected refusal: {message}"),
        Err(errors) => assert!(errors.to_string().contains(message), "{errors}"),
    }
}

#[test]
fn a_valid_pipeline_passes_every_rule() {
    validate_cel(&full()).unwrap();
    validate_cel_update(&full(), &full()).unwrap();
}

#[test]
fn min_replicas_above_max_is_refused() {
    let mut pipeline = full();
    pipeline.spec.autoscaling.min_replicas = 7;
    refused(validate_cel(&pipeline), "minReplicas must not exceed");
}

#[test]
fn batch_timeout_outside_10ms_to_5m_is_refused() {
    for timeout in ["5ms", "6m"] {
        let mut pipeline = full();
        pipeline.spec.consumer.batch_timeout = timeout.parse().unwrap();
        refused(validate_cel(&pipeline), "batchTimeout must be between");
    }
}

#[test]
fn partitions_may_grow_but_never_shrink() {
    let old = full();
    let mut grown = full();
    grown.spec.topic.partitions = 12;
    validate_cel_update(&grown, &old).unwrap();
    let mut shrunk = full();
    shrunk.spec.topic.partitions = 2;
    refused(validate_cel_update(&shrunk, &old), "cannot decrease");
}

#[test]
fn replication_factor_and_topic_name_are_immutable() {
    let old = full();
    let mut replicated = full();
    replicated.spec.topic.replication_factor = 1;
    refused(
        validate_cel_update(&replicated, &old),
        "replicationFactor is immutable",
    );
    let mut renamed = full();
    renamed.spec.topic.name = None;
    refused(
        validate_cel_update(&renamed, &old),
        "topic.name is immutable",
    );
}

#[test]
fn a_rate_limit_burst_below_its_rate_is_refused() {
    let mut pipeline = full();
    pipeline.spec.producer.rate_limit = Some(RateLimitSpec {
        events_per_second: 100,
        burst: Some(99),
    });
    refused(
        validate_cel(&pipeline),
        "burst must be at least producer.rateLimit.eventsPerSecond",
    );
    for burst in [None, Some(100), Some(1000)] {
        pipeline.spec.producer.rate_limit = Some(RateLimitSpec {
            events_per_second: 100,
            burst,
        });
        validate_cel(&pipeline).unwrap();
    }
}

#[test]
fn auth_needs_static_tokens_or_jwt_and_a_bounded_leeway() {
    let mut pipeline = full();
    let auth = pipeline.spec.producer.auth.as_mut().unwrap();
    auth.secret_ref = None;
    validate_cel(&pipeline).unwrap();
    let auth = pipeline.spec.producer.auth.as_mut().unwrap();
    auth.jwt.as_mut().unwrap().leeway = "6m".parse().unwrap();
    refused(validate_cel(&pipeline), "leeway must be at most 5m");
    pipeline.spec.producer.auth.as_mut().unwrap().jwt = None;
    refused(
        validate_cel(&pipeline),
        "producer.auth needs secretRef (static tokens), jwt, or both",
    );
}

#[test]
fn a_ttl_below_one_second_is_refused() {
    let mut pipeline = full();
    pipeline.spec.sink.mongodb.ttl = Some("999ms".parse().unwrap());
    refused(
        validate_cel(&pipeline),
        "sink.mongodb.ttl must be at least 1s",
    );
    pipeline.spec.sink.mongodb.ttl = Some("1s".parse().unwrap());
    validate_cel(&pipeline).unwrap();
}

fn schema_versions(numbers: &[u32]) -> Vec<SchemaVersion> {
    numbers
        .iter()
        .map(|&version| SchemaVersion {
            version,
            schema: serde_json::json!({"type": "object"}),
        })
        .collect()
}

#[test]
fn a_schema_version_listed_twice_is_refused() {
    let mut pipeline = full();
    pipeline.spec.producer.schema = None;
    pipeline.spec.producer.schemas = schema_versions(&[1, 2]);
    validate_cel(&pipeline).unwrap();
    pipeline.spec.producer.schemas = schema_versions(&[1, 2, 1]);
    refused(
        validate_cel(&pipeline),
        "each version number may be listed only once",
    );
}

#[test]
fn schema_and_schemas_are_exclusive() {
    let mut pipeline = full();
    pipeline.spec.producer.schema = Some(serde_json::json!({"type": "object"}));
    pipeline.spec.producer.schemas = schema_versions(&[1]);
    refused(
        validate_cel(&pipeline),
        "producer.schema and producer.schemas are exclusive",
    );
}

/// The refusals of `w` (`0`, `"all"`) are the API server's: `tests/cluster/crd.rs`. Client-side,
/// serde refuses them before any rule could run.
#[test]
fn write_concern_w_accepts_majority_and_a_positive_number() {
    for w in [serde_json::json!("majority"), serde_json::json!(2)] {
        let mut value = serde_json::to_value(full()).unwrap();
        value["spec"]["sink"]["mongodb"]["writeConcern"] = serde_json::json!({"w": w});
        let pipeline = serde_json::from_value::<EventPipeline>(value).unwrap();
        validate_cel(&pipeline).unwrap();
    }
}
