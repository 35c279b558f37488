//! Restarts: an operator `SIGKILLed` in the middle of a reconcile converges when started again,
//! without doing the finished work twice.

use std::time::Duration;

use serde_json::Value;

use crate::{
    kafka,
    support::{
        CONVERGE, Namespace, apply, example, get, is_ready, kubectl_ok, start_operator, wait_for,
        wait_pipeline,
    },
};

fn event_count(namespace: &str, reason: &str) -> usize {
    let events: Value = serde_json::from_str(&kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "events.events.k8s.io",
        "--field-selector",
        &format!("reason={reason}"),
        "-o",
        "json",
    ]))
    .unwrap();
    events["items"].as_array().unwrap().len()
}

#[test]
fn an_operator_killed_mid_reconcile_converges_on_restart() {
    let ns = Namespace::new("restart");
    let identity = format!("{}-op", ns.0);
    let mut operator = start_operator(&ns.0, &identity, &[]);
    let spec = example("transactions.yaml", &ns.0).remove(0);
    let topic = spec["spec"]["topic"]["name"].as_str().unwrap().to_owned();
    kubectl_ok(&[
        "-n",
        &ns.0,
        "create",
        "secret",
        "generic",
        "transactions-ingest-tokens",
        "--from-literal=tokens=t",
    ]);
    apply(&[spec]);
    // Kill as soon as the reconcile started (finalizer added) and before it finished (no status).
    let landed = wait_for("the finalizer", CONVERGE, || {
        let pipeline = get("eventpipeline", &ns.0, "transactions")?;
        pipeline["metadata"]["finalizers"].is_array().then(|| {
            operator.kill();
            pipeline
        })
    });
    let after = get("eventpipeline", &ns.0, "transactions").unwrap();
    assert!(
        landed["status"]["observedGeneration"].is_null()
            && after["status"]["observedGeneration"].is_null(),
        "the kill did not land mid-reconcile: {after:#}"
    );
    drop(operator);

    // Same identity: it renews its own Lease at once.
    let _restarted = start_operator(&ns.0, &identity, &[]);
    let pipeline = wait_pipeline(&ns.0, "transactions", "Ready", CONVERGE, is_ready);
    assert_eq!(pipeline["status"]["topic"]["partitions"], 6);
    assert_eq!(kafka::partitions(&topic), Some(6));
    for kind in ["deployment", "service"] {
        assert!(
            get(kind, &ns.0, "transactions-producer").is_some(),
            "{kind}"
        );
    }
    // The topic was created once: by the first run, or by the restart, not by both.
    let created = event_count(&ns.0, "TopicCreated");
    let adopted = event_count(&ns.0, "TopicAdopted");
    assert!(
        created <= 1 && created + adopted >= 1,
        "TopicCreated {created}, TopicAdopted {adopted}"
    );
    wait_for(
        "no second reconcile changes anything",
        Duration::from_secs(5),
        || (event_count(&ns.0, "TopicCreated") == created).then_some(()),
    );
}
