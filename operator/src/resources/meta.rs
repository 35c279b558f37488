//! Names, labels, annotations and owner references of the objects a pipeline owns.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::crd::EventPipeline;

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "eventflow-operator";
/// Label naming the pipeline an object belongs to.
pub const PIPELINE_LABEL: &str = "eventflow.dev/pipeline";
/// Annotation of every child: a hash of the desired object it was last applied from
/// (`controller::apply`), so that a change, a removal included, is applied and nothing else.
pub const APPLIED_HASH_ANNOTATION: &str = "eventflow.dev/applied-hash";
/// Pod-template annotation that changes with the schema, so pods restart to read the new one.
pub const SCHEMA_HASH_ANNOTATION: &str = "eventflow.dev/schema-hash";

/// The two workloads of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// HTTP ingest and query.
    Producer,
    /// Kafka into MongoDB.
    Consumer,
}

impl Component {
    /// The subcommand of the workload binary and the `app.kubernetes.io/component` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// Name of a component's Deployment (and the producer's Service): `<pipeline>-<component>`.
pub fn component_name(pipeline: &EventPipeline, component: Component) -> String {
    format!("{}-{}", pipeline.name_any(), component.as_str())
}

/// Name of the `ConfigMap` holding the event schema: `<pipeline>-schema`.
pub fn schema_config_map_name(pipeline: &EventPipeline) -> String {
    format!("{}-schema", pipeline.name_any())
}

/// Labels that select a component's pods (stable: they form the Deployment selector).
pub fn selector_labels(pipeline: &EventPipeline, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "eventflow".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), pipeline.name_any()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.as_str().to_owned(),
        ),
    ])
}

/// Every label of a component's objects: the selector labels plus ownership labels.
pub fn labels(pipeline: &EventPipeline, component: Option<Component>) -> BTreeMap<String, String> {
    let mut labels = component.map_or_else(
        || {
            BTreeMap::from([
                ("app.kubernetes.io/name".to_owned(), "eventflow".to_owned()),
                ("app.kubernetes.io/instance".to_owned(), pipeline.name_any()),
            ])
        },
        |component| selector_labels(pipeline, component),
    );
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        FIELD_MANAGER.to_owned(),
    );
    labels.insert(PIPELINE_LABEL.to_owned(), pipeline.name_any());
    labels
}

/// The pipeline as controller owner, so children are garbage-collected with it.
pub fn owner_reference(pipeline: &EventPipeline) -> Option<OwnerReference> {
    pipeline.controller_owner_ref(&())
}

/// Metadata of a child object: name, namespace, labels, owner reference.
pub fn child_meta(
    pipeline: &EventPipeline,
    name: String,
    component: Option<Component>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: pipeline.namespace(),
        labels: Some(labels(pipeline, component)),
        owner_references: owner_reference(pipeline).map(|owner| vec![owner]),
        ..ObjectMeta::default()
    }
}

/// Prometheus scrape annotations for the admin port.
pub fn scrape_annotations(admin_port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), admin_port.to_string()),
        ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
    ])
}

/// A stable 64-bit FNV-1a hash, hex encoded (for change-detecting annotations).
pub fn stable_hash(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}
