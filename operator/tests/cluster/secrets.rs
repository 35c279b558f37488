//! The cluster operator never prints a credential: a pipeline whose `kafka.secretRef` holds a
//! SASL password, whose MongoDB Secret holds a URI with a password and whose auth Secret holds a
//! bearer token reaches Ready with the operator logging at debug level (`eventflow_operator`),
//! and none of the values is in the operator's log, the pipeline's status, its Events or the
//! Deployments it built (which refer to the Secrets, never copy them).

use serde_json::json;

use crate::support::{
    CONVERGE, Watched, apply, env, is_ready, kubectl_ok, operator_log, wait_pipeline,
};

const SASL_PASSWORD: &str = "S4SL-s3cr3t-cluster-XYZ";
const BEARER_TOKEN: &str = "b34r3r-s3cr3t-cluster-XYZ";
const MONGODB_PASSWORD: &str = "m0ng0-s3cr3t-cluster-XYZ";

fn secret(namespace: &str, name: &str, literals: &[(&str, &str)]) {
    let mut args = vec!["-n", namespace, "create", "secret", "generic", name];
    let literals: Vec<String> = literals
        .iter()
        .map(|(key, value)| format!("--from-literal={key}={value}"))
        .collect();
    args.extend(literals.iter().map(String::as_str));
    kubectl_ok(&args);
}

#[test]
fn no_credential_reaches_the_operator_log_status_or_events() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("secrets");
    let ns = &watched.ns.0;
    secret(
        ns,
        "kafka",
        &[
            ("sasl.username", "eventflow"),
            ("sasl.password", SASL_PASSWORD),
        ],
    );
    let uri = format!("mongodb://u:{MONGODB_PASSWORD}@mongo.example:27017");
    secret(ns, "mongodb-auth", &[("uri", &uri)]);
    secret(ns, "tokens", &[("tokens", BEARER_TOKEN)]);
    apply(&[json!({
        "apiVersion": "eventflow.dev/v1alpha1",
        "kind": "EventPipeline",
        "metadata": {"name": "secrets", "namespace": ns},
        "spec": {
            "kafka": {"bootstrapServers": env().kafka, "secretRef": {"name": "kafka"}},
            "topic": {"name": format!("secrets.{ns}"), "partitions": 1, "replicationFactor": 1},
            "producer": {"auth": {"secretRef": {"name": "tokens", "key": "tokens"}}},
            "sink": {"mongodb": {"uriSecretRef": {"name": "mongodb-auth", "key": "uri"}}},
        },
    })]);
    wait_pipeline(ns, "secrets", "Ready", CONVERGE, is_ready);

    let log = std::fs::read_to_string(operator_log(ns)).unwrap();
    assert!(
        log.contains("DEBUG"),
        "the operator did not log at debug level"
    );
    let outputs = [
        ("operator log", log),
        (
            "pipeline",
            kubectl_ok(&["-n", ns, "get", "eventpipeline", "secrets", "-o", "yaml"]),
        ),
        (
            "events",
            kubectl_ok(&["-n", ns, "get", "events.events.k8s.io", "-o", "yaml"]),
        ),
        (
            "deployments",
            kubectl_ok(&["-n", ns, "get", "deployments", "-o", "yaml"]),
        ),
    ];
    let found: Vec<String> = outputs
        .iter()
        .flat_map(|(what, text)| {
            [SASL_PASSWORD, BEARER_TOKEN, MONGODB_PASSWORD]
                .into_iter()
                .filter(|secret| text.contains(secret))
                .map(move |secret| format!("{what}: {secret}"))
        })
        .collect();
    assert!(found.is_empty(), "credentials printed: {found:?}");
}
