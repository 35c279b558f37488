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

/// The kinds `helm template` renders with `extra` values.
fn rendered(extra: &[&str]) -> Vec<serde_yaml::Value> {
    let mut args = vec![
        "template",
        "observe",
        CHART,
        "--namespace",
        "monitoring-test",
    ];
    args.extend_from_slice(extra);
    let text = helm_ok(&args);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|doc: &serde_yaml::Value| !doc.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [serde_yaml::Value], kind: &str) -> Vec<&'a serde_yaml::Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn dashboard_alerts_and_pod_monitor_render_only_when_enabled_and_ship_the_tested_files() {
    let off = rendered(&[]);
    for kind in [
        "PrometheusRule",
        "PodMonitor",
        "ConfigMap",
        "ServiceMonitor",
    ] {
        assert!(of_kind(&off, kind).is_empty(), "{kind} rendered by default");
    }
    let on = rendered(&[
        "--set",
        "prometheusRule.enabled=true,grafanaDashboard.enabled=true,podMonitor.enabled=true",
        "--set",
        "prometheusRule.labels.release=kps,grafanaDashboard.annotations.grafana_folder=eventflow",
    ]);
    let repo_file =
        |path: &str| std::fs::read_to_string(format!("{}/{path}", crate::support::REPO)).unwrap();
    let rule = of_kind(&on, "PrometheusRule");
    assert_eq!(rule.len(), 1);
    assert_eq!(rule[0]["metadata"]["labels"]["release"], "kps");
    let tested: serde_yaml::Value =
        serde_yaml::from_str(&repo_file("charts/eventflow/rules/eventflow.rules.yaml")).unwrap();
    assert_eq!(
        rule[0]["spec"], tested,
        "the PrometheusRule differs from the tested rules"
    );
    let dashboard = of_kind(&on, "ConfigMap");
    assert_eq!(dashboard.len(), 1);
    assert_eq!(dashboard[0]["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(
        dashboard[0]["metadata"]["annotations"]["grafana_folder"],
        "eventflow"
    );
    let shipped: Value =
        serde_json::from_str(dashboard[0]["data"]["eventflow.json"].as_str().unwrap()).unwrap();
    let file: Value =
        serde_json::from_str(&repo_file("charts/eventflow/dashboards/eventflow.json")).unwrap();
    assert_eq!(
        shipped, file,
        "the ConfigMap's dashboard differs from the file"
    );
    assert_eq!(of_kind(&on, "PodMonitor").len(), 1);
    let linted = helm_ok(&[
        "lint",
        "--strict",
        CHART,
        "--set",
        "prometheusRule.enabled=true,grafanaDashboard.enabled=true,podMonitor.enabled=true",
    ]);
    assert!(linted.contains("0 chart(s) failed"), "{linted}");
}

/// The operator container's env var `name` as `helm template` renders it with `extra` values.
fn rendered_operator_env(extra: &[&str], name: &str) -> Option<String> {
    let docs = rendered(extra);
    let deployment = of_kind(&docs, "Deployment")[0];
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap();
    env.iter()
        .find(|var| var["name"] == name)
        .map(|var| var["value"].as_str().unwrap().to_owned())
}

#[test]
fn image_pull_secrets_reach_the_operator_for_the_workload_pods() {
    let set = "imagePullSecrets[0].name=regcred,imagePullSecrets[1].name=mirror";
    assert_eq!(
        rendered_operator_env(&["--set", set], "EVENTFLOW_WORKLOAD_IMAGE_PULL_SECRETS").as_deref(),
        Some("regcred,mirror"),
        "the workloads' pods are not given the chart's imagePullSecrets"
    );
    assert_eq!(
        rendered_operator_env(&[], "EVENTFLOW_WORKLOAD_IMAGE_PULL_SECRETS"),
        None
    );
}

#[test]
fn the_operators_log_format_leaves_the_workloads_format_alone() {
    let plain = ["--set", "operator.logFormat=plain"];
    assert_eq!(
        rendered_operator_env(&plain, "EVENTFLOW_LOG_FORMAT").as_deref(),
        Some("plain")
    );
    assert_eq!(
        rendered_operator_env(&plain, "EVENTFLOW_WORKLOAD_LOG_FORMAT").as_deref(),
        Some("json"),
        "operator.logFormat also sets the workloads' format (and rolls their pods)"
    );
    let workload = ["--set", "workload.logFormat=plain"];
    assert_eq!(
        rendered_operator_env(&workload, "EVENTFLOW_WORKLOAD_LOG_FORMAT").as_deref(),
        Some("plain")
    );
    assert_eq!(
        rendered_operator_env(&workload, "EVENTFLOW_LOG_FORMAT").as_deref(),
        Some("json")
    );
}
