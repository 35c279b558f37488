//! What the producer and consumer pods share: container, probes, security context.

use eventflow_contract as contract;
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, Container, ContainerPort, HTTPGetAction, LocalObjectReference,
            PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecurityContext,
        },
    },
    apimachinery::pkg::{
        apis::meta::v1::{LabelSelector, ObjectMeta},
        util::intstr::IntOrString,
    },
};

use super::{
    BuildContext, env,
    meta::{self, Component},
};
use crate::crd::{EventPipeline, Resources};

/// Name of the admin port (`/healthz`, `/readyz`, `/metrics`) on every container and Service.
pub const ADMIN_PORT_NAME: &str = "admin";
/// User and group the workloads run as (the conventional `nonroot` id of distroless images).
pub const NON_ROOT_ID: i64 = 65_532;
/// Name of the producer's API port.
pub const HTTP_PORT_NAME: &str = "http";

/// A component's Deployment with the given replica count (`None`: leave it to its other owner).
pub fn deployment(
    pipeline: &EventPipeline,
    component: Component,
    replicas: Option<u32>,
    ctx: &BuildContext,
) -> Deployment {
    Deployment {
        metadata: meta::child_meta(
            pipeline,
            meta::component_name(pipeline, component),
            Some(component),
        ),
        spec: Some(DeploymentSpec {
            replicas: replicas.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            selector: LabelSelector {
                match_labels: Some(meta::selector_labels(pipeline, component)),
                ..LabelSelector::default()
            },
            template: pod_template(pipeline, component, ctx),
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn pod_template(
    pipeline: &EventPipeline,
    component: Component,
    ctx: &BuildContext,
) -> PodTemplateSpec {
    let (volumes, mounts) = env::volumes(pipeline, component);
    let mut annotations = meta::scrape_annotations(contract::DEFAULT_ADMIN_PORT);
    if let Some(schema) = pipeline.spec.producer.schema_file_text() {
        let hash = meta::stable_hash(schema.as_bytes());
        annotations.insert(meta::SCHEMA_HASH_ANNOTATION.to_owned(), hash);
    }
    let mut container = container(pipeline, component, ctx);
    container.volume_mounts = Some(mounts);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(meta::labels(pipeline, Some(component))),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            volumes: Some(volumes),
            image_pull_secrets: image_pull_secrets(ctx),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(NON_ROOT_ID),
                run_as_group: Some(NON_ROOT_ID),
                fs_group: Some(NON_ROOT_ID),
                seccomp_profile: Some(runtime_default_seccomp()),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        }),
    }
}

/// The operator's image pull Secrets as pod references; none (the field unset) without any.
fn image_pull_secrets(ctx: &BuildContext) -> Option<Vec<LocalObjectReference>> {
    let references = ctx
        .image_pull_secrets
        .iter()
        .map(|name| LocalObjectReference { name: name.clone() })
        .collect::<Vec<_>>();
    (!references.is_empty()).then_some(references)
}

fn container(pipeline: &EventPipeline, component: Component, ctx: &BuildContext) -> Container {
    let resources = match component {
        Component::Producer => pipeline.spec.producer.resources.as_ref(),
        Component::Consumer => pipeline.spec.consumer.resources.as_ref(),
    }
    .map(Resources::requirements);
    Container {
        name: component.as_str().to_owned(),
        image: Some(ctx.image(pipeline).to_owned()),
        args: Some(vec![component.as_str().to_owned()]),
        env: Some(env::env(pipeline, component, ctx)),
        ports: Some(ports(component)),
        resources,
        liveness_probe: Some(http_probe("/healthz", LIVENESS)),
        readiness_probe: Some(http_probe("/readyz", READINESS)),
        security_context: Some(container_security_context()),
        ..Container::default()
    }
}

fn ports(component: Component) -> Vec<ContainerPort> {
    let port = |name: &str, number: u16| ContainerPort {
        name: Some(name.to_owned()),
        container_port: i32::from(number),
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    };
    let mut ports = vec![port(ADMIN_PORT_NAME, contract::DEFAULT_ADMIN_PORT)];
    if component == Component::Producer {
        ports.insert(0, port(HTTP_PORT_NAME, contract::DEFAULT_HTTP_PORT));
    }
    ports
}

/// How often a probe runs and how many failures in a row count: (period s, failures).
type ProbeTiming = (i32, i32);
/// A pod that cannot serve leaves its Service's endpoints within about 15 s ...
const READINESS: ProbeTiming = (5, 3);
/// ... and is restarted only when it has not answered for about a minute, so a process that is
/// slow or briefly stopped is taken out of traffic before it is killed.
const LIVENESS: ProbeTiming = (10, 6);

fn http_probe(path: &str, (period, failures): ProbeTiming) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(ADMIN_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..SecurityContext::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    }
}
