//! Checks that the Secrets the workloads need exist, so a missing one is a clear condition
//! instead of pods stuck in `CreateContainerConfigError`.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use crate::{
    Result,
    crd::{EventPipeline, SecretKeySelector},
    resync_cache::ResyncCache,
};

/// Pipelines whose every referenced Secret key was found, reused under
/// [`crate::resync_cache`]'s rule: a lag poll of an unchanged pipeline does not read its
/// Secrets again (a thousand pipelines polled every 10 s read 100 Secrets a second, all of the
/// operator's steady API load). A missing Secret is looked for on every reconcile, so creating
/// it is seen at once; one deleted after it was found is reported within the resync.
pub type FoundSecrets = ResyncCache<()>;

/// Who reads a Secret key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Both workloads.
    Both,
    /// The producer only.
    Producer,
}

/// The spec field of the sink's Secret.
pub const SINK_FIELD: &str = "sink.mongodb.uriSecretRef";

/// A Secret (or key) a workload needs but the namespace lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    /// Who needs it.
    pub reader: Reader,
    /// The spec field naming it.
    pub field: &'static str,
    /// What is missing, naming the spec field.
    pub message: String,
}

/// Every Secret key the pipeline's pods read, with the spec field naming it.
fn referenced(pipeline: &EventPipeline) -> Vec<(Reader, &'static str, &SecretKeySelector)> {
    let mongodb = &pipeline.spec.sink.mongodb.uri_secret_ref;
    let mut keys = vec![(Reader::Both, SINK_FIELD, mongodb)];
    if let Some(auth) = &pipeline.spec.producer.auth {
        if let Some(tokens) = &auth.secret_ref {
            keys.push((Reader::Producer, "producer.auth.secretRef", tokens));
        }
        if let Some(jwt) = &auth.jwt {
            keys.push((
                Reader::Producer,
                "producer.auth.jwt.keySecretRef",
                &jwt.key_secret_ref,
            ));
        }
    }
    keys
}

/// What is missing, one entry per reference; empty when every Secret key is there.
pub async fn missing_secrets(
    client: &Client,
    pipeline: &EventPipeline,
    found: &FoundSecrets,
) -> Result<Vec<MissingSecret>> {
    if found.has(pipeline) {
        return Ok(Vec::new());
    }
    let namespace = pipeline.namespace().unwrap_or_default();
    let api = Api::<Secret>::namespaced(client.clone(), &namespace);
    let mut missing = Vec::new();
    for (reader, field, selector) in referenced(pipeline) {
        let name = &selector.name;
        let message = match api.get_opt(name).await? {
            None => format!("{field}: secret {namespace}/{name} not found"),
            Some(secret) if !has_key(&secret, &selector.key) => {
                format!(
                    "{field}: secret {namespace}/{name} has no key {}",
                    selector.key
                )
            }
            Some(_) => continue,
        };
        missing.push(MissingSecret {
            reader,
            field,
            message,
        });
    }
    if missing.is_empty() {
        found.keep(pipeline, ());
    }
    Ok(missing)
}

fn has_key(secret: &Secret, key: &str) -> bool {
    secret.data.as_ref().is_some_and(|d| d.contains_key(key))
        || secret
            .string_data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
}
