//! Server-side apply of the desired children under the operator's one field manager.
//!
//! Every child is applied with [`APPLIED_HASH_ANNOTATION`], a hash of the desired object it
//! was applied from. With the controller's watch caches of the children ([`Children`], kept as
//! [`Cached`] text), a child is not applied again when it is [`already_applied`]: its hash is the
//! new desired object's (so nothing was added, changed or removed since: a removal changes the
//! hash, and the apply drops the fields this field manager no longer sets) and it still holds
//! every field of ours (so nobody edited one). Its readiness is then read from the cache: a
//! reconcile that changes nothing sends no write (and no read) for the children. Without the
//! caches (the reconcile tests' in-memory API), every reconcile applies.
//!
//! A hand edit of one of our fields (`kubectl edit`) is a watch event of the child, which
//! reconciles its pipeline at once: the edited field no longer holds, and the apply puts it
//! back, within seconds rather than at the next resync. Comparing values (quantities by value,
//! `500m` = `0.5`) instead of this field manager's managed fields keeps the check to the cached
//! object, and a value the API server stores in another form never holds "differently", so
//! there is no apply loop.

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

use super::{cached::Cached, quantity};
use crate::{
    Result,
    crd::EventPipeline,
    resources::{
        Desired,
        meta::{self, APPLIED_HASH_ANNOTATION, FIELD_MANAGER, schema_config_map_name},
    },
};

/// Maps of quantities, compared by value ([`quantity::same`]): `resources.limits` and
/// `resources.requests`.
const QUANTITY_MAPS: [&str; 2] = ["limits", "requests"];

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

/// The cached object when it is [`already_applied`] for `object`, else what the apply returns.
async fn apply_changed<K: Child>(
    client: &Client,
    namespace: &str,
    object: &K,
    cache: Option<&Store<Cached<K>>>,
) -> Result<K> {
    let object = with_applied_hash(object)?;
    let reference = ObjectRef::new(&object.name_any()).within(namespace);
    if let Some(stored) = cache.and_then(|cache| cache.get(&reference)) {
        let stored = stored.object()?;
        match difference(
            &serde_json::to_value(&stored)?,
            &serde_json::to_value(&object)?,
        ) {
            None => return Ok(stored),
            Some(field) => tracing::debug!(name = %object.name_any(), %field, "differs"),
        }
    }
    apply(client, namespace, &object).await
}

/// `object` with [`APPLIED_HASH_ANNOTATION`]: a stable hash of its JSON without it.
pub fn with_applied_hash<K: Child>(object: &K) -> Result<K> {
    let hash = meta::stable_hash(&serde_json::to_vec(object)?);
    let mut object = object.clone();
    object
        .annotations_mut()
        .insert(APPLIED_HASH_ANNOTATION.to_owned(), hash);
    Ok(object)
}

/// Whether applying `desired` would leave `stored` as it is.
///
/// That is when `stored` has every field of `desired` with the same value. `desired` carries
/// its [`APPLIED_HASH_ANNOTATION`], so a `stored` applied from another desired object (a field
/// removed since, say) differs in that annotation. Fields the server added (defaults, status)
/// do not matter; an empty string, list or map (or null) in `desired` matches a missing one, as
/// the API server's `omitempty` drops them (`false` and 0 do not: the operator sets them only
/// in pointer fields, which the server keeps); lists match element by element; quantities by
/// value.
pub fn already_applied(stored: &Value, desired: &Value) -> bool {
    difference(stored, desired).is_none()
}

