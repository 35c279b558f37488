//! What the reconcile-level tests share: a pipeline on the dev broker, a fake Kubernetes API
//! holding it and its Secrets, and a controller context over that API.
#![allow(
    dead_code,
    reason = "each test binary includes this module and uses a different part of it"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use eventflow_operator::{
    controller::{
        Context, Settings, apply::Children, cached::Cached, finalizer::FINALIZER, reconcile,
    },
    crd::EventPipeline,
    kafka::KafkaAdmins,
    metrics::Metrics,
    resources::BuildContext,
};
use eventflow_workloads::testkit::{DevServices, unique_name};
use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Secret, Service},
    },
};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams},
    runtime::{controller::Action, reflector, watcher},
};
use kube_fake_client::{ClientBuilder, interceptor};

/// Namespace of every test object.
pub const NAMESPACE: &str = "shop";

/// The dev broker's address.
pub fn bootstrap() -> String {
    DevServices::from_env()
        .expect("dev services")
        .kafka_bootstrap
}

/// A pipeline from the full fixture, renamed to be unique, pointing at `bootstrap`.
pub fn pipeline(bootstrap: &str, prefix: &str) -> EventPipeline {
    let mut pipeline: EventPipeline =
        serde_yaml::from_str(include_str!("../fixtures/full.yaml")).unwrap();
    // A valid Kubernetes name (lower case, digits, `-`) whatever `unique_name` separates with.
    let name = unique_name(prefix).to_lowercase().replace('_', "-");
    pipeline.metadata = kube::api::ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(NAMESPACE.to_owned()),
        ..Default::default()
    };
    bootstrap.clone_into(&mut pipeline.spec.kafka.bootstrap_servers);
    pipeline.spec.kafka.secret_ref = None;
    // The topic policy's default allowance: `<namespace>.*`.
    pipeline.spec.topic.name = Some(format!("{NAMESPACE}.{name}"));
    pipeline.spec.topic.replication_factor = 1;
    pipeline
}

/// The Secrets [`fake`] holds: those the full fixture refers to but its JWT key
/// ([`jwks_secret`]), so that its pipelines name that one missing.
pub fn fixture_secrets() -> Vec<Secret> {
    vec![
        secret("mongodb", "uri", "mongodb://mongo:27017"),
        secret("ingest-tokens", "tokens.txt", "t0ken"),
    ]
}

