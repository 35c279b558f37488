//! The Helm chart: metadata, templates against values.yaml, the operator Deployment, the CRD copy.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::repo;

const CHART: &str = "charts/eventflow";

/// Every file under templates/ (YAML, helpers, NOTES) with its path.
fn templates() -> Vec<(String, String)> {
    repo::files_under(&format!("{CHART}/templates"), &[".yaml", ".tpl", ".txt"])
        .iter()
        .map(|path| (repo::display(path), repo::read(&repo::display(path))))
        .collect()
}

/// The documents a YAML template renders to, with its template actions blanked.
pub fn template_documents(name: &str) -> Vec<Value> {
    let file = format!("{CHART}/templates/{name}");
    repo::documents(&repo::blank_template_actions(&repo::read(&file)))
        .map_err(|error| format!("{file} does not parse once its actions are blanked: {error}"))
        .unwrap()
}

fn values() -> Value {
    repo::yaml_file::<Value>(&format!("{CHART}/values.yaml")).remove(0)
}

/// Every `.Values.a.b.c` path the templates use.
fn referenced_values() -> BTreeSet<Vec<String>> {
    let mut paths = BTreeSet::new();
    for (_, text) in templates() {
        for (start, _) in text.match_indices(".Values.") {
            let path: String = text[start + ".Values.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            paths.insert(
                path.trim_end_matches('.')
                    .split('.')
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    paths
}

/// Every leaf of values.yaml (an empty map or list counts as a leaf).
fn value_leaves(value: &Value, prefix: &[String], leaves: &mut Vec<Vec<String>>) {
    match value.as_mapping() {
        Some(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = [prefix, &[key.as_str().unwrap().to_owned()]].concat();
                value_leaves(child, &path, leaves);
            }
        }
        _ => leaves.push(prefix.to_vec()),
    }
}

#[test]
fn chart_metadata_names_eventflow_at_the_workspace_version() {
    let chart: Value = repo::yaml_file::<Value>(&format!("{CHART}/Chart.yaml")).remove(0);
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "eventflow");
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert!(chart["version"].is_string());
}

#[test]
fn every_yaml_template_parses_once_its_actions_are_blanked() {
    let yaml = repo::files_under(&format!("{CHART}/templates"), &[".yaml"]);
    assert!(yaml.len() >= 5, "{yaml:?}");
    for path in yaml {
        let file = repo::display(&path);
        let documents = template_documents(&path.file_name().unwrap().to_string_lossy());
        assert!(!documents.is_empty(), "{file} renders nothing");
        for document in documents {
            assert!(
                document["kind"].is_string(),
                "{file}: a document without kind"
            );
        }
    }
}

#[test]
fn templates_reference_only_values_that_exist() {
    let values = values();
    let references = referenced_values();
    assert!(
        references.len() > 10,
        "the scan found too few references: {references:?}"
    );
    let missing: Vec<String> = references
        .iter()
        .filter(|path| !has_path(&values, path))
        .map(|path| path.join("."))
        .collect();
    assert!(
        missing.is_empty(),
        "templates use values missing from values.yaml: {missing:?}"
    );
}

/// Whether values.yaml spells out every key of `path` (a `null` or `""` value counts as set).
fn has_path(values: &Value, path: &[String]) -> bool {
    path.iter()
        .try_fold(values, |node, key| node.as_mapping()?.get(key.as_str()))
        .is_some()
}

#[test]
fn every_value_is_used_by_a_template() {
    let references = referenced_values();
    let mut leaves = Vec::new();
    value_leaves(&values(), &[], &mut leaves);
    let unused: Vec<String> = leaves
        .iter()
        .filter(|leaf| !references.iter().any(|used| leaf.starts_with(used)))
        .map(|leaf| leaf.join("."))
        .collect();
    assert!(
        unused.is_empty(),
        "values.yaml settings no template reads: {unused:?}"
    );
}

fn operator_container() -> Value {
    let deployment = template_documents("deployment.yaml").remove(0);
    deployment["spec"]["template"]["spec"]["containers"][0].clone()
}

#[test]
fn operator_deployment_has_probes_on_the_metrics_port_and_a_restricted_security_context() {
    let container = operator_container();
    assert_eq!(container["ports"][0]["name"], "metrics");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], "metrics");
    }
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert!(
        repo::read(&format!("{CHART}/templates/deployment.yaml"))
            .contains(".Values.operator.resources")
    );
}

/// The chart configures the operator through env vars; each must be one the operator reads.
#[test]
fn every_env_var_the_chart_sets_is_read_by_the_operator() {
    let sources: String = repo::files_under("operator/src", &[".rs"])
        .iter()
        .map(|path| repo::read(&repo::display(path)))
        .collect();
    let container = operator_container();
    let names: Vec<&str> = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|env| env["name"].as_str().unwrap())
        .filter(|name| *name != "RUST_LOG")
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let unread: Vec<&&str> = names
        .iter()
        .filter(|name| !sources.contains(&format!("\"{name}\"")))
        .collect();
    assert!(unread.is_empty(), "operator/src reads none of {unread:?}");
}

#[test]
fn chart_crd_is_the_generated_crd() {
    let generated = crate::schema::CRD;
    let copy = format!("{CHART}/crds/eventpipeline.yaml");
    assert!(
        repo::root().join(generated).exists(),
        "{generated} is missing: run `make generate`"
    );
    assert!(
        repo::root().join(&copy).exists(),
        "{copy} is missing: run `make generate`"
    );
    assert!(
        repo::read(generated) == repo::read(&copy),
        "{copy} differs from {generated}: run `make generate`"
    );
}
