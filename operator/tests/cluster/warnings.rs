//! Trouble a person must act on is a Warning Event, once per reason while it lasts, and a Normal
//! `Recovered` Event when it is over: an unreachable Kafka, a missing Secret, an unreachable
//! MongoDB, and a topic deleted behind the operator's back (created again, empty: a Warning that
//! its events are gone); a restarted operator continues the Warning of a trouble still there.
//! The other reasons' Warnings are asserted where their trouble is made: a refused shrink
//! (`pipelines.rs`), a refused login (`secrets.rs`), an incompatible schema (`schemas.rs`), a
//! stuck rollout (`rollout.rs`).

use serde_json::{Value, json};

use crate::{
    kafka,
    support::{
        CONVERGE, Namespace, Watched, apply, event_objects, example, is_ready, kubectl_ok, patch,
        pipeline_events, start_operator, topic_of, wait_event, wait_for, wait_pipeline,
    },
};

/// The quickstart example named `name`, with its own topic.
fn quickstart(ns: &str, name: &str) -> Value {
    let mut pipeline = example("quickstart.yaml", ns).remove(0);
    pipeline["metadata"]["name"] = name.into();
    pipeline["spec"]["topic"]["name"] = format!("{ns}.{name}").into();
    pipeline
}

#[test]
fn kafka_secret_and_mongodb_troubles_are_one_warning_each_then_recovered() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("warnings");
    let ns = &watched.ns.0;
    let mut dead = quickstart(ns, "dead");
    dead["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1".into();
    let mut unsecret = quickstart(ns, "unsecret");
    unsecret["spec"]["sink"]["mongodb"]["uriSecretRef"]["name"] = "absent".into();
    apply(&[dead, unsecret]);

    let kafka_notes = wait_event(ns, "dead", "Warning", "KafkaUnavailable");
    // The first Kafka call (the cluster id the topic claim needs, or a topic call) fails by
    // transport or by its timeout.
    assert!(
        ["BrokerTransportFailure", "Timed out"]
            .iter()
            .any(|why| kafka_notes[0].contains(why)),
        "{kafka_notes:?}"
    );
    let secret_notes = wait_event(ns, "unsecret", "Warning", "SecretMissing");
    assert!(secret_notes[0].contains("absent"), "{secret_notes:?}");
    // Several reconciles later (retries, progress checks), still one Warning each.
    std::thread::sleep(std::time::Duration::from_secs(20));
    assert_eq!(
        pipeline_events(ns, "dead", "Warning", "KafkaUnavailable").len(),
        1
    );
    assert_eq!(
        pipeline_events(ns, "unsecret", "Warning", "SecretMissing").len(),
        1
    );

    // The Secret arrives with a MongoDB nobody answers at: the sink check names it.
    let secret = |action: &str, uri: &str| {
        let uri = format!("--from-literal=uri={uri}");
        let args = ["-n", ns, "create", "secret", "generic", "absent", &uri];
        if action == "create" {
            kubectl_ok(&args);
        } else {
            let manifest = kubectl_ok(&[&args[..], &["--dry-run=client", "-o", "yaml"]].concat());
            crate::support::kubectl_stdin(&["apply", "-f", "-"], &manifest);
        }
    };
    secret("create", "mongodb://127.0.0.1:1");
    let over = wait_event(ns, "unsecret", "Normal", "Recovered");
    assert!(
        over[0].starts_with("SecretMissing resolved after"),
        "{over:?}"
    );
    let mongodb_notes = wait_event(ns, "unsecret", "Warning", "MongoDBUnavailable");
    assert!(
        mongodb_notes[0].starts_with("no answer from MongoDB at 127.0.0.1:1 within 5s"),
        "{mongodb_notes:?}"
    );
    secret("replace", &crate::support::env().mongodb);
    wait_for("MongoDBUnavailable to be over", CONVERGE, || {
        let over = pipeline_events(ns, "unsecret", "Normal", "Recovered");
        over.iter()
            .any(|note| note.starts_with("MongoDBUnavailable resolved after"))
            .then_some(())
    });
    let kafka = json!({"spec": {"kafka": {"bootstrapServers": crate::support::env().kafka}}});
    assert!(patch(ns, "dead", &kafka).status.success());
    let over = wait_event(ns, "dead", "Normal", "Recovered");
    assert!(
        over[0].starts_with("KafkaUnavailable resolved after"),
        "{over:?}"
    );
    wait_pipeline(ns, "dead", "Ready", CONVERGE, is_ready);
    for (name, reasons) in [
        ("dead", &["KafkaUnavailable"][..]),
        ("unsecret", &["SecretMissing", "MongoDBUnavailable"]),
    ] {
        for reason in reasons {
            assert_eq!(
                pipeline_events(ns, name, "Warning", reason).len(),
                1,
                "{name} {reason}"
            );
        }
        assert_eq!(
            pipeline_events(ns, name, "Normal", "Recovered").len(),
            reasons.len(),
            "{name}"
        );
        assert_eq!(
            pipeline_events(ns, name, "Normal", "Created").len(),
            1,
            "{name}"
        );
    }
}

/// An operator restarted while a trouble lasts continues the Warning the earlier one wrote (its
/// series counts on) instead of publishing another.
#[test]
fn a_restarted_operator_continues_the_warning_of_a_trouble_still_there() {
    let _cluster = crate::support::shared();
    let ns = Namespace::new("inherit");
    let namespace = ns.0.as_str();
    let mut unsecret = quickstart(namespace, "unsecret");
    unsecret["spec"]["sink"]["mongodb"]["uriSecretRef"]["name"] = "absent".into();
    apply(&[unsecret]);
    let first = start_operator(namespace, namespace, &[]);
    wait_event(namespace, "unsecret", "Warning", "SecretMissing");
    drop(first);

    let _second = start_operator(namespace, namespace, &[]);
    let selector = "regarding.kind=EventPipeline,regarding.name=unsecret,reason=SecretMissing";
    let counts = wait_for("the Warning's series to count on", CONVERGE, || {
        let counts: Vec<i64> = event_objects(namespace, selector)
            .iter()
            .map(|event| event["series"]["count"].as_i64().unwrap_or(1))
            .collect();
        (counts.iter().any(|count| *count >= 2)).then_some(counts)
    });
    assert_eq!(counts.len(), 1, "one Warning, continued: {counts:?}");
}

#[test]
fn a_topic_deleted_behind_the_operators_back_is_a_warning_that_its_events_are_gone() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("recreated");
    let ns = &watched.ns.0;
    let pipeline = quickstart(ns, "recreated");
    let topic = topic_of(&pipeline);
    apply(&[pipeline]);
    wait_pipeline(ns, "recreated", "Ready", CONVERGE, is_ready);
    assert!(pipeline_events(ns, "recreated", "Warning", "TopicRecreated").is_empty());

    kafka::delete(&topic);
    let notes = wait_event(ns, "recreated", "Warning", "TopicRecreated");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains(&topic) && notes[0].contains("events it held are gone"),
        "{notes:?}"
    );
    wait_for("the topic again", CONVERGE, || kafka::partitions(&topic));
    assert_eq!(kafka::partitions(&topic), Some(4), "the spec's partitions");
    assert_eq!(
        pipeline_events(ns, "recreated", "Normal", "TopicCreated").len(),
        1,
        "the first creation only"
    );
}
