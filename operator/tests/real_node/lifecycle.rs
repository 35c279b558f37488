//! Around the first hour: a pipeline on Kafka's SASL listener with its credentials in a Secret,
//! the Kafka and MongoDB pods restarted on their volumes, and the way out (pipelines deleted by
//! their deletion policies, then `helm uninstall`).

use std::{collections::BTreeSet, time::Duration};

use serde_json::{Value, json};

use crate::support::{cluster, pod_ready, wait_for};

/// The in-cluster Kafka's `SASL_PLAINTEXT` listener (deploy/kind/kafka.yaml).
const SASL_BOOTSTRAP: &str = "kafka.kafka.svc.cluster.local:9094";
/// The Kafka log directory in the broker's pod (its volume).
const KAFKA_DATA: &str = "/var/lib/kafka/data";

/// The password Kafka's SASL listener accepts for `eventflow` (the Secret `kafka/kafka-sasl`).
pub fn sasl_password() -> String {
    cluster().kubectl_ok(&[
        "-n",
        "kafka",
        "get",
        "secret",
        "kafka-sasl",
        "-o",
        "go-template={{.data.password | base64decode}}",
    ])
}

/// A Secret of librdkafka properties for the SASL listener, with `password`.
fn create_kafka_secret(namespace: &str, name: &str, password: &str) {
    let literal = |key: &str, value: &str| format!("--from-literal={key}={value}");
    cluster().kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        name,
        &literal("security.protocol", "SASL_PLAINTEXT"),
        &literal("sasl.mechanism", "PLAIN"),
        &literal("sasl.username", "eventflow"),
        &literal("sasl.password", password),
    ]);
}

/// A two-partition pipeline on the SASL listener with the Kafka Secret `secret`, storing into the
/// collection named like the pipeline.
fn apply_sasl_pipeline(namespace: &str, name: &str, secret: &str) {
    cluster().apply(&json!({
        "apiVersion": "eventflow.dev/v1alpha1",
        "kind": "EventPipeline",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "kafka": {"bootstrapServers": SASL_BOOTSTRAP, "secretRef": {"name": secret}},
            "topic": {"partitions": 2, "replicationFactor": 1, "deletionPolicy": "Delete"},
            "sink": {"mongodb": {
                "uriSecretRef": {"name": "mongodb", "key": "uri"},
                "database": "eventflow",
                "collection": name,
            }},
        },
    }));
}

/// The pipeline's `Ready` condition, once it has one.
fn ready_condition(namespace: &str, name: &str) -> Option<Value> {
    let pipeline = cluster().json(&["eventpipeline", "-n", namespace, name]);
    pipeline["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
}

/// A pipeline whose Kafka credentials come from a Secret goes Ready with its pods Running and
/// Ready (the operator's admin calls and the workloads read the mounted properties); the same
/// pipeline with a wrong password is refused by the broker and says so. The name of the pipeline
/// that works.
pub fn sasl_pipelines(namespace: &str, password: &str) -> &'static str {
    let (good, bad) = ("sasl-orders", "sasl-refused");
    create_kafka_secret(namespace, good, password);
    create_kafka_secret(namespace, bad, "not-the-password");
    apply_sasl_pipeline(namespace, good, good);
    apply_sasl_pipeline(namespace, bad, bad);
    wait_for(
        "the SASL pipeline Ready with its pods Running and Ready",
        Duration::from_secs(300),
        || {
            let ready = ready_condition(namespace, good)?["status"] == "True";
            let pods = cluster().pods(namespace, &format!("app.kubernetes.io/instance={good}"));
            (ready && pods.len() >= 2 && pods.iter().all(pod_ready)).then_some(())
        },
    );
    let refused = wait_for(
        "the pipeline with a wrong SASL password not Ready, with its reason",
        Duration::from_secs(120),
        || {
            let condition = ready_condition(namespace, bad)?;
            (condition["status"] == "False" && condition["reason"] != "Pending")
                .then_some(condition)
        },
    );
    println!(
        "wrong SASL password: Ready=False {}: {}",
        refused["reason"], refused["message"]
    );
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Kafka")),
        "a Kafka reason for the refused credentials: {refused:#}"
    );
    cluster().kubectl_ok(&["-n", namespace, "delete", "eventpipeline", bad]);
    good
}

/// The bytes of `topic`'s log segments on the broker's volume.
fn kafka_log_bytes(topic: &str) -> u64 {
    let script = format!("cat {KAFKA_DATA}/{topic}-*/*.log | wc -c");
    let out = cluster().kubectl_ok(&["-n", "kafka", "exec", "kafka-0", "--", "sh", "-c", &script]);
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{script}: {out:?}: {e}"))
}

