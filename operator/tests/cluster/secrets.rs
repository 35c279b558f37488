//! The cluster operator on the dev broker's `SASL_SSL` listener, and it never prints a credential:
//! a pipeline whose `kafka.secretRef` holds the SCRAM user, its password and the CA
//! (`ssl.ca.pem`), whose MongoDB Secret holds a URI with a password and whose auth Secret holds
//! a bearer token reaches Ready (its topic made through the secured listener) with the operator
//! logging at debug level (`eventflow_operator`); the same pipeline with a wrong password gets
//! `TopicReady=False` / `KafkaAuthenticationFailed` naming the refused login; and no password
//! is in the operator's log, the pipelines' status, their Events or the Deployments it built
//! (which refer to the Secrets, never copy them).

use eventflow_workloads::testkit::{CaForm, SecuredKafka};
use serde_json::json;

use crate::support::{
    CONVERGE, Watched, apply, condition, kubectl_ok, operator_log, wait_event, wait_pipeline,
};

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

/// A Secret `name` of the secured listener's client properties, logging in with `password`.
fn kafka_secret(namespace: &str, name: &str, secured: &SecuredKafka, password: &str) {
    let properties = secured.properties(password, CaForm::Pem).unwrap();
    let literals: Vec<(&str, &str)> = properties
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    secret(namespace, name, &literals);
}

/// A pipeline `name` on the secured listener with `kafka.secretRef` `kafka_secret`.
fn pipeline(namespace: &str, name: &str, kafka_secret: &str, bootstrap: &str) -> serde_json::Value {
    json!({
        "apiVersion": "eventflow.dev/v1alpha1",
        "kind": "EventPipeline",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "kafka": {"bootstrapServers": bootstrap, "secretRef": {"name": kafka_secret}},
            "topic": {"name": format!("{namespace}.{name}"), "partitions": 1, "replicationFactor": 1},
            "producer": {"auth": {"secretRef": {"name": "tokens", "key": "tokens"}}},
            "sink": {"mongodb": {"uriSecretRef": {"name": "mongodb-auth", "key": "uri"}}},
        },
    })
}

#[test]
fn sasl_ssl_through_the_secret_and_no_credential_reaches_the_operator_log_status_or_events() {
    let _cluster = crate::support::shared();
    let secured = SecuredKafka::from_env().expect("the dev services' SASL_SSL listener");
    let wrong_password = format!("{}-wrong", secured.password());
    let watched = Watched::new("secrets");
    let ns = &watched.ns.0;
    kafka_secret(ns, "kafka", &secured, secured.password());
    kafka_secret(ns, "kafka-wrong", &secured, &wrong_password);
    let uri = format!("mongodb://u:{MONGODB_PASSWORD}@mongo.example:27017");
    secret(ns, "mongodb-auth", &[("uri", &uri)]);
    secret(ns, "tokens", &[("tokens", BEARER_TOKEN)]);
    apply(&[
        pipeline(ns, "secrets", "kafka", &secured.bootstrap),
        pipeline(ns, "wrong", "kafka-wrong", &secured.bootstrap),
    ]);
    // Kafka through the Secret works; the MongoDB behind a password does not exist, and the
    // sink check's message and Warning say so without the password.
    let secured_topic = wait_pipeline(
        ns,
        "secrets",
        "TopicReady, SinkReady=False",
        CONVERGE,
        |p| {
            condition(p, "TopicReady").is_some_and(|(status, _, _, _)| status == "True")
                && condition(p, "SinkReady").is_some_and(|(status, _, _, _)| status == "False")
        },
    );
    let (_, reason, message, _) = condition(&secured_topic, "SinkReady").unwrap();
    assert_eq!(reason, "MongoDBUnavailable", "{message}");
    assert!(message.contains("mongo.example"), "{message}");
    wait_event(ns, "secrets", "Warning", "MongoDBUnavailable");
    let refused = wait_pipeline(ns, "wrong", "TopicReady=False", CONVERGE, |p| {
        condition(p, "TopicReady").is_some_and(|(status, _, _, _)| status == "False")
    });
    let (_, reason, message, _) = condition(&refused, "TopicReady").unwrap();
    assert_eq!(reason, "KafkaAuthenticationFailed", "{message}");
    assert!(
        message.contains("SASL authentication error") && message.contains("SCRAM-SHA-512"),
        "{message}"
    );
    let warned = wait_event(ns, "wrong", "Warning", "KafkaAuthenticationFailed");
    assert!(
        warned[0].contains("SASL authentication error"),
        "{warned:?}"
    );

    let log = std::fs::read_to_string(operator_log(ns)).unwrap();
    assert!(
        log.contains("DEBUG"),
        "the operator did not log at debug level"
    );
    let outputs = [
        ("operator log", log),
        (
            "pipeline",
            kubectl_ok(&["-n", ns, "get", "eventpipelines", "-o", "yaml"]),
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
            [secured.password(), BEARER_TOKEN, MONGODB_PASSWORD]
                .into_iter()
                .filter(|secret| text.contains(secret))
                .map(move |secret| format!("{what}: {secret}"))
        })
        .collect();
    assert!(found.is_empty(), "credentials printed: {found:?}");
}
