//! Ready means the current spec runs: a producer whose new pod cannot be scheduled leaves the
//! pipeline not Ready (the old pod still serving), past the Deployment's progress deadline a
//! `RolloutStuck` Warning, and taking the request back undoes it.

use serde_json::json;

use crate::support::{
    CONVERGE, Watched, apply, condition, example, get, is_ready, kubectl_ok, patch, wait_event,
    wait_pipeline,
};

#[test]
fn a_producer_whose_new_pod_cannot_be_scheduled_is_not_ready_until_the_request_goes() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("rollout");
    let ns = &watched.ns.0;
    apply(&example("posts.yaml", ns));
    wait_pipeline(ns, "posts", "Ready", CONVERGE, is_ready);

    // More CPU than the node has (kwok's node: 32): the new pod stays Pending.
    let unschedulable = json!({"spec": {"producer": {"resources": {"requests": {"cpu": "5000"}}}}});
    assert!(patch(ns, "posts", &unschedulable).status.success());
    // Once the Deployment controller saw the new spec: one new pod (Pending), the old one.
    let stuck = wait_pipeline(
        ns,
        "posts",
        "ProducerReady=False, an old pod left",
        CONVERGE,
        |p| {
            condition(p, "ProducerReady").is_some_and(|(status, _, message, _)| {
                status == "False" && message.contains("old pod")
            })
        },
    );
    let (status, reason, message, _) = condition(&stuck, "Ready").unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Progressing"),
        "{message}"
    );
    assert!(message.starts_with("posts-producer: "), "{message}");
    eprintln!("Ready=False: {message}");
    std::thread::sleep(std::time::Duration::from_secs(5));
    let later = get("eventpipeline", ns, "posts").unwrap();
    assert!(!is_ready(&later), "Ready again on the old pod: {later:#}");

    // A short progress deadline (the operator leaves the field to the API's default): the
    // Deployment controller gives up on the rollout, which is a stuck rollout and a Warning.
    let deadline = json!({"spec": {"progressDeadlineSeconds": 3}}).to_string();
    let deployment = [
        "-n",
        ns,
        "patch",
        "deployment",
        "posts-producer",
        "-p",
        &deadline,
    ];
    kubectl_ok(&deployment);
    let warned = wait_event(ns, "posts", "Warning", "RolloutStuck");
    assert!(warned[0].contains("is stuck"), "{warned:?}");

    let taken_back = json!({"spec": {"producer": {"resources": null}}});
    assert!(patch(ns, "posts", &taken_back).status.success());
    wait_pipeline(ns, "posts", "Ready again", CONVERGE, is_ready);
    let producer = get("deployment", ns, "posts-producer").unwrap();
    let resources = &producer["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert!(resources["requests"]["cpu"].is_null(), "{resources}");
}
