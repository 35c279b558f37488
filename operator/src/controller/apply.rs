//! Server-side apply of the desired children under the operator's one field manager.
//!
//! With the controller's watch caches of the children ([`Children`], kept as
//! [`Cached`] text), a child whose stored
//! state already holds every field the operator would apply is not applied again, and its
//! readiness is read from the cache: a reconcile that changes nothing sends no write (and no
//! read) for the children. Without the caches (the reconcile tests' in-memory API), every
//! reconcile applies.

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Service},
    },
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::cached::Cached;
use crate::{
    Result,
    crd::EventPipeline,
    resources::{Desired, meta::FIELD_MANAGER, meta::schema_config_map_name},
};

/// The Deployments as the API server answered the apply (their status is the readiness).
#[derive(Debug, Clone)]
pub struct Applied {
    /// The producer Deployment.
    pub producer: Deployment,
    /// The consumer Deployment.
    pub consumer: Deployment,
}

/// The controller's watch caches of the operator's children (managed fields dropped).
#[derive(Clone)]
pub struct Children {
    /// Producer and consumer Deployments.
    pub deployments: Store<Cached<Deployment>>,
    /// Producer Services.
    pub services: Store<Cached<Service>>,
    /// Schema `ConfigMap`s.
    pub config_maps: Store<Cached<ConfigMap>>,
}

impl std::fmt::Debug for Children {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Children")
            .field("deployments", &self.deployments.len())
            .field("services", &self.services.len())
            .field("config_maps", &self.config_maps.len())
            .finish()
    }
}

/// Applies every desired object that differs from its cached state; removes the schema
/// `ConfigMap` when the spec dropped the schema.
pub async fn apply_all(
    client: &Client,
    pipeline: &EventPipeline,
    desired: &Desired,
    children: Option<&Children>,
) -> Result<Applied> {
    let namespace = pipeline.namespace().unwrap_or_default();
    let config_maps = children.map(|c| &c.config_maps);
    match &desired.schema {
        Some(config_map) => {
            apply_changed(client, &namespace, config_map, config_maps).await?;
        }
        None => delete_schema(client, &namespace, pipeline, config_maps).await?,
    }
    let services = children.map(|c| &c.services);
    apply_changed(client, &namespace, &desired.producer_service, services).await?;
    let deployments = children.map(|c| &c.deployments);
    let producer = apply_changed(client, &namespace, &desired.producer, deployments).await?;
    let consumer = apply_changed(client, &namespace, &desired.consumer, deployments).await?;
    Ok(Applied { producer, consumer })
}

/// What a pipeline's child is to the apply: a namespaced kind that round-trips through JSON.
pub trait Child:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Child for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// The cached object when it already holds `object`'s fields, else what the apply returns.
async fn apply_changed<K: Child>(
    client: &Client,
    namespace: &str,
    object: &K,
    cache: Option<&Store<Cached<K>>>,
) -> Result<K> {
    let reference = ObjectRef::new(&object.name_any()).within(namespace);
    if let Some(stored) = cache.and_then(|cache| cache.get(&reference)) {
        let stored = stored.object()?;
        if holds(
            &serde_json::to_value(&stored)?,
            &serde_json::to_value(object)?,
        ) {
            return Ok(stored);
        }
    }
    apply(client, namespace, object).await
}

/// Whether `stored` holds every field of `desired` with the same value (what a server-side
/// apply of `desired` would leave unchanged). Fields the server added (defaults, status) do not
/// matter; a zero value in `desired` (empty string, list or map, `false`, 0, null) matches a
/// missing one, as the API server's `omitempty` drops them; lists match element by element.
pub fn holds(stored: &Value, desired: &Value) -> bool {
    match (stored, desired) {
        (Value::Object(stored), Value::Object(desired)) => {
            desired.iter().all(|(key, want)| match stored.get(key) {
                Some(have) => holds(have, want),
                None => is_empty(want),
            })
        }
        (Value::Array(stored), Value::Array(desired)) => {
            stored.len() == desired.len() && stored.iter().zip(desired).all(|(s, d)| holds(s, d))
        }
        (stored, desired) => stored == desired,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_u64() == Some(0),
        Value::String(text) => text.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
    }
}

/// Server-side applies one object (forcing ownership of the fields it sets).
pub async fn apply<K: Child>(client: &Client, namespace: &str, object: &K) -> Result<K> {
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let mut body = serde_json::to_value(object)?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api
        .patch(&object.name_any(), &params, &Patch::Apply(&body))
        .await?)
}

/// Deletes the schema `ConfigMap` (when the cache, if any, has one).
async fn delete_schema(
    client: &Client,
    namespace: &str,
    pipeline: &EventPipeline,
    cache: Option<&Store<Cached<ConfigMap>>>,
) -> Result<()> {
    let name = schema_config_map_name(pipeline);
    if cache.is_some_and(|cache| {
        cache
            .get(&ObjectRef::new(&name).within(namespace))
            .is_none()
    }) {
        return Ok(());
    }
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::holds;

    #[test]
    fn a_stored_object_holds_what_was_applied_plus_server_defaults() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": ""}],
             "volumeMounts": [], "stdin": false}
        ]}}}});
        let stored = json!({"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"}, "template": {"spec": {"containers": [
            {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B"}], "imagePullPolicy": "IfNotPresent"}
        ]}}}, "status": {"readyReplicas": 2}});
        assert!(holds(&stored, &desired));
    }

    #[test]
    fn a_changed_missing_or_reordered_field_does_not_hold() {
        let desired = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 81}]}});
        let changed = json!({"spec": {"replicas": 2, "ports": [{"port": 80}, {"port": 81}]}});
        let missing = json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}});
        let fewer = json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}});
        let reordered = json!({"spec": {"replicas": 3, "ports": [{"port": 81}, {"port": 80}]}});
        for stored in [changed, missing, fewer, reordered] {
            assert!(!holds(&stored, &desired), "{stored}");
        }
    }
}
