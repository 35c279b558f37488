//! The workloads' environment and mounts, named only through `eventflow_contract`.

use eventflow_contract as contract;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, EnvVar, EnvVarSource, KeyToPath,
    SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use kube::ResourceExt;

use super::{BuildContext, meta::Component, meta::schema_config_map_name};
use crate::crd::{EventPipeline, JwtSpec};

/// Where `kafka.secretRef` is mounted: one file per librdkafka property.
pub const KAFKA_PROPERTIES_DIR: &str = "/etc/eventflow/kafka";
/// Where the schema `ConfigMap` is mounted.
pub const SCHEMA_DIR: &str = "/etc/eventflow/schema";
/// The schema file inside [`SCHEMA_DIR`] (also the `ConfigMap` key).
pub const SCHEMA_KEY: &str = "schema.json";
/// Where `producer.auth.secretRef` is mounted.
pub const AUTH_DIR: &str = "/etc/eventflow/auth";
/// The tokens file inside [`AUTH_DIR`].
pub const AUTH_TOKENS_KEY: &str = "tokens";
/// Where `producer.auth.jwt.keySecretRef` is mounted.
pub const JWT_DIR: &str = "/etc/eventflow/jwt";
/// The key file inside [`JWT_DIR`].
pub const JWT_KEY: &str = "key";

const KAFKA_VOLUME: &str = "kafka-properties";
const SCHEMA_VOLUME: &str = "schema";
const AUTH_VOLUME: &str = "auth-tokens";
const JWT_VOLUME: &str = "jwt-key";
const TMP_VOLUME: &str = "tmp";

