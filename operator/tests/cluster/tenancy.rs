//! Tenants sharing one Kafka cluster: a topic has one owner pipeline; a second claim is a
//! `TopicConflict` that applies nothing and deletes nothing; the owner's deletion releases the
//! topic, which another pipeline then adopts only when it says so; and the operator's topic
//! policy keeps a namespace to its own topics.

use serde_json::{Value, json};

use crate::{
    deletion::delete_and_wait,
    kafka,
    support::{
        CONVERGE, Watched, apply, condition, events, example, get, is_ready, patch, wait_pipeline,
    },
};

/// The quickstart pipeline named `name` in `namespace` on `topic`, with a fixed consumer.
fn pipeline(namespace: &str, name: &str, topic: &str, deletion: &str) -> Value {
    let mut spec = example("quickstart.yaml", namespace).remove(0);
    spec["metadata"]["name"] = name.into();
    spec["spec"]["topic"]["name"] = topic.into();
    spec["spec"]["topic"]["deletionPolicy"] = deletion.into();
    spec["spec"]["autoscaling"]["enabled"] = false.into();
    spec
}

/// Whether the pipeline's `Ready` is `False` with `reason`.
fn refused_with(reason: &str) -> impl Fn(&Value) -> bool + '_ {
    move |p| condition(p, "Ready").is_some_and(|(s, r, _, _)| s == "False" && r == reason)
}

fn no_children(namespace: &str, name: &str) {
    for child in [format!("{name}-producer"), format!("{name}-consumer")] {
        assert!(
            get("deployment", namespace, &child).is_none(),
            "{namespace}/{child} was applied"
        );
    }
}

#[test]
fn a_second_pipeline_on_an_owned_topic_conflicts_and_deletes_nothing() {
    let _cluster = crate::support::shared();
    let team_a = Watched::new("team-a");
    // team-b's operator lets a pipeline name any topic: ownership holds whatever the policy.
    let team_b = Watched::with_args("team-b", &["--topic-policy", "any"]);
    let (a, b) = (&team_a.ns.0, &team_b.ns.0);
    let topic = format!("{a}.orders");
    apply(&[pipeline(a, "orders", &topic, "Retain")]);
    wait_pipeline(a, "orders", "Ready", CONVERGE, is_ready);
    kafka::produce(&topic, 10);
    let retention = kafka::topic_config(&topic)["retention.ms"].clone();

    let mut rival = pipeline(b, "orders", &topic, "Delete");
    rival["spec"]["topic"]["partitions"] = 6.into();
    rival["spec"]["topic"]["config"]["retention.ms"] = "60000".into();
    apply(&[rival]);
    let refused = wait_pipeline(
        b,
        "orders",
        "TopicConflict",
        CONVERGE,
        refused_with("TopicConflict"),
    );
    let (_, _, message, _) = condition(&refused, "Ready").unwrap();
    assert!(message.contains(&format!("{a}/orders")), "{message}");
    let warnings = events(b, "reason=TopicConflict");
    assert!(
        warnings
            .iter()
            .any(|(t, note)| t == "Warning" && note.contains(&format!("{a}/orders"))),
        "{warnings:?}"
    );
    no_children(b, "orders");
    assert_eq!(
        kafka::partitions(&topic),
        Some(4),
        "the rival grew the topic"
    );
    assert_eq!(kafka::topic_config(&topic)["retention.ms"], retention);

    // The loser's deletion (deletionPolicy Delete) leaves the owner's topic and events alone.
    delete_and_wait(b, "orders", CONVERGE);
    assert_eq!(kafka::messages(&topic), 10, "the owner's events");
    assert!(events(b, "reason=TopicDeleted").is_empty());
    let kept = events(b, "reason=TopicRetained");
    assert!(
        kept.iter()
            .any(|(_, note)| note.contains("does not own it")),
        "{kept:?}"
    );
    let owner = get("eventpipeline", a, "orders").unwrap();
    assert!(is_ready(&owner), "{owner:#}");

    // The owner's deletion releases the topic (kept: Retain); adopting it is explicit.
    delete_and_wait(a, "orders", CONVERGE);
    apply(&[pipeline(b, "orders", &topic, "Retain")]);
    wait_pipeline(
        b,
        "orders",
        "TopicNotAdopted",
        CONVERGE,
        refused_with("TopicNotAdopted"),
    );
    no_children(b, "orders");
    let adopt = json!({"spec": {"topic": {"adopt": true}}});
    assert!(patch(b, "orders", &adopt).status.success());
    wait_pipeline(b, "orders", "Ready", CONVERGE, is_ready);
    assert_eq!(kafka::messages(&topic), 10);
}

#[test]
fn the_topic_policy_keeps_a_namespace_to_its_own_prefix() {
    let _cluster = crate::support::shared();
    let team = Watched::new("team-c");
    let ns = &team.ns.0;
    let outside = format!("elsewhere-{ns}.orders");
    apply(&[pipeline(ns, "orders", &outside, "Delete")]);
    let refused = wait_pipeline(
        ns,
        "orders",
        "TopicNotAllowed",
        CONVERGE,
        refused_with("TopicNotAllowed"),
    );
    let (_, _, message, _) = condition(&refused, "Ready").unwrap();
    assert!(message.contains(&format!("{ns}.")), "{message}");
    no_children(ns, "orders");
    assert_eq!(kafka::partitions(&outside), None, "the topic was created");

    // Without topic.name, the pipeline's topic is `<namespace>.<name>`.
    let mut unnamed = pipeline(ns, "payments", "unused", "Delete");
    unnamed["spec"]["topic"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    apply(&[unnamed]);
    let ready = wait_pipeline(ns, "payments", "Ready", CONVERGE, is_ready);
    assert_eq!(ready["status"]["topic"]["name"], format!("{ns}.payments"));
    assert_eq!(kafka::partitions(&format!("{ns}.payments")), Some(4));
}