/// The path of the first field of `desired` that `stored` does not hold (see [`already_applied`]).
fn difference(stored: &Value, desired: &Value) -> Option<String> {
    let inside = |key: &dyn std::fmt::Display, path: String| format!(".{key}{path}");
    match (stored, desired) {
        (Value::Object(stored), Value::Object(desired)) => {
            desired
                .iter()
                .find_map(|(key, want)| match stored.get(key) {
                    Some(have) if QUANTITY_MAPS.contains(&key.as_str()) => {
                        same_quantities(have, want).map(|path| inside(key, path))
                    }
                    Some(have) => difference(have, want).map(|path| inside(key, path)),
                    None => (!is_empty(want)).then(|| inside(key, String::new())),
                })
        }
        (Value::Array(stored), Value::Array(desired)) if stored.len() == desired.len() => stored
            .iter()
            .zip(desired)
            .enumerate()
            .find_map(|(index, (s, d))| difference(s, d).map(|path| format!("[{index}]{path}"))),
        (stored, desired) => (stored != desired).then(String::new),
    }
}

/// [`difference`] in a map of quantities, compared by value: the API server stores `0.5` as
/// `500m`.
fn same_quantities(stored: &Value, desired: &Value) -> Option<String> {
    let (Value::Object(stored), Value::Object(desired)) = (stored, desired) else {
        return difference(stored, desired);
    };
    desired.iter().find_map(|(key, want)| {
        let differs = match (stored.get(key), want) {
            (Some(Value::String(have)), Value::String(want)) => !quantity::same(have, want),
            (Some(have), want) => difference(have, want).is_some(),
            (None, want) => !is_empty(want),
        };
        differs.then(|| format!(".{key}"))
    })
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Server-side applies one object (forcing ownership of the fields it sets).
pub async fn apply<K: Child>(client: &Client, namespace: &str, object: &K) -> Result<K> {
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let mut body = serde_json::to_value(object)?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api
        .patch(&object.name_any(), &params, &Patch::Apply(&body))
        .await?;
    tracing::debug!(kind = %K::kind(&()), name = %object.name_any(), "applied");
    Ok(applied)
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
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::*;

    /// A Deployment as a pipeline's builder makes it, with `resources` and `annotations`.
    fn deployment(resources: &Value, annotations: &Value, env: &Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "p-consumer", "namespace": "shop",
                         "labels": {"app.kubernetes.io/managed-by": "eventflow-operator"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "p"}}, "template": {
                "metadata": {"annotations": annotations},
                "spec": {"containers": [{"name": "consumer", "image": "eventflow:1",
                    "env": env, "resources": resources,
                    "securityContext": {"allowPrivilegeEscalation": false}}]}}}
        }))
        .unwrap()
    }

    /// What the reconcile compares and sends for `object`.
    fn sent(object: &Deployment) -> Value {
        serde_json::to_value(with_applied_hash(object).unwrap()).unwrap()
    }

    /// The object the API server keeps after applying `sent`: defaults added, quantities in
    /// their canonical form (`canonical` maps a spec text to the stored one).
    fn stored_after(sent: &Value, canonical: &[(&str, &str)]) -> Value {
        let mut stored = sent.clone();
        stored["metadata"]["resourceVersion"] = "7".into();
        stored["metadata"]["generation"] = 1.into();
        stored["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        stored["status"] = json!({"replicas": 2, "readyReplicas": 2});
        let container = &mut stored["spec"]["template"]["spec"]["containers"][0];
        container["imagePullPolicy"] = "IfNotPresent".into();
        for list in ["limits", "requests"] {
            if let Some(Value::Object(quantities)) = container["resources"].get_mut(list) {
                for value in quantities.values_mut() {
                    if let Some((_, to)) = canonical.iter().find(|(from, _)| value == from) {
                        *value = (*to).into();
                    }
                }
            }
        }
        stored
    }

    fn limits(memory: Option<&str>) -> Value {
        let mut resources = json!({"requests": {"cpu": "200m"}, "limits": {"cpu": "1"}});
        if let Some(memory) = memory {
            resources["limits"]["memory"] = memory.into();
        }
        resources
    }

    fn env(names: &[&str]) -> Value {
        names
            .iter()
            .map(|n| json!({"name": n, "value": "1"}))
            .collect()
    }

    #[test]
    fn an_unchanged_object_is_up_to_date_so_nothing_is_sent() {
        let object = deployment(
            &limits(Some("128Mi")),
            &json!({"a": "1"}),
            &env(&["A", "B"]),
        );
        let stored = stored_after(&sent(&object), &[]);
        assert!(already_applied(&stored, &sent(&object)));
    }

    #[test]
    fn a_removed_limit_annotation_or_list_entry_is_sent() {
        let before = deployment(
            &limits(Some("128Mi")),
            &json!({"a": "1", "b": "2"}),
            &env(&["A", "B"]),
        );
        let stored = stored_after(&sent(&before), &[]);
        let removals = [
            (
                "limits.memory",
                deployment(
                    &limits(None),
                    &json!({"a": "1", "b": "2"}),
                    &env(&["A", "B"]),
                ),
            ),
            (
                "annotation b",
                deployment(
                    &limits(Some("128Mi")),
                    &json!({"a": "1"}),
                    &env(&["A", "B"]),
                ),
            ),
            (
                "env B",
                deployment(
                    &limits(Some("128Mi")),
                    &json!({"a": "1", "b": "2"}),
                    &env(&["A"]),
                ),
            ),
        ];
        for (removed, after) in removals {
            assert!(
                !already_applied(&stored, &sent(&after)),
                "removing {removed} must be applied"
            );
        }
    }

    #[test]
    fn a_field_of_ours_edited_by_hand_is_sent_again() {
        let object = deployment(&limits(Some("128Mi")), &json!({"a": "1"}), &env(&["A"]));
        let applied = stored_after(&sent(&object), &[]);
        let container = "/spec/template/spec/containers/0";
        let edits: [(&str, Value); 4] = [
            ("a changed limit", json!({"resources": limits(Some("1Gi"))})),
            (
                "a changed env value",
                json!({"env": [{"name": "A", "value": "2"}]}),
            ),
            ("a removed env entry", json!({"env": []})),
            ("a removed false", json!({"securityContext": {}})),
        ];
        for (edit, change) in edits {
            let mut stored = applied.clone();
            let edited = stored.pointer_mut(container).unwrap();
            for (field, value) in change.as_object().unwrap() {
                edited[field] = value.clone();
            }
            assert!(!already_applied(&stored, &sent(&object)), "{edit}");
        }
    }

    #[test]
    fn a_quantity_stored_in_canonical_form_is_up_to_date_so_there_is_no_apply_loop() {
        let forms = [
            ("cpu", "0.5", "500m"),
            ("memory", "1024Mi", "1Gi"),
            ("cpu", "1000m", "1"),
            ("memory", "1e9", "1G"),
            ("memory", "0.5Gi", "512Mi"),
        ];
        for (resource, spec, canonical) in forms {
            let resources = json!({"limits": {resource: spec}, "requests": {resource: spec}});
            let object = deployment(&resources, &json!({}), &env(&["A"]));
            let stored = stored_after(&sent(&object), &[(spec, canonical)]);
            assert_eq!(
                stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                    [resource],
                canonical
            );
            // The reconcile after the apply (the apply's own watch event) sends nothing.
            assert!(
                already_applied(&stored, &sent(&object)),
                "{resource}: {spec} stored as {canonical}"
            );
        }
    }

    #[test]
    fn a_stored_object_holds_what_was_applied_plus_server_defaults() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": ""}],
             "volumeMounts": []}
        ]}}}});
        let stored = json!({"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"}, "template": {"spec": {"containers": [
            {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B"}], "imagePullPolicy": "IfNotPresent"}
        ]}}}, "status": {"readyReplicas": 2}});
        assert!(already_applied(&stored, &desired));
    }

    #[test]
    fn a_changed_missing_or_reordered_field_does_not_hold() {
        let desired = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 81}]}});
        let changed = json!({"spec": {"replicas": 2, "ports": [{"port": 80}, {"port": 81}]}});
        let missing = json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}});
        let fewer = json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}});
        let reordered = json!({"spec": {"replicas": 3, "ports": [{"port": 81}, {"port": 80}]}});
        for stored in [changed, missing, fewer, reordered] {
            assert!(!already_applied(&stored, &desired), "{stored}");
        }
    }
}
