//! The chart's RBAC: least privilege, no wildcard, and every API call of the operator covered.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::{
    chart::template_documents,
    code_scan::{self, Grant},
    repo,
};

const VERBS_OF_CHILDREN: &[&str] = &[
    "get", "list", "watch", "create", "patch", "update", "delete",
];

/// What the operator may do, and nothing more: (API group, resources, verbs).
const EXPECTED: &[(&str, &[&str], &[&str])] = &[
    (
        "eventflow.dev",
        &["eventpipelines"],
        &["get", "list", "watch", "patch", "update"],
    ),
    (
        "eventflow.dev",
        &["eventpipelines/status"],
        &["patch", "update"],
    ),
    ("eventflow.dev", &["eventpipelines/finalizers"], &["update"]),
    ("apps", &["deployments"], VERBS_OF_CHILDREN),
    ("", &["services", "configmaps"], VERBS_OF_CHILDREN),
    ("", &["secrets"], &["get", "list", "watch"]),
    ("events.k8s.io", &["events"], &["create", "patch"]),
    (
        "coordination.k8s.io",
        &["leases"],
        &["get", "create", "update", "patch"],
    ),
];

fn rbac_objects(kind: &str) -> Vec<Value> {
    template_documents("rbac.yaml")
        .into_iter()
        .filter(|document| document["kind"] == kind)
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {value:?}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// Every (group, resource, verb) the rules of the given roles grant.
fn granted(kinds: &[&str]) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for kind in kinds {
        for role in rbac_objects(kind) {
            for rule in role["rules"].as_sequence().unwrap() {
                for group in strings(&rule["apiGroups"]) {
                    for resource in strings(&rule["resources"]) {
                        for verb in strings(&rule["verbs"]) {
                            grants.insert((group.clone(), resource.clone(), verb));
                        }
                    }
                }
            }
        }
    }
    grants
}

fn all_granted() -> BTreeSet<Grant> {
    granted(&["ClusterRole", "Role"])
}

fn expected() -> BTreeSet<Grant> {
    EXPECTED
        .iter()
        .flat_map(|(group, resources, verbs)| {
            resources.iter().flat_map(move |resource| {
                verbs.iter().map(move |verb| {
                    (
                        (*group).to_owned(),
                        (*resource).to_owned(),
                        (*verb).to_owned(),
                    )
                })
            })
        })
        .collect()
}

#[test]
fn rbac_rules_have_no_wildcard_and_no_non_resource_urls() {
    let roles = [rbac_objects("ClusterRole"), rbac_objects("Role")].concat();
    assert_eq!(
        roles.len(),
        2,
        "one ClusterRole and one leader-election Role"
    );
    for role in roles {
        for rule in role["rules"].as_sequence().unwrap() {
            assert!(rule["nonResourceURLs"].is_null(), "{rule:?}");
            for field in ["apiGroups", "resources", "verbs"] {
                let values = strings(&rule[field]);
                assert!(!values.is_empty(), "{field} empty in {rule:?}");
                assert!(
                    values.iter().all(|v| !v.contains('*')),
                    "wildcard in {rule:?}"
                );
            }
        }
    }
}

#[test]
fn rbac_grants_exactly_the_operators_permissions() {
    let granted = all_granted();
    let expected = expected();
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:?}\nbeyond need: {extra:?}"
    );
}

#[test]
fn leases_are_granted_only_in_the_release_namespace() {
    let cluster_wide = granted(&["ClusterRole"]);
    assert!(
        cluster_wide
            .iter()
            .all(|(group, ..)| group != "coordination.k8s.io")
    );
    let role = &rbac_objects("Role")[0];
    assert_eq!(
        role["metadata"]["namespace"], "placeholder",
        "the Role is namespaced by the release"
    );
    let bindings = [
        rbac_objects("ClusterRoleBinding"),
        rbac_objects("RoleBinding"),
    ]
    .concat();
    assert_eq!(bindings.len(), 2);
    for binding in bindings {
        assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    }
}

#[test]
fn rbac_covers_every_api_call_in_the_operator_code() {
    let sources: Vec<(String, String)> = repo::files_under("operator/src", &[".rs"])
        .iter()
        .map(|path| (repo::display(path), repo::read(&repo::display(path))))
        .collect();
    let scan = code_scan::api_calls(&sources).unwrap_or_else(|unknown| {
        panic!("map these kinds in tests/packaging/code_scan.rs and grant them in rbac.yaml: {unknown:?}")
    });
    let granted = all_granted();
    let resources: BTreeSet<(String, String)> = granted
        .iter()
        .map(|(group, resource, _)| (group.clone(), resource.clone()))
        .collect();
    let untouchable: Vec<_> = scan.touched.difference(&resources).collect();
    assert!(
        untouchable.is_empty(),
        "the operator uses resources it has no rule for: {untouchable:?}"
    );
    let denied: Vec<_> = scan.calls.difference(&granted).collect();
    assert!(
        denied.is_empty(),
        "the operator makes calls rbac.yaml does not grant: {denied:?}"
    );
}