fn literal(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn from_secret(name: &str, secret: &crate::crd::SecretKeySelector) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// The environment of one component's container.
pub fn env(pipeline: &EventPipeline, component: Component, ctx: &BuildContext) -> Vec<EnvVar> {
    let spec = &pipeline.spec;
    let mut env = vec![
        literal(contract::PIPELINE, pipeline.name_any()),
        literal(
            contract::NAMESPACE,
            pipeline.namespace().unwrap_or_default(),
        ),
        literal(
            contract::LOG_FORMAT,
            ctx.workload_log_format.as_str().to_owned(),
        ),
        literal(
            contract::ADMIN_PORT,
            contract::DEFAULT_ADMIN_PORT.to_string(),
        ),
        literal(
            contract::KAFKA_BOOTSTRAP,
            spec.kafka.bootstrap_servers.clone(),
        ),
        literal(contract::TOPIC, pipeline.topic_name()),
        from_secret(contract::MONGODB_URI, &spec.sink.mongodb.uri_secret_ref),
        literal(
            contract::MONGODB_DATABASE,
            spec.sink.mongodb.database.clone(),
        ),
        literal(contract::MONGODB_COLLECTION, pipeline.collection()),
    ];
    if spec.kafka.secret_ref.is_some() {
        env.push(literal(
            contract::KAFKA_PROPERTIES_FILE,
            KAFKA_PROPERTIES_DIR,
        ));
    }
    if spec.producer.has_schema() {
        env.push(literal(
            contract::SCHEMA_FILE,
            format!("{SCHEMA_DIR}/{SCHEMA_KEY}"),
        ));
    }
    match component {
        Component::Producer => env.extend(producer_env(pipeline)),
        Component::Consumer => env.extend(consumer_env(pipeline)),
    }
    env
}

fn producer_env(pipeline: &EventPipeline) -> Vec<EnvVar> {
    let producer = &pipeline.spec.producer;
    let mut env = vec![
        literal(contract::HTTP_PORT, contract::DEFAULT_HTTP_PORT.to_string()),
        literal(contract::PARTITION_KEY, producer.partition_key.clone()),
    ];
    if !producer.allowed_types.is_empty() {
        env.push(literal(
            contract::ALLOWED_TYPES,
            producer.allowed_types.join(","),
        ));
    }
    let auth = producer.auth.as_ref();
    if auth.is_some_and(|auth| auth.secret_ref.is_some()) {
        env.push(literal(
            contract::AUTH_TOKENS_FILE,
            format!("{AUTH_DIR}/{AUTH_TOKENS_KEY}"),
        ));
    }
    if let Some(jwt) = auth.and_then(|auth| auth.jwt.as_ref()) {
        env.extend(jwt_env(jwt));
    }
    if let Some(limit) = &producer.rate_limit {
        env.push(literal(
            contract::RATE_LIMIT_EVENTS_PER_SECOND,
            limit.events_per_second.to_string(),
        ));
        if let Some(burst) = limit.burst {
            env.push(literal(contract::RATE_LIMIT_BURST, burst.to_string()));
        }
    }
    env
}

fn jwt_env(jwt: &JwtSpec) -> Vec<EnvVar> {
    let mut env = vec![
        literal(contract::JWT_KEY_FILE, format!("{JWT_DIR}/{JWT_KEY}")),
        literal(contract::JWT_ALGORITHM, jwt.algorithm.as_str()),
        literal(contract::JWT_LEEWAY, jwt.leeway.to_string()),
    ];
    if let Some(issuer) = &jwt.issuer {
        env.push(literal(contract::JWT_ISSUER, issuer.clone()));
    }
    if let Some(audience) = &jwt.audience {
        env.push(literal(contract::JWT_AUDIENCE, audience.clone()));
    }
    env
}

fn consumer_env(pipeline: &EventPipeline) -> Vec<EnvVar> {
    let consumer = &pipeline.spec.consumer;
    let mut env = vec![
        literal(contract::GROUP_ID, pipeline.group_id()),
        literal(contract::BATCH_SIZE, consumer.batch_size.to_string()),
        literal(contract::BATCH_TIMEOUT, consumer.batch_timeout.to_string()),
    ];
    if let Some(ttl) = &pipeline.spec.sink.mongodb.ttl {
        env.push(literal(contract::MONGODB_TTL, ttl.to_string()));
    }
    // Unset: the consumer's own default (majority, journaled), and no new env to roll pods.
    if let Some(concern) = &pipeline.spec.sink.mongodb.write_concern {
        env.push(literal(
            contract::MONGODB_WRITE_CONCERN,
            concern.acknowledgment().to_string(),
        ));
        env.push(literal(
            contract::MONGODB_JOURNAL,
            concern.journal.to_string(),
        ));
    }
    env
}

/// The volumes of one component's pod and where its container mounts them.
pub fn volumes(pipeline: &EventPipeline, component: Component) -> (Vec<Volume>, Vec<VolumeMount>) {
    let spec = &pipeline.spec;
    let mut volumes = vec![Volume {
        name: TMP_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    let mut mounts = vec![mount(TMP_VOLUME, "/tmp", false)];
    if let Some(secret) = &spec.kafka.secret_ref {
        volumes.push(secret_volume(KAFKA_VOLUME, &secret.name, None));
        mounts.push(mount(KAFKA_VOLUME, KAFKA_PROPERTIES_DIR, true));
    }
    if spec.producer.has_schema() {
        volumes.push(Volume {
            name: SCHEMA_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: schema_config_map_name(pipeline),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(SCHEMA_VOLUME, SCHEMA_DIR, true));
    }
    if let (Component::Producer, Some(auth)) = (component, &spec.producer.auth) {
        let secrets = [
            (
                auth.secret_ref.as_ref(),
                AUTH_VOLUME,
                AUTH_DIR,
                AUTH_TOKENS_KEY,
            ),
            (
                auth.jwt.as_ref().map(|jwt| &jwt.key_secret_ref),
                JWT_VOLUME,
                JWT_DIR,
                JWT_KEY,
            ),
        ];
        for (selector, volume, dir, file) in secrets {
            let Some(selector) = selector else { continue };
            let item = KeyToPath {
                key: selector.key.clone(),
                path: file.to_owned(),
                mode: None,
            };
            volumes.push(secret_volume(volume, &selector.name, Some(item)));
            mounts.push(mount(volume, dir, true));
        }
    }
    (volumes, mounts)
}

fn secret_volume(volume: &str, secret: &str, item: Option<KeyToPath>) -> Volume {
    Volume {
        name: volume.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            items: item.map(|item| vec![item]),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A mount; `readOnly` only when true, as the API server stores it (its `false` is omitted, and
/// the apply compares what it sends with what is stored).
fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}