/// The full fixture's JWT key Secret (`producer.auth.jwt.keySecretRef`).
pub fn jwks_secret() -> Secret {
    secret("user-service-jwks", "jwks.json", r#"{"keys": []}"#)
}

/// A fake API holding the pipeline and [`fixture_secrets`].
pub async fn fake(pipeline: EventPipeline) -> Client {
    fake_with(pipeline, fixture_secrets()).await
}

/// `pipeline` stored in a [`fake`] API: its name, the client and a context over it.
pub async fn stored(pipeline: EventPipeline, settings: Settings) -> (String, Client, Arc<Context>) {
    let name = kube::ResourceExt::name_any(&pipeline);
    let client = fake(pipeline).await;
    let ctx = context(client.clone(), settings);
    (name, client, ctx)
}

/// A fake API holding the pipeline and `secrets`.
pub async fn fake_with(pipeline: EventPipeline, secrets: Vec<Secret>) -> Client {
    ClientBuilder::new()
        .with_resource::<EventPipeline>()
        .with_status_subresource::<EventPipeline>()
        .with_object(pipeline)
        .with_objects(secrets)
        .build()
        .await
        .unwrap()
}

/// A [`fake`] API, holding every Secret the full fixture refers to, that counts every write it
/// receives (create, update, patch, delete, and the status subresource's patch and replace) in
/// `writes`, and every read of one of its Secrets in `secret_reads`.
pub async fn fake_counting_writes(
    pipeline: EventPipeline,
    writes: &Arc<AtomicUsize>,
    secret_reads: &Arc<AtomicUsize>,
) -> Client {
    let counter = || {
        let writes = Arc::clone(writes);
        move || {
            writes.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (create, update, patch, delete) = (counter(), counter(), counter(), counter());
    let (patch_status, replace_status) = (counter(), counter());
    let mut secrets = fixture_secrets();
    secrets.push(jwks_secret());
    let names: Vec<String> = secrets.iter().map(kube::ResourceExt::name_any).collect();
    let reads = Arc::clone(secret_reads);
    let funcs = interceptor::Funcs::new()
        .get(move |get| {
            if names.iter().any(|name| name == get.name) {
                reads.fetch_add(1, Ordering::SeqCst);
            }
            Ok(None)
        })
        .create(move |_| {
            create();
            Ok(None)
        })
        .replace(move |_| {
            update();
            Ok(None)
        })
        .patch(move |_| {
            patch();
            Ok(None)
        })
        .delete(move |_| {
            delete();
            Ok(None)
        })
        .patch_status(move |_| {
            patch_status();
            Ok(None)
        })
        .replace_status(move |_| {
            replace_status();
            Ok(None)
        });
    fake_intercepted(pipeline, secrets, funcs).await
}

/// A fake API holding `pipeline` and `secrets` whose requests go through `funcs`.
async fn fake_intercepted(
    pipeline: EventPipeline,
    secrets: Vec<Secret>,
    funcs: interceptor::Funcs,
) -> Client {
    ClientBuilder::new()
        .with_resource::<EventPipeline>()
        .with_status_subresource::<EventPipeline>()
        .with_object(pipeline)
        .with_objects(secrets)
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .unwrap()
}

/// A [`fake`] API, holding every Secret the full fixture refers to, that records the name of
/// every object it receives a patch of (not the status subresource's), in order.
pub async fn fake_recording_patches(
    pipeline: EventPipeline,
    patched: &Arc<std::sync::Mutex<Vec<String>>>,
) -> Client {
    let patched = Arc::clone(patched);
    let funcs = interceptor::Funcs::new().patch(move |patch| {
        patched.lock().unwrap().push(patch.name.to_owned());
        Ok(None)
    });
    let mut secrets = fixture_secrets();
    secrets.push(jwks_secret());
    fake_intercepted(pipeline, secrets, funcs).await
}

/// Watch caches of the children, filled with what the API holds now (as the controller's
/// watches would be).
pub async fn cached_children(client: &Client) -> Children {
    Children {
        deployments: cached::<Deployment>(client).await,
        services: cached::<Service>(client).await,
        config_maps: cached::<ConfigMap>(client).await,
    }
}

async fn cached<K>(client: &Client) -> reflector::Store<Cached<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()> + 'static,
{
    let (store, mut writer) = reflector::store();
    for object in api::<Cached<K>>(client)
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    store
}

/// A context over `client` reading the children from `children`.
pub fn context_with_children(client: Client, children: Children) -> Arc<Context> {
    let ctx = Arc::into_inner(context(client, Settings::default())).unwrap();
    Arc::new(ctx.with_children(children))
}

/// The stored pipeline's condition of `type_`.
pub fn condition<'a>(
    pipeline: &'a EventPipeline,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    let status = pipeline.status.as_ref().expect("status written");
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("the status has a condition of that type")
}

/// A Secret of one key in the test namespace.
pub fn secret(name: &str, key: &str, value: &str) -> Secret {
    secret_of(name, &[(key.to_owned(), value.to_owned())])
}

/// A Secret of these keys in the test namespace.
pub fn secret_of(name: &str, keys: &[(String, String)]) -> Secret {
    let data = keys
        .iter()
        .map(|(key, value)| (key.clone(), ByteString(value.as_bytes().to_vec())));
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..Default::default()
        },
        data: Some(data.collect()),
        ..Secret::default()
    }
}

/// A controller context over `client`, with Kafka calls bounded to a few seconds and no sink
/// check: the fixture's MongoDB does not exist, and a ping would move a paused clock by its
/// timeout (the sink check is tested on the dev cluster, `cluster/warnings.rs`).
pub fn context(client: Client, settings: Settings) -> Arc<Context> {
    let settings = Settings {
        check_sinks: false,
        ..settings
    };
    let build = BuildContext {
        workload_image: "ghcr.io/eventflow/eventflow:test".to_owned(),
        workload_log_format: eventflow_contract::logs::LogFormat::Json,
        image_pull_secrets: Vec::new(),
    };
    Arc::new(Context::new(
        client,
        build,
        KafkaAdmins::new(Duration::from_secs(3)),
        Arc::new(Metrics::new().unwrap()),
        settings,
    ))
}

/// The namespaced API of `K` in the test namespace.
pub fn api<K>(client: &Client) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), NAMESPACE)
}

/// Reconciles the stored pipeline, as the controller does after a watch event. A pipeline
/// without the finalizer gets it first, as the controller's first reconcile gives it (kube's
/// finalizer helper, whose JSON patch tests `/metadata/finalizers` for null: the real API
/// server accepts that on an absent field, the fake client's json-patch refuses it), so each
/// test starts where the reconcile after that patch's watch event starts. The cluster tests
/// (`operator/tests/cluster/deletion.rs`) see the helper add it on the real API server.
pub async fn reconcile_stored(
    ctx: &Arc<Context>,
    name: &str,
) -> eventflow_operator::Result<Action> {
    let api = api::<EventPipeline>(&ctx.client);
    let stored = api.get(name).await.unwrap();
    if !kube::ResourceExt::finalizers(&stored)
        .iter()
        .any(|f| f == FINALIZER)
    {
        let patch = serde_json::json!({ "metadata": { "finalizers": [FINALIZER] } });
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }
    let stored = api.get(name).await.unwrap();
    reconcile(Arc::new(stored), Arc::clone(ctx)).await
}
