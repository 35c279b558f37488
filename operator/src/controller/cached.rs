//! A child as the controller's watch caches keep it: its metadata (what the reflector and the
//! owner mapping read) and the object as the API server's JSON text, without managed fields,
//! parsed only when a reconcile reads it.
//!
//! Why: a typed object takes several times the memory of its JSON text, and at scale the watch
//! caches are most of the operator's heap (figures in docs/benchmarks.md). A reconcile parses
//! only the two or three objects it compares.

use std::{borrow::Cow, marker::PhantomData, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::Value;

/// A `K` kept as metadata and JSON text.
pub struct Cached<K> {
    metadata: ObjectMeta,
    json: Arc<str>,
    kind: PhantomData<fn() -> K>,
}

impl<K: DeserializeOwned> Cached<K> {
    /// The object, parsed from its text.
    pub fn object(&self) -> serde_json::Result<K> {
        serde_json::from_str(&self.json)
    }
}

impl<K> Clone for Cached<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            json: Arc::clone(&self.json),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Cached<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("name", &self.metadata.name)
            .field("namespace", &self.metadata.namespace)
            .field("bytes", &self.json.len())
            .finish()
    }
}

impl<'de, K> Deserialize<'de> for Cached<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        let metadata = match value.get_mut("metadata") {
            Some(Value::Object(metadata)) => {
                metadata.remove("managedFields");
                ObjectMeta::deserialize(&value["metadata"]).map_err(serde::de::Error::custom)?
            }
            _ => ObjectMeta::default(),
        };
        Ok(Self {
            metadata,
            json: value.to_string().into(),
            kind: PhantomData,
        })
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Cached<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::ResourceExt;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_listed_object_is_kept_without_managed_fields_and_parses_back_whole() {
        // As a LIST answers: no apiVersion or kind on the items.
        let listed = json!({
            "metadata": {
                "name": "p-consumer", "namespace": "shop", "resourceVersion": "42",
                "ownerReferences": [{"apiVersion": "eventflow.dev/v1alpha1", "kind": "EventPipeline",
                                     "name": "p", "uid": "u-1", "controller": true}],
                "managedFields": [{"manager": "eventflow-operator", "operation": "Apply"}]
            },
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"readyReplicas": 2}
        });
        let cached: Cached<Deployment> = serde_json::from_value(listed).unwrap();
        assert_eq!(cached.name_any(), "p-consumer");
        assert_eq!(cached.resource_version().as_deref(), Some("42"));
        assert_eq!(cached.owner_references()[0].uid, "u-1");
        assert!(cached.managed_fields().is_empty());
        assert!(!cached.json.contains("managedFields"), "{}", cached.json);
        let deployment = cached.object().unwrap();
        assert_eq!(deployment.spec.unwrap().replicas, Some(3));
        assert_eq!(deployment.status.unwrap().ready_replicas, Some(2));
        assert_eq!(deployment.metadata.name.as_deref(), Some("p-consumer"));
        assert_eq!(Cached::<Deployment>::plural(&()), "deployments");
        assert_eq!(Cached::<Deployment>::api_version(&()), "apps/v1");
    }
}
