//! Restarts: an operator `SIGKILLed` in the middle of a reconcile converges when started again,
//! without doing the finished work twice; after an API server restart the watches resume and a
//! later change is reconciled.

use std::time::Duration;

use serde_json::json;

use crate::{
    kafka,
    support::{
        CONVERGE, Namespace, apply, events, example, get, is_ready, patch, restart_api_server,
        start_operator, topic_of, transactions_tokens, wait_for, wait_pipeline,
    },
};

fn event_count(namespace: &str, reason: &str) -> usize {
    events(namespace, &format!("reason={reason}")).len()
}

#[test]
fn an_operator_killed_mid_reconcile_converges_on_restart() {
    let _cluster = crate::support::shared();
    let ns = Namespace::new("restart");
    let identity = format!("{}-op", ns.0);
    let mut operator = start_operator(&ns.0, &identity, &[]);
    let spec = example("transactions.yaml", &ns.0).remove(0);
    let topic = topic_of(&spec);
    transactions_tokens(&ns.0);
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

#[test]
fn watches_resume_after_the_api_server_restarts() {
    let _cluster = crate::support::exclusive();
    let ns = Namespace::new("apiserver");
    // Without leader election: an outage longer than the Lease makes a leader step down and exit
    // (as client-go's does); this test is about the watches.
    let _operator = start_operator(&ns.0, &ns.0, &["--leader-election=false"]);
    apply(&example("posts.yaml", &ns.0));
    wait_pipeline(&ns.0, "posts", "Ready", CONVERGE, is_ready);

    restart_api_server();

    // Only a watch event reconciles this before the resync (5 min).
    let patched = patch(
        &ns.0,
        "posts",
        &json!({"spec": {"consumer": {"batchSize": 55}}}),
    );
    assert!(patched.status.success(), "{patched:?}");
    let patched = std::time::Instant::now();
    wait_pipeline(
        &ns.0,
        "posts",
        "Ready at generation 2",
        Duration::from_secs(30), // watches back off at most 4 s per error (controller::run)
        |p| is_ready(p) && p["metadata"]["generation"] == 2,
    );
    let consumer = get("deployment", &ns.0, "posts-consumer").unwrap();
    let env = consumer["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let batch = env
        .iter()
        .find(|e| e["name"] == "EVENTFLOW_BATCH_SIZE")
        .unwrap();
    assert_eq!(batch["value"], "55");
    eprintln!(
        "reconciled {:?} after the change made after the restart",
        patched.elapsed()
    );
}
