//! What `kubectl get eventpipelines` prints: `Pending` in every column before the operator's
//! first reconcile, then the figures, with the lag of a pipeline without autoscaling measured
//! too and who holds its partitions; `-o wide` adds the topic, the producer's URL and the last
//! scale reason.

use std::collections::BTreeMap;

use crate::{
    kafka,
    support::{
        CONVERGE, Namespace, apply, example, is_ready, kubectl_ok, start_operator, topic_of,
        wait_for, wait_pipeline,
    },
};

/// One pipeline's row of `kubectl get eventpipeline <name> [-o wide]`, by column header: each
/// value starts where its header starts (kubectl aligns the columns), so values with spaces stay
/// whole.
fn row(namespace: &str, name: &str, wide: bool) -> BTreeMap<String, String> {
    let mut args = vec!["-n", namespace, "get", "eventpipeline", name];
    if wide {
        args.extend(["-o", "wide"]);
    }
    let printed = kubectl_ok(&args);
    let mut lines = printed.lines();
    let (header, values) = (lines.next().unwrap(), lines.next().unwrap());
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| c != ' ' && (i == 0 || header[..i].ends_with("  ")))
        .map(|(i, _)| i)
        .collect();
    let cell = |text: &str, n: usize| -> String {
        let end = starts
            .get(n + 1)
            .copied()
            .unwrap_or(text.len())
            .min(text.len());
        text.get(starts[n].min(text.len())..end)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    (0..starts.len())
        .map(|n| (cell(header, n), cell(values, n)))
        .collect()
}

#[test]
fn get_shows_pending_then_the_figures_and_the_lag_without_autoscaling() {
    let _cluster = crate::support::shared();
    let ns = Namespace::new("columns");
    let namespace = ns.0.as_str();
    let mut spec = example("quickstart.yaml", namespace).remove(0);
    spec["spec"]["autoscaling"]["enabled"] = false.into();
    spec["spec"]["consumer"]["replicas"] = 2.into();
    let (name, topic) = ("quickstart", topic_of(&spec));
    apply(&[spec]);

    let pending = row(namespace, name, true);
    for column in [
        "READY",
        "REASON",
        "PARTITIONS",
        "CONSUMERS",
        "LAG",
        "TOPIC",
        "URL",
        "LAST SCALE",
    ] {
        assert_eq!(
            pending[column], "Pending",
            "{column} before the operator ran: {pending:?}"
        );
    }

    let _operator = start_operator(namespace, namespace, &[]);
    wait_pipeline(namespace, name, "Ready", CONVERGE, is_ready);
    kafka::produce(&topic, 300);
    let shown = wait_for("the lag of 300 events in LAG", CONVERGE, || {
        let shown = row(namespace, name, false);
        (shown["LAG"] == "300").then_some(shown)
    });
    assert_eq!(
        shown.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "AGE",
            "CONSUMERS",
            "LAG",
            "NAME",
            "PARTITIONS",
            "READY",
            "REASON"
        ],
        "without -o wide"
    );
    assert_eq!(
        (shown["READY"].as_str(), shown["REASON"].as_str()),
        ("True", "")
    );
    assert_eq!(
        (shown["PARTITIONS"].as_str(), shown["CONSUMERS"].as_str()),
        ("4", "2/2 assigned 0/4"),
        "the node's pods are kwok's: none joins the group"
    );
    let group = format!("eventflow-{namespace}-{name}");
    let members = kafka::join(&group, &topic, 5);
    wait_for("CONSUMERS to show a member holding none", CONVERGE, || {
        (row(namespace, name, false)["CONSUMERS"] == "2/2 assigned 4/4 (1 holding none)")
            .then_some(())
    });
    drop(members);
    let _members = kafka::join(&group, &topic, 2);
    wait_for("CONSUMERS to show every partition held", CONVERGE, || {
        (row(namespace, name, false)["CONSUMERS"] == "2/2").then_some(())
    });

    let wide = row(namespace, name, true);
    assert_eq!(wide["TOPIC"], topic);
    assert_eq!(
        wide["URL"],
        format!("http://{name}-producer.{namespace}.svc:8080")
    );
    assert_eq!(
        wide["LAST SCALE"],
        "autoscaling off: spec.consumer.replicas is 2"
    );
    let service = kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "service",
        &format!("{name}-producer"),
        "-o",
        "jsonpath={.spec.ports[?(@.name==\"http\")].port}",
    ]);
    assert_eq!(service, "8080", "the URL's port is the Service's");
}
