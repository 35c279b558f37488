//! Deletion through the finalizer on a real API server: `Delete` removes the topics and the
//! consumer group, `Retain` keeps the topic, the controller-manager garbage-collects the
//! children, and an unreachable Kafka still lets the pipeline go after the bounded retries.

use std::time::Duration;

use crate::{
    kafka,
    support::{
        CONVERGE, Watched, apply, events, example, get, is_ready, kubectl_ok, topic_of, wait_for,
        wait_pipeline,
    },
};

/// Deletes a pipeline and waits until it is gone (its finalizer done) within `timeout`.
pub fn delete_and_wait(namespace: &str, name: &str, timeout: Duration) {
    kubectl_ok(&[
        "-n",
        namespace,
        "delete",
        "eventpipeline",
        name,
        "--wait=false",
    ]);
    wait_for(&format!("{namespace}/{name} gone"), timeout, || {
        get("eventpipeline", namespace, name)
            .is_none()
            .then_some(())
    });
}

fn children_collected(namespace: &str, name: &str) {
    wait_for("the children garbage-collected", CONVERGE, || {
        let gone = |kind, child: String| get(kind, namespace, &child).is_none();
        (gone("deployment", format!("{name}-producer"))
            && gone("deployment", format!("{name}-consumer"))
            && gone("service", format!("{name}-producer")))
        .then_some(())
    });
}

fn event_notes(namespace: &str, reason: &str) -> Vec<(String, String)> {
    events(namespace, &format!("reason={reason}"))
}

#[test]
fn delete_policy_removes_topics_and_group_and_children_go() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("delete");
    let ns = &watched.ns;
    let mut spec = example("quickstart.yaml", &ns.0).remove(0);
    spec["spec"]["autoscaling"]["enabled"] = false.into();
    assert_eq!(spec["spec"]["topic"]["deletionPolicy"], "Delete");
    let topic = topic_of(&spec);
    apply(&[spec]);
    wait_pipeline(&ns.0, "quickstart", "Ready", CONVERGE, is_ready);
    let group = format!("eventflow-{}-quickstart", ns.0);
    kafka::produce(&topic, 3);
    kafka::commit_to_end(&group, &topic);
    assert!(kafka::group_exists(&group));
    assert!(
        kafka::partitions(&format!("{topic}.dlq")).is_some(),
        "no dead-letter topic"
    );

    delete_and_wait(&ns.0, "quickstart", CONVERGE);
    // The broker's metadata follows a topic deletion shortly after it was accepted.
    for name in [topic.clone(), format!("{topic}.dlq")] {
        wait_for(
            &format!("topic {name} gone from Kafka"),
            Duration::from_secs(10),
            || kafka::partitions(&name).is_none().then_some(()),
        );
    }
    assert!(!kafka::group_exists(&group), "group {group} left behind");
    children_collected(&ns.0, "quickstart");
    let notes = event_notes(&ns.0, "TopicDeleted");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "Normal");
    assert!(
        notes[0]
            .1
            .contains(&format!("consumer group {group} deleted")),
        "{notes:?}"
    );
}

#[test]
fn retain_policy_keeps_the_topic_and_children_go() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("retain");
    let ns = &watched.ns;
    let spec = example("posts.yaml", &ns.0).remove(0);
    assert_eq!(spec["spec"]["topic"]["deletionPolicy"], "Retain");
    let topic = topic_of(&spec);
    apply(&[spec]);
    wait_pipeline(&ns.0, "posts", "Ready", CONVERGE, is_ready);
    delete_and_wait(&ns.0, "posts", CONVERGE);
    assert_eq!(kafka::partitions(&topic), Some(3));
    children_collected(&ns.0, "posts");
    assert_eq!(event_notes(&ns.0, "TopicRetained").len(), 1);
}

#[test]
fn unreachable_kafka_still_deletes_after_bounded_retries_with_a_warning() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("unreachable");
    let ns = &watched.ns;
    let mut spec = example("quickstart.yaml", &ns.0).remove(0);
    spec["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1".into();
    spec["spec"]["autoscaling"]["enabled"] = false.into();
    apply(&[spec]);
    wait_for("the finalizer", CONVERGE, || {
        let pipeline = get("eventpipeline", &ns.0, "quickstart")?;
        (pipeline["metadata"]["finalizers"] == serde_json::json!(["eventflow.dev/cleanup"]))
            .then_some(())
    });
    // The shared operator: 3 attempts, 1 s backoff doubling, each bounded by the Kafka timeout.
    delete_and_wait(&ns.0, "quickstart", Duration::from_secs(120));
    let notes = event_notes(&ns.0, "CleanupAbandoned");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "Warning");
    assert!(notes[0].1.contains("after 3 attempts"), "{notes:?}");
    children_collected(&ns.0, "quickstart");
}
