//! The chart's dashboard, alerting rules and `PodMonitor` against what they must agree with: each
//! alert fires in a promtool unit test (scripts/promtool.sh runs them), the templates ship the
//! files promtool and the scrape test read, the `PodMonitor` selects the operator's workload pods,
//! and the local runtime's status reads the metrics the dashboard draws. The names and labels
//! themselves are checked against the running processes in the cluster tests (observability.rs).

use std::collections::BTreeSet;

use eventflow_operator::{
    local::figures::names,
    resources::{meta::FIELD_MANAGER, pod::ADMIN_PORT_NAME},
};
use serde_yaml::Value;

use crate::{chart::template_documents, promql, repo};

const RULE_TESTS: &str = "charts/eventflow/rules/tests";

fn rules() -> Value {
    repo::yaml_file::<Value>(promql::RULES).remove(0)
}

/// (alert, expected alerts) of every `alert_rule_test` case of the unit tests.
fn cases() -> Vec<(String, Vec<Value>)> {
    let files = repo::files_under(RULE_TESTS, &[".yaml"]);
    assert!(!files.is_empty(), "no promtool unit tests in {RULE_TESTS}");
    let mut cases = Vec::new();
    for file in files {
        let tests: Value = repo::yaml_file::<Value>(&repo::display(&file)).remove(0);
        let rule_files = tests["rule_files"].as_sequence().expect("rule_files");
        assert!(
            rule_files.iter().any(|f| f == "../eventflow.rules.yaml"),
            "{} does not test the shipped rules file",
            repo::display(&file)
        );
        for test in tests["tests"].as_sequence().expect("tests") {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                let alert = case["alertname"].as_str().expect("alertname").to_owned();
                let expected = case["exp_alerts"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default();
                cases.push((alert, expected));
            }
        }
    }
    cases
}

#[test]
fn every_alert_fires_in_a_unit_test_and_each_has_a_silent_case() {
    let alerts: BTreeSet<String> = promql::rule_expressions(&rules())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
    let cases = cases();
    for alert in &alerts {
        let of_alert = || cases.iter().filter(move |(name, _)| name == alert);
        assert!(
            of_alert().any(|(_, expected)| !expected.is_empty()),
            "no promtool unit test makes {alert} fire: an alert that cannot fire must fail the build"
        );
        assert!(
            of_alert().any(|(_, expected)| expected.is_empty()),
            "no promtool unit test shows when {alert} stays silent"
        );
    }
    let unknown: Vec<_> = cases
        .iter()
        .filter(|(name, _)| !alerts.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "tests of alerts that do not exist: {unknown:?}"
    );
}

#[test]
fn every_alert_has_a_severity_a_summary_and_a_description() {
    for rule in rules()["groups"][0]["rules"].as_sequence().expect("rules") {
        let alert = rule["alert"].as_str().expect("alert");
        assert!(rule["labels"]["severity"].is_string(), "{alert}: severity");
        for annotation in ["summary", "description"] {
            assert!(
                rule["annotations"][annotation].is_string(),
                "{alert}: {annotation}"
            );
        }
    }
}

#[test]
fn templates_ship_exactly_the_tested_rules_and_the_dashboard_and_are_off_by_default() {
    let rule_template = repo::read("charts/eventflow/templates/prometheusrule.yaml");
    assert!(rule_template.contains(".Files.Get \"rules/eventflow.rules.yaml\""));
    assert!(rule_template.starts_with("{{- if .Values.prometheusRule.enabled }}"));
    let dashboard_template = repo::read("charts/eventflow/templates/grafana-dashboard.yaml");
    assert!(dashboard_template.contains(".Files.Get \"dashboards/eventflow.json\""));
    assert!(dashboard_template.starts_with("{{- if .Values.grafanaDashboard.enabled }}"));
    let values: Value = repo::yaml_file::<Value>("charts/eventflow/values.yaml").remove(0);
    for toggle in ["prometheusRule", "grafanaDashboard", "podMonitor"] {
        assert_eq!(
            values[toggle]["enabled"], false,
            "{toggle} is off by default"
        );
    }
    assert_eq!(
        values["grafanaDashboard"]["labels"]["grafana_dashboard"],
        "1"
    );
    assert!(
        repo::read("charts/eventflow/.helmignore").contains("rules/tests/"),
        "the promtool tests stay out of the packaged chart"
    );
}

#[test]
fn the_pod_monitor_selects_the_workload_pods_on_their_admin_port() {
    let monitor = template_documents("podmonitor.yaml").remove(0);
    assert_eq!(monitor["kind"], "PodMonitor");
    let selector = &monitor["spec"]["selector"]["matchLabels"];
    assert_eq!(selector["app.kubernetes.io/managed-by"], FIELD_MANAGER);
    assert_eq!(
        monitor["spec"]["podMetricsEndpoints"][0]["port"],
        ADMIN_PORT_NAME
    );
    assert_eq!(monitor["spec"]["namespaceSelector"]["any"], true);
}

#[test]
fn the_dashboard_draws_the_figures_of_the_local_status() {
    let used = promql::used_by_dashboard_and_rules(
        &repo::read(promql::DASHBOARD),
        &repo::read(promql::RULES),
    );
    let histogram = |name: &str| format!("{name}_bucket");
    for name in [
        names::ACCEPTED.to_owned(),
        names::REQUESTS.to_owned(),
        histogram(names::REQUEST_SECONDS),
        names::WRITTEN.to_owned(),
        histogram(names::BATCH_SECONDS),
        names::DEAD_LETTERED.to_owned(),
        names::PRODUCER_READY.to_owned(),
        names::CONSUMER_READY.to_owned(),
        "eventflow_consumer_group_lag".to_owned(),
        "eventflow_consumer_replicas".to_owned(),
        "eventflow_consumer_desired_replicas".to_owned(),
        "eventflow_consumer_max_replicas".to_owned(),
        "eventflow_scaling_rule".to_owned(),
    ] {
        assert!(
            used.contains_key(&name),
            "the local status shows {name}, the dashboard does not"
        );
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo::read(promql::DASHBOARD)).expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "eventflow");
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] != "row" {
            assert!(
                panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
                "panel {} has no query",
                panel["title"]
            );
        }
    }
}
