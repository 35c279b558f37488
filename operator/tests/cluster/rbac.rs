//! RBAC proven both ways: the API server's authorizer grants the chart's service account exactly
//! the calls the operator makes (the rest of the suite runs the operator with that token), and an
//! operator whose cluster role lost one rule fails that call with a clear 403.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Namespace, OperatorProcess, apply, env, example, helm_install, helm_ok, installed, kubectl,
    kubectl_ok, kubectl_stdin, name, ok, wait_for, write_token_kubeconfig,
};

/// `kubectl auth can-i` as the service account, in namespace `namespace`.
fn can(service_account: &str, namespace: &str, verb: &str, resource: &str) -> bool {
    let output = kubectl(&[
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        namespace,
        "--as",
        service_account,
    ]);
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

#[test]
fn the_chart_grants_exactly_the_calls_the_operator_makes() {
    let _cluster = crate::support::shared();
    let installed = installed();
    let account = format!(
        "system:serviceaccount:{}:{}",
        installed.namespace, installed.service_account
    );
    let anywhere = "some-team";
    let granted = [
        "list,watch,patch eventpipelines.eventflow.dev",
        "patch eventpipelines.eventflow.dev/status",
        "list,watch,create,patch deployments.apps",
        "list,watch,create,patch services",
        "list,watch,create,patch,delete configmaps",
        "get secrets",
        "create,patch events.events.k8s.io",
    ];
    let refused = [
        "get,create,update,delete eventpipelines.eventflow.dev",
        "update,get eventpipelines.eventflow.dev/status",
        "update eventpipelines.eventflow.dev/finalizers",
        "get,update,delete deployments.apps",
        "get,update,delete services",
        "get,update configmaps",
        "list,watch,create,update,patch,delete secrets",
        "create pods",
        "create events",
        "update events.events.k8s.io",
        "get,create,update leases.coordination.k8s.io",
    ];
    let check = |rules: &[&str], expected: bool| {
        for rule in rules {
            let (verbs, resource) = rule.split_once(' ').unwrap();
            for verb in verbs.split(',') {
                assert_eq!(
                    can(&account, anywhere, verb, resource),
                    expected,
                    "{verb} {resource} in {anywhere}"
                );
            }
        }
    };
    check(&granted, true);
    check(&refused, false);
    // The Lease only in the release namespace, and never patched.
    for verb in ["get", "create", "update"] {
        assert!(
            can(
                &account,
                &installed.namespace,
                verb,
                "leases.coordination.k8s.io"
            ),
            "{verb} leases"
        );
    }
    assert!(!can(
        &account,
        &installed.namespace,
        "patch",
        "leases.coordination.k8s.io"
    ));
}

#[test]
fn an_operator_without_the_deployments_rule_fails_with_a_clear_403() {
    let _cluster = crate::support::shared();
    installed();
    let release_ns = name("rbac-release");
    let release = name("ef-rbac");
    helm_install(&release, &release_ns, &[]);
    let role_name = &format!("{release}-eventflow");
    let mut role: Value = serde_json::from_str(&kubectl_ok(&[
        "get",
        "clusterrole",
        role_name,
        "-o",
        "json",
    ]))
    .unwrap();
    let rules = role["rules"].as_array_mut().unwrap();
    let before = rules.len();
    rules.retain(|rule| rule["resources"] != serde_json::json!(["deployments"]));
    assert_eq!(
        rules.len(),
        before - 1,
        "the ClusterRole has one deployments rule"
    );
    ok(
        "kubectl replace",
        &kubectl_stdin(&["replace", "-f", "-"], &role.to_string()),
    );

    let ns = Namespace::new("rbac");
    let kubeconfig = env().scratch.join("rbac.kubeconfig");
    write_token_kubeconfig(&release_ns, role_name, &kubeconfig);
    let log = env().scratch.join("rbac-operator.log");
    let operator = OperatorProcess::start(
        &kubeconfig,
        &release_ns,
        "rbac",
        &log,
        &["--namespace", &ns.0],
    );
    apply(&example("posts.yaml", &ns.0));
    let account = format!("system:serviceaccount:{release_ns}:{role_name}");
    let expected = format!(
        r#"deployments.apps \"posts-producer\" is forbidden: User \"{account}\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"{}\""#,
        ns.0
    );
    let expected_plain = expected.replace(r#"\""#, "\"");
    wait_for(
        "the 403 in the operator's log",
        Duration::from_secs(60),
        || {
            let text = operator.log_text();
            (text.contains(&expected) || text.contains(&expected_plain)).then_some(())
        },
    );
    drop(operator);
    helm_ok(&["uninstall", &release, "-n", &release_ns]);
    let _ = kubectl(&["delete", "namespace", &release_ns, "--wait=false"]);
}
