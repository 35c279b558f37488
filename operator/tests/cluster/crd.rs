//! The CRD on a real API server: structural schema and CEL accepted, `kubectl explain` shows the
//! field docs, every validation rule refuses its bad object with its message.

use serde_json::{Value, json};

use crate::support::{Namespace, REPO, installed, kubectl_ok, kubectl_stdin, ok, refused};

#[test]
fn the_crd_applies_becomes_established_and_explains_its_fields() {
    let _cluster = crate::support::shared();
    installed();
    let applied = kubectl_ok(&["apply", "-f", &format!("{REPO}/crds/")]);
    assert!(
        applied
            .contains("customresourcedefinition.apiextensions.k8s.io/eventpipelines.eventflow.dev"),
        "{applied}"
    );
    let established = kubectl_ok(&[
        "get",
        "crd",
        "eventpipelines.eventflow.dev",
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Established")].status}"#,
    ]);
    assert_eq!(established, "True");
    let explained = kubectl_ok(&["explain", "eventpipeline.spec.topic.partitions"]);
    assert!(
        explained.contains("FIELD: partitions <integer>"),
        "{explained}"
    );
    assert!(
        explained.contains("Number of partitions (at least 1). It can grow but never shrink"),
        "{explained}"
    );
    let explained = kubectl_ok(&["explain", "eventpipeline.spec.producer.auth.jwt"]);
    for words in [
        "FIELD: jwt <Object>",
        "JSON Web Token validation",
        "algorithm\t<string> -required-",
        "keySecretRef\t<Object> -required-",
        "leeway\t<string>",
    ] {
        assert!(explained.contains(words), "{words:?} in {explained}");
    }
    let explained = kubectl_ok(&["explain", "eventpipeline.spec.sink.mongodb.ttl"]);
    assert!(
        explained.contains("FIELD: ttl <string>")
            && explained.contains("How long an event stays in the read model"),
        "{explained}"
    );
}

/// A valid pipeline named `name` (Retain: deleting it needs no Kafka).
fn pipeline(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "eventflow.dev/v1alpha1",
        "kind": "EventPipeline",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "kafka": {"bootstrapServers": "127.0.0.1:1"},
            "topic": {"name": format!("cel-{namespace}"), "partitions": 3, "replicationFactor": 1},
            "producer": {"replicas": 1},
            "consumer": {"batchSize": 10, "batchTimeout": "1s"},
            "sink": {"mongodb": {"uriSecretRef": {"name": "mongodb", "key": "uri"}, "database": "d", "collection": "c"}},
            "autoscaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 3},
        }
    })
}

fn apply(object: &Value) -> std::process::Output {
    kubectl_stdin(&["apply", "-f", "-"], &object.to_string())
}

fn set(mut object: Value, pointer: &str, value: Value) -> Value {
    *object.pointer_mut(pointer).unwrap() = value;
    object
}

/// (field, bad value, the API server's message) of each rule checked on creation.
fn creation_cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "/spec/autoscaling/minReplicas",
            json!(4),
            "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        ),
        (
            "/spec/consumer/batchTimeout",
            json!("5ms"),
            "consumer.batchTimeout must be between 10ms and 5m",
        ),
        (
            "/spec/consumer/batchTimeout",
            json!("6m"),
            "consumer.batchTimeout must be between 10ms and 5m",
        ),
        (
            "/spec/topic/partitions",
            json!(0),
            "spec.topic.partitions: Invalid value: 0: spec.topic.partitions in body should be greater than or equal to 1",
        ),
        (
            "/spec/consumer/batchSize",
            json!(10_001),
            "spec.consumer.batchSize in body should be less than or equal to 10000",
        ),
        (
            "/spec/sink/mongodb",
            json!({"uriSecretRef": {"name": "mongodb", "key": "uri"}, "ttl": "500ms"}),
            "sink.mongodb.ttl must be at least 1s",
        ),
        (
            "/spec/sink/mongodb",
            json!({"uriSecretRef": {"name": "mongodb", "key": "uri"}, "writeConcern": {"w": 0}}),
            r#"w must be "majority" or a number of members of at least 1"#,
        ),
        (
            "/spec/sink/mongodb",
            json!({"uriSecretRef": {"name": "mongodb", "key": "uri"}, "writeConcern": {"w": "all"}}),
            r#"w must be "majority" or a number of members of at least 1"#,
        ),
        (
            "/spec/producer",
            json!({"auth": {}}),
            "producer.auth needs secretRef (static tokens), jwt, or both",
        ),
        (
            "/spec/producer",
            json!({"auth": {"jwt": {"algorithm": "HS256", "leeway": "6m",
                                    "keySecretRef": {"name": "jwt", "key": "secret"}}}}),
            "producer.auth.jwt.leeway must be at most 5m",
        ),
        (
            "/spec/producer",
            json!({"auth": {"jwt": {"algorithm": "none",
                                    "keySecretRef": {"name": "jwt", "key": "secret"}}}}),
            r#"Unsupported value: "none""#,
        ),
    ]
}

#[test]
fn each_validation_rule_refuses_its_bad_pipeline_with_its_message() {
    let _cluster = crate::support::shared();
    installed();
    let ns = Namespace::new("cel");
    let base = pipeline(&ns.0, "valid");
    let creation = creation_cases();
    for (index, (pointer, value, message)) in creation.into_iter().enumerate() {
        let bad = set(pipeline(&ns.0, &format!("bad-{index}")), pointer, value);
        let stderr = refused(
            &format!("{pointer} = {}", bad.pointer(pointer).unwrap()),
            &apply(&bad),
        );
        assert!(
            stderr.contains(message),
            "{pointer}: expected {message:?} in {stderr}"
        );
    }
    ok("a valid pipeline", &apply(&base));
    let transitions = [
        (
            "/spec/topic/partitions",
            json!(2),
            "topic.partitions cannot decrease",
        ),
        (
            "/spec/topic/replicationFactor",
            json!(3),
            "topic.replicationFactor is immutable",
        ),
        (
            "/spec/topic/name",
            json!("renamed"),
            "topic.name is immutable",
        ),
    ];
    for (pointer, value, message) in transitions {
        let changed = set(base.clone(), pointer, value);
        let stderr = refused(&format!("changing {pointer}"), &apply(&changed));
        assert!(
            stderr.contains(message),
            "{pointer}: expected {message:?} in {stderr}"
        );
    }
    ok(
        "growing partitions",
        &apply(&set(base, "/spec/topic/partitions", json!(4))),
    );
}
