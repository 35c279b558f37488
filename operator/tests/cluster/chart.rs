//! The chart with the real helm against the real API server: lint, install into a fresh
//! namespace (the operator Deployment becomes Available on kwok), upgrade, uninstall keeping the CRD.

use serde_json::Value;

use crate::support::{CHART, get, helm_install, helm_ok, installed, kubectl, kubectl_ok, name};

#[test]
fn helm_lint_strict_passes() {
    let linted = helm_ok(&["lint", "--strict", CHART]);
    assert!(
        linted.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{linted}"
    );
}

fn available(namespace: &str, deployment: &str) -> String {
    kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "deployment",
        deployment,
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="Available")].status}"#,
    ])
}

fn operator_env(namespace: &str, deployment: &str, variable: &str) -> String {
    let deployment = get("deployment", namespace, deployment).unwrap();
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    env.iter()
        .find(|e| e["name"] == variable)
        .and_then(|e| e["value"].as_str())
        .unwrap()
        .to_owned()
}

#[test]
fn helm_installs_upgrades_and_uninstalls_keeping_the_crd() {
    let _cluster = crate::support::shared();
    installed(); // the CRD is there, as after any earlier install
    let namespace = name("chart");
    let release = "ef-chart";
    let deployment = "ef-chart-eventflow";
    helm_install(release, &namespace, &[]);
    assert_eq!(available(&namespace, deployment), "True");
    assert_eq!(operator_env(&namespace, deployment, "RUST_LOG"), "info");

    helm_ok(&[
        "upgrade",
        release,
        CHART,
        "-n",
        &namespace,
        "--set",
        "operator.logLevel=debug",
        "--wait",
        "--timeout",
        "90s",
    ]);
    let status: Value = serde_json::from_str(&helm_ok(&[
        "status", release, "-n", &namespace, "-o", "json",
    ]))
    .unwrap();
    assert_eq!(status["version"], 2);
    assert_eq!(status["info"]["status"], "deployed");
    assert_eq!(operator_env(&namespace, deployment, "RUST_LOG"), "debug");
    assert_eq!(available(&namespace, deployment), "True");

    let uninstalled = helm_ok(&["uninstall", release, "-n", &namespace, "--wait"]);
    assert!(
        uninstalled.contains(r#"release "ef-chart" uninstalled"#),
        "{uninstalled}"
    );
    assert!(get("deployment", &namespace, deployment).is_none());
    let role = kubectl(&["get", "clusterrole", deployment]);
    assert!(
        !role.status.success(),
        "the release's ClusterRole outlived it"
    );
    assert!(
        kubectl_ok(&["get", "crd", "eventpipelines.eventflow.dev", "-o", "name"])
            .contains("eventpipelines.eventflow.dev"),
        "the CRD must stay after uninstall"
    );
    let _ = kubectl(&["delete", "namespace", &namespace, "--wait=false"]);
}
