//! A pipeline's Deployments follow its spec on a real API server: a field removed from the
//! spec (a resources limit, an annotation the operator sets, a list entry) disappears from the
//! Deployment, a field of ours edited by hand is put back, and nothing the API server stores in
//! another form (a quantity: `0.5` as `500m`; an omitted `false`) is applied again and again.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    CONVERGE, Watched, apply, example, get, is_ready, kubectl_ok, operator_log, patch, wait_for,
    wait_pipeline,
};

/// Well under the resync (5 min): a hand edit is a watch event, reconciled at once.
const PUT_BACK: Duration = Duration::from_secs(20);

fn deployment(namespace: &str, name: &str) -> Value {
    get("deployment", namespace, name).unwrap()
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn has_env(deployment: &Value, variable: &str) -> bool {
    container(deployment)["env"]
        .as_array()
        .is_some_and(|env| env.iter().any(|e| e["name"] == variable))
}

/// `posts` (a schema, so the producer's pods carry the schema-hash annotation) with a consumer
/// memory limit and allowed types (an env entry of the producer).
fn posts(namespace: &str) -> Value {
    let mut pipeline = example("posts.yaml", namespace).remove(0);
    pipeline["spec"]["consumer"]["resources"] = json!({
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"}
    });
    pipeline["spec"]["producer"]["allowedTypes"] = json!(["post.created", "post.updated"]);
    pipeline
}

/// Patches the pipeline and waits until `gone` holds of the Deployment `child` and the pipeline
/// is Ready at the new generation.
fn remove(namespace: &str, change: &Value, child: &str, what: &str, gone: impl Fn(&Value) -> bool) {
    assert!(
        patch(namespace, "posts", change).status.success(),
        "{change}"
    );
    wait_for(what, CONVERGE, || {
        gone(&deployment(namespace, child)).then_some(())
    });
    wait_pipeline(
        namespace,
        "posts",
        "Ready after the removal",
        CONVERGE,
        is_ready,
    );
}

#[test]
fn a_limit_an_annotation_and_a_list_entry_removed_from_the_spec_leave_the_deployments() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("removals");
    let ns = &watched.ns.0;
    apply(&[posts(ns)]);
    wait_pipeline(ns, "posts", "Ready", CONVERGE, is_ready);
    let consumer = deployment(ns, "posts-consumer");
    let producer = deployment(ns, "posts-producer");
    assert_eq!(
        container(&consumer)["resources"]["limits"]["memory"],
        "128Mi"
    );
    let schema_hash = "/spec/template/metadata/annotations/eventflow.dev~1schema-hash";
    assert!(producer.pointer(schema_hash).is_some(), "{producer:#}");
    assert!(
        has_env(&producer, "EVENTFLOW_ALLOWED_TYPES"),
        "{producer:#}"
    );

    let limit = json!({"spec": {"consumer": {"resources": {"limits": null}}}});
    remove(
        ns,
        &limit,
        "posts-consumer",
        "the memory limit to go",
        |d| container(d)["resources"]["limits"]["memory"].is_null(),
    );
    let consumer = deployment(ns, "posts-consumer");
    assert_eq!(
        container(&consumer)["resources"]["requests"]["memory"],
        "64Mi"
    );

    let types = json!({"spec": {"producer": {"allowedTypes": null}}});
    remove(
        ns,
        &types,
        "posts-producer",
        "EVENTFLOW_ALLOWED_TYPES to go",
        |d| !has_env(d, "EVENTFLOW_ALLOWED_TYPES"),
    );

    let schema = json!({"spec": {"producer": {"schema": null}}});
    remove(
        ns,
        &schema,
        "posts-producer",
        "the schema-hash annotation to go",
        |d| d.pointer(schema_hash).is_none(),
    );
    assert!(get("configmap", ns, "posts-schema").is_none());
}

/// `kubectl patch` of the consumer Deployment (an `Update` by another field manager).
fn edit_by_hand(namespace: &str, edits: &Value) {
    kubectl_ok(&[
        "-n",
        namespace,
        "patch",
        "deployment",
        "posts-consumer",
        "--type",
        "json",
        "-p",
        &edits.to_string(),
    ]);
}

fn generation(deployment: &Value) -> i64 {
    deployment["metadata"]["generation"].as_i64().unwrap()
}

#[test]
fn a_field_of_ours_edited_by_hand_is_put_back_at_once() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("handedit");
    let ns = &watched.ns.0;
    apply(&[posts(ns)]);
    wait_pipeline(ns, "posts", "Ready", CONVERGE, is_ready);
    let applied = container(&deployment(ns, "posts-consumer")).clone();
    let path = "/spec/template/spec/containers/0";
    let edits = [
        json!([{"op": "replace", "path": format!("{path}/resources/limits/memory"), "value": "1Gi"}]),
        json!([{"op": "remove", "path": format!("{path}/env/0")}]),
        json!([{"op": "replace", "path": format!("{path}/image"), "value": "example.invalid/other:1"}]),
        json!([{"op": "remove", "path": format!("{path}/securityContext/allowPrivilegeEscalation")}]),
    ];
    for edit in edits {
        let before = generation(&deployment(ns, "posts-consumer"));
        let edited = Instant::now();
        edit_by_hand(ns, &edit);
        // The edit is one new generation of the template, putting it back another (the
        // operator may well be faster than a read of the edited object).
        wait_for(&format!("{edit} to be put back"), PUT_BACK, || {
            let now = deployment(ns, "posts-consumer");
            (generation(&now) >= before + 2 && container(&now) == &applied).then_some(())
        });
        eprintln!("{edit}: put back after {:?}", edited.elapsed());
    }
}

/// Applies of the pipeline's children in the operator's log so far (its debug line `applied`).
fn applies(namespace: &str) -> usize {
    let log = std::fs::read_to_string(operator_log(namespace)).unwrap_or_default();
    log.lines()
        .filter(|line| line.contains(": applied kind="))
        .count()
}

#[test]
fn quantities_stored_in_another_form_are_not_applied_again() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("quantities");
    let ns = &watched.ns.0;
    let mut pipeline = posts(ns);
    pipeline["spec"]["consumer"]["resources"] = json!({
        "requests": {"cpu": "0.5", "memory": "1024Mi"},
        "limits": {"cpu": "1000m", "memory": "1024Mi"}
    });
    // Autoscaled with a short poll: a reconcile every second, each of which would re-apply.
    pipeline["spec"]["autoscaling"] = json!({
        "enabled": true, "minReplicas": 1, "maxReplicas": 1, "pollInterval": "1s"
    });
    apply(&[pipeline]);
    wait_pipeline(ns, "posts", "Ready", CONVERGE, is_ready);
    let resources = container(&deployment(ns, "posts-consumer"))["resources"].clone();
    assert_eq!(
        resources,
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}),
        "the API server stores the canonical forms"
    );
    std::thread::sleep(Duration::from_secs(3));
    let before = applies(ns);
    assert!(
        before >= 4,
        "set-up: the operator logs its applies ({before})"
    );
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(
        applies(ns),
        before,
        "a child was applied again with nothing changed (the operator log says what differed)"
    );
}