/// The topics whose partition directories are on the broker's volume (a deleted topic's
/// directories are renamed before they go, so they no longer count).
pub fn kafka_topics() -> BTreeSet<String> {
    let out = cluster().kubectl_ok(&["-n", "kafka", "exec", "kafka-0", "--", "ls", KAFKA_DATA]);
    out.lines()
        .filter_map(|dir| {
            let (topic, partition) = dir.rsplit_once('-')?;
            partition
                .chars()
                .all(|c| c.is_ascii_digit())
                .then(|| topic.to_owned())
        })
        .collect()
}

/// Deletes the one pod matching `label` in `namespace` and waits for its replacement to be
/// Running and Ready.
fn restart_pod(namespace: &str, label: &str) {
    let cluster = cluster();
    let before = cluster.pods(namespace, label);
    assert_eq!(before.len(), 1, "one {label} pod: {before:#?}");
    let uid = before[0]["metadata"]["uid"].clone();
    let name = before[0]["metadata"]["name"].as_str().unwrap().to_owned();
    cluster.kubectl_ok(&["-n", namespace, "delete", "pod", &name]);
    wait_for(
        &format!("a new {label} pod Running and Ready"),
        Duration::from_secs(180),
        || {
            let pods = cluster.pods(namespace, label);
            pods.iter()
                .any(|p| p["metadata"]["uid"] != uid && pod_ready(p))
                .then_some(())
        },
    );
}

/// The Kafka topic a pipeline's status names.
fn topic_of(namespace: &str, name: &str) -> String {
    let pipeline = cluster().json(&["eventpipeline", "-n", namespace, name]);
    pipeline["status"]["topic"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no topic in its status"))
        .to_owned()
}

/// Restarts the Kafka and MongoDB pods: the pipeline's topic log is the same on Kafka's volume
/// afterwards (nothing is produced meanwhile).
pub fn restart_the_dependencies(namespace: &str, pipeline: &str) {
    let topic = &topic_of(namespace, pipeline);
    let logged = kafka_log_bytes(topic);
    assert!(logged > 0, "{topic} holds events before the restart");
    restart_pod("kafka", "app.kubernetes.io/name=kafka");
    restart_pod("mongodb", "app.kubernetes.io/name=mongodb");
    assert_eq!(
        kafka_log_bytes(topic),
        logged,
        "{topic}'s log on Kafka's volume after the pod's restart"
    );
}

/// Deletes pipelines as docs/kubernetes.md says: `delete` (policy `Delete`) takes its topic and
/// dead-letter topic with it, `retain` (policy `Retain`) leaves its topic with a `TopicRetained`
/// Event; the rest go, their Deployments are collected, and `helm uninstall` removes the operator
/// and leaves the CRD.
pub fn delete_and_uninstall(
    namespace: &str,
    [delete, retain]: [&str; 2],
    release: &str,
    system: &str,
) {
    let cluster = cluster();
    let (deleted, retained) = (topic_of(namespace, delete), topic_of(namespace, retain));
    let topics = kafka_topics();
    assert!(
        topics.contains(&deleted) && topics.contains(&retained),
        "{deleted} and {retained} on the broker: {topics:?}"
    );
    cluster.kubectl_ok(&["-n", namespace, "delete", "eventpipeline", delete, retain]);
    let dead_letters = eventflow_contract::naming::dead_letter_topic(&deleted);
    wait_for(
        &format!("{deleted} and {dead_letters} deleted from the broker"),
        Duration::from_secs(60),
        || {
            let topics = kafka_topics();
            (!topics.contains(&deleted) && !topics.contains(&dead_letters)).then_some(())
        },
    );
    assert!(
        kafka_topics().contains(&retained),
        "{retained} stays (deletionPolicy Retain)"
    );
    let retained_events = cluster.kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        &format!("reason=TopicRetained,involvedObject.name={retain}"),
        "-o",
        "name",
    ]);
    assert!(
        !retained_events.trim().is_empty(),
        "a TopicRetained Event for {retain}"
    );

    cluster.kubectl_ok(&["-n", namespace, "delete", "eventpipelines", "--all"]);
    wait_for(
        "every pipeline's Deployments and pods gone",
        Duration::from_secs(180),
        || {
            let owned = |kind: &str| {
                let list = cluster.json(&[
                    kind,
                    "-n",
                    namespace,
                    "-l",
                    "app.kubernetes.io/name=eventflow",
                ]);
                list["items"].as_array().is_some_and(Vec::is_empty)
            };
            (owned("deployments") && owned("pods")).then_some(())
        },
    );
    cluster.helm_ok(&["uninstall", release, "--namespace", system, "--wait"]);
    wait_for("the operator's pods gone", Duration::from_secs(120), || {
        cluster
            .pods(system, "app.kubernetes.io/name=eventflow")
            .is_empty()
            .then_some(())
    });
    cluster.kubectl_ok(&["get", "crd", "eventpipelines.eventflow.dev"]);
}
