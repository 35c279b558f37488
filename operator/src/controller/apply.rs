//! Server-side apply of the desired children under the operator's one field manager.

use k8s_openapi::{
    NamespaceResourceScope,
    api::{apps::v1::Deployment, core::v1::ConfigMap},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};

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

/// Applies every desired object; removes the schema `ConfigMap` when the spec dropped the schema.
pub async fn apply_all(
    client: &Client,
    pipeline: &EventPipeline,
    desired: &Desired,
) -> Result<Applied> {
    let namespace = pipeline.namespace().unwrap_or_default();
    match &desired.schema {
        Some(config_map) => {
            apply(client, &namespace, config_map).await?;
        }
        None => delete_schema(client, &namespace, pipeline).await?,
    }
    apply(client, &namespace, &desired.producer_service).await?;
    let producer = apply(client, &namespace, &desired.producer).await?;
    let consumer = apply(client, &namespace, &desired.consumer).await?;
    Ok(Applied { producer, consumer })
}

/// Server-side applies one object (forcing ownership of the fields it sets).
pub async fn apply<K>(client: &Client, namespace: &str, object: &K) -> Result<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let mut body = serde_json::to_value(object)?;
    body["apiVersion"] = K::api_version(&()).into();
    body["kind"] = K::kind(&()).into();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api
        .patch(&object.name_any(), &params, &Patch::Apply(&body))
        .await?)
}

async fn delete_schema(client: &Client, namespace: &str, pipeline: &EventPipeline) -> Result<()> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    match api
        .delete(&schema_config_map_name(pipeline), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(error) => Err(error.into()),
    }
}
