//! Schema evolution on the real control plane: a compatible new version reaches the schema
//! `ConfigMap` and rolls the producer; an incompatible one, or an edit of a served version, is
//! refused with `Ready=False` (`IncompatibleSchema`) and a warning Event, and nothing the
//! pipeline serves changes.

use serde_json::{Value, json};

use crate::support::{
    CONVERGE, Watched, apply, condition, events, example, get, is_ready, patch, pipeline_events,
    wait_event, wait_for, wait_pipeline,
};

fn closed(properties: &Value, required: &[&str]) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required})
}

fn schemas(versions: &[&Value]) -> Value {
    let listed: Vec<Value> = (1..)
        .zip(versions)
        .map(|(version, schema)| json!({"version": version, "schema": schema}))
        .collect();
    json!({"spec": {"producer": {"schemas": listed}}})
}

/// The producer Deployment's generation and its pod template's schema hash.
fn producer_template(namespace: &str) -> (i64, Value) {
    let deployment = get("deployment", namespace, "quickstart-producer").unwrap();
    let generation = deployment["metadata"]["generation"].as_i64().unwrap();
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    (generation, annotations["eventflow.dev/schema-hash"].clone())
}

fn served_file(namespace: &str) -> String {
    let config_map = get("configmap", namespace, "quickstart-schema").unwrap();
    config_map["data"]["schema.json"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn refused_with(namespace: &str, fragment: &str) -> String {
    let pipeline = wait_pipeline(
        namespace,
        "quickstart",
        "IncompatibleSchema",
        CONVERGE,
        |p| {
            condition(p, "Ready").is_some_and(|(status, reason, message, _)| {
                status == "False" && reason == "IncompatibleSchema" && message.contains(fragment)
            })
        },
    );
    condition(&pipeline, "Ready").unwrap().2
}

#[test]
fn an_incompatible_or_edited_schema_version_is_refused_and_the_producer_keeps_what_it_served() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("schemas");
    let ns = &watched.ns.0;
    let name = json!({"type": "string"});
    let v1 = closed(&json!({"name": name}), &["name"]);
    let v2 = closed(
        &json!({"name": name, "age": {"type": "integer"}}),
        &["name"],
    );
    let mut spec = example("quickstart.yaml", ns).remove(0);
    spec["spec"]["producer"]["schemas"] = schemas(&[&v1])["spec"]["producer"]["schemas"].clone();
    apply(&[spec]);
    wait_pipeline(ns, "quickstart", "Ready", CONVERGE, is_ready);

    // A compatible version 2 (an optional field added to a closed model) is served.
    assert!(
        patch(ns, "quickstart", &schemas(&[&v1, &v2]))
            .status
            .success()
    );
    wait_pipeline(ns, "quickstart", "Ready with version 2", CONVERGE, is_ready);
    let served = wait_for("version 2 in the schema ConfigMap", CONVERGE, || {
        let file = served_file(ns);
        file.contains(r#""version":2"#).then_some(file)
    });
    let before = producer_template(ns);
    assert!(
        before.1.is_string(),
        "the producer template carries the schema hash"
    );

    // Version 3 removes `name` from a closed model: not BACKWARD compatible.
    let v3 = closed(&json!({"age": {"type": "integer"}}), &[]);
    assert!(
        patch(ns, "quickstart", &schemas(&[&v1, &v2, &v3]))
            .status
            .success()
    );
    let message = refused_with(
        ns,
        "schema version 3 is not backward compatible with version 2",
    );
    assert!(
        message.contains("#/properties/name PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
        "{message}"
    );
    let selector =
        "regarding.kind=EventPipeline,regarding.name=quickstart,reason=IncompatibleSchema";
    wait_for("the IncompatibleSchema warning Event", CONVERGE, || {
        events(ns, selector)
            .into_iter()
            .find(|(type_, note)| type_ == "Warning" && note.contains("schema version 3"))
    });
    assert_eq!(producer_template(ns), before, "the producer keeps its spec");
    assert_eq!(
        served_file(ns),
        served,
        "the schema ConfigMap keeps the served versions"
    );

    // Version 2 edited in place (even compatibly) is refused too.
    let v2_edited = closed(&json!({"name": name, "age": {"type": "number"}}), &["name"]);
    assert!(
        patch(ns, "quickstart", &schemas(&[&v1, &v2_edited]))
            .status
            .success()
    );
    refused_with(ns, "schema version 2 differs from the served version 2");
    assert_eq!(producer_template(ns), before);
    assert_eq!(served_file(ns), served);

    // Back to what is served: Ready again.
    assert!(
        patch(ns, "quickstart", &schemas(&[&v1, &v2]))
            .status
            .success()
    );
    wait_pipeline(ns, "quickstart", "Ready again", CONVERGE, is_ready);
    assert_eq!(producer_template(ns), before);
    // Each refused generation was a Warning of its own; the trouble ended with one Recovered.
    let warned = pipeline_events(ns, "quickstart", "Warning", "IncompatibleSchema");
    assert_eq!(warned.len(), 2, "{warned:?}");
    let over = wait_event(ns, "quickstart", "Normal", "Recovered");
    assert!(
        over[0].starts_with("IncompatibleSchema resolved"),
        "{over:?}"
    );
}
