//! The operator at scale on the real control plane (`make bench`): N `EventPipeline`s (default
//! 1,000; `EVENTFLOW_SCALE_PIPELINES`), each with its own one-partition topic on the dev broker
//! and autoscaling on, applied to the dev cluster and reconciled by the release operator running
//! as the chart's `ServiceAccount` (the cluster tests' support code installs the chart and starts it).
//!
//! 1. Ceiling, same run: the API server, controller-manager, scheduler and kwok given the very
//!    objects the operator would create for the N pipelines (the builders' Deployments and
//!    Services), applied raw by the admin with the same concurrency; time until every Deployment
//!    is available.
//! 2. The operator: apply the N pipelines, time until every one is `Ready` (ratio to 1.; goal ≤ 2).
//! 3. Steady state (after `EVENTFLOW_SCALE_SETTLE_SECONDS`, over `EVENTFLOW_SCALE_WINDOW_SECONDS`):
//!    the operator's API requests per pipeline per minute, reads and writes, counted in the API
//!    server's audit log by the operator's `ServiceAccount` (the dev cluster's audit policy logs
//!    every non-admin request: `EVENTFLOW_CLUSTER_AUDIT=1`; goal: no write); its RSS and CPU
//!    (peak over the run, mean over the window; goal RSS ≤ 100 MiB at 1,000); its TCP
//!    connections to the broker and the Kafka clients it holds; the delay of each lag poll behind
//!    its schedule from its `eventflow_lag_poll_delay_seconds` histogram (goal p99 ≤ 1 s).
//!
//! The fake nodes the pods need are added first (`kwok-node-0` holds 110 pods).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the cluster tests' support code fails loudly on any error"
)]

#[path = "../../tests/shared/checks.rs"]
mod checks;
#[path = "../../tests/cluster/support.rs"]
#[expect(
    dead_code,
    reason = "the benchmark uses part of the cluster tests' support"
)]
mod support;

mod measure;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use eventflow_operator::{
    controller::apply,
    crd::EventPipeline,
    resources::{self, BuildContext},
};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client, api::ListParams};
use serde_json::json;

use measure::{Audit, Sampler, delay_quantiles, kafka_connections, scrape};

/// Concurrent applies of the admin, for the raw objects and for the pipelines alike.
const APPLY_CONCURRENCY: usize = 8;
/// Pods each added fake node holds.
const PODS_PER_NODE: usize = 500;

struct Config {
    pipelines: usize,
    settle: Duration,
    window: Duration,
    timeout: Duration,
}

impl Config {
    fn from_env() -> Result<Self> {
        let number = |name: &str, default: u64| -> Result<u64> {
            std::env::var(name).map_or(Ok(default), |v| {
                v.parse()
                    .with_context(|| format!("{name}={v} is not a number"))
            })
        };
        Ok(Self {
            pipelines: usize::try_from(number("EVENTFLOW_SCALE_PIPELINES", 1000)?)?,
            settle: Duration::from_secs(number("EVENTFLOW_SCALE_SETTLE_SECONDS", 30)?),
            window: Duration::from_secs(number("EVENTFLOW_SCALE_WINDOW_SECONDS", 60)?),
            timeout: Duration::from_secs(number("EVENTFLOW_SCALE_TIMEOUT_SECONDS", 1800)?),
        })
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::from_env()?;
    let audit = Audit::from_env()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let admin = Client::try_default().await?;
    let installed = support::installed();
    let n = config.pipelines;
    println!("scale: {n} pipelines, one 1-partition topic each, autoscaling on");
    add_nodes(4 * n + 50)?;

    let raw_ns = support::Namespace::new("scale-raw");
    let raw = Box::pin(raw_apply(&admin, &raw_ns.0, n, config.timeout)).await?;
    println!(
        "ceiling: raw apply of {} objects, all Deployments available in {:.1} s",
        3 * n,
        raw.as_secs_f64()
    );

    let ns = support::Namespace::new("scale");
    let operator = support::start_operator(&ns.0, &ns.0, &[]);
    let sampler = Sampler::start(operator.pid);
    let metrics_url = format!("http://127.0.0.1:{}/metrics", operator.metrics_port);
    wait_serving(&operator).await?;
    let before_apply = sampler.snapshot();
    let started = Instant::now();
    apply_all(&admin, &ns.0, (0..n).map(|i| pipeline(&ns.0, i))).await?;
    let applied = started.elapsed();
    let to_ready = wait_pipelines_ready(&admin, &ns.0, n, started, config.timeout).await?;
    let rollout = sampler.snapshot();
    println!(
        "operator: {n} pipelines applied in {:.1} s, all Ready in {:.1} s = {:.2} x the raw ceiling (goal <= 2)",
        applied.as_secs_f64(),
        to_ready.as_secs_f64(),
        to_ready.as_secs_f64() / raw.as_secs_f64()
    );

    tokio::time::sleep(config.settle).await;
    let user = format!(
        "system:serviceaccount:{}:{}",
        installed.namespace, installed.service_account
    );
    let (audit_start, metrics_start, cpu_start) = (
        audit.position()?,
        scrape(&metrics_url).await?,
        sampler.snapshot(),
    );
    tokio::time::sleep(config.window).await;
    let (metrics_end, cpu_end) = (scrape(&metrics_url).await?, sampler.snapshot());
    let requests = audit.count_since(audit_start, &user)?;
    let minutes = config.window.as_secs_f64() / 60.0;
    #[expect(clippy::cast_precision_loss, reason = "pipeline counts are small")]
    let per_pipeline_minute = |count: u64| count as f64 / n as f64 / minutes;
    println!(
        "steady state, {:.0} s after all Ready, over {:.0} s:",
        config.settle.as_secs_f64(),
        config.window.as_secs_f64()
    );
    println!(
        "  API requests per pipeline per minute: {:.2} (reads {:.2}, writes {:.2}; goal: 0 writes) - audit log, user {user}, user agents {:?}",
        per_pipeline_minute(requests.reads + requests.writes),
        per_pipeline_minute(requests.reads),
        per_pipeline_minute(requests.writes),
        requests.user_agents
    );
    for (what, count) in &requests.by_kind {
        println!("    {what}: {count}");
    }
    println!(
        "  operator RSS: peak {:.1} MiB (rollout), steady {:.1} MiB (goal <= 100 MiB at 1,000); CPU: rollout {:.0}% of a core, steady {:.1}%",
        measure::mib(rollout.peak_rss_kib.max(cpu_end.peak_rss_kib)),
        measure::mib(cpu_end.rss_kib),
        rollout.cpu_percent_since(&before_apply),
        cpu_end.cpu_percent_since(&cpu_start),
    );
    println!("  operator threads: {}", cpu_end.threads);
    let kafka = kafka_connections(operator.pid, &support::env().kafka)?;
    println!(
        "  Kafka: {kafka} TCP connections to the broker; clients held: {} (one per connection, topics and lag)",
        measure::metric(&metrics_end, "eventflow_operator_kafka_clients", ""),
    );
    let steady = delay_quantiles(&metrics_start, &metrics_end);
    let whole = delay_quantiles("", &metrics_end);
    println!("  lag-poll delay behind schedule, steady: {steady} (goal p99 <= 1 s)");
    println!("  lag-poll delay behind schedule, whole run: {whole}");
    drop(operator);
    Ok(())
}

/// Fake nodes (kwok runs their pods) until they hold `pods` pods, waiting until they are Ready.
fn add_nodes(pods: usize) -> Result<()> {
    let template: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(format!(
        "{}/deploy/dev-cluster/fake-node.yaml",
        support::REPO
    ))?)?;
    let count = pods.div_ceil(PODS_PER_NODE);
    let nodes: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            let mut node = template.clone();
            let name = format!("scale-node-{i}");
            node["metadata"]["name"] = name.clone().into();
            node["metadata"]["labels"]["kubernetes.io/hostname"] = name.into();
            node["spec"] = json!({});
            for field in ["allocatable", "capacity"] {
                node["status"][field]["pods"] = PODS_PER_NODE.to_string().into();
            }
            node
        })
        .collect();
    support::apply(&nodes);
    support::wait_for("the fake nodes Ready", Duration::from_secs(120), || {
        let ready = support::kubectl_ok(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
        ]);
        (ready.lines().filter(|l| *l == "True").count() > count).then_some(())
    });
    println!("nodes: {count} fake nodes of {PODS_PER_NODE} pods added");
    Ok(())
}

/// Pipeline `i` of the benchmark, in `namespace`, with its own topic on the dev broker.
fn pipeline(namespace: &str, i: usize) -> EventPipeline {
    serde_json::from_value(json!({
        "apiVersion": "eventflow.dev/v1alpha1",
        "kind": "EventPipeline",
        "metadata": {"name": format!("p{i:04}"), "namespace": namespace},
        "spec": {
            "kafka": {"bootstrapServers": support::env().kafka},
            "topic": {"name": format!("{namespace}.p{i:04}"), "partitions": 1, "replicationFactor": 1},
            "sink": {"mongodb": {"uriSecretRef": {"name": "mongodb", "key": "uri"}}},
            "autoscaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 1},
        },
    }))
    .expect("a valid EventPipeline")
}

/// The objects the operator would create for the pipelines, applied by the admin; the time
/// until every Deployment is available.
async fn raw_apply(
    admin: &Client,
    namespace: &str,
    n: usize,
    timeout: Duration,
) -> Result<Duration> {
    let build = BuildContext {
        workload_image: "ghcr.io/eventflow/eventflow:bench".to_owned(),
        workload_log_format: eventflow_contract::logs::LogFormat::Json,
        image_pull_secrets: Vec::new(),
    };
    let started = Instant::now();
    let desired: Vec<_> = (0..n)
        .map(|i| {
            let pipeline = pipeline(namespace, i);
            resources::desired(&pipeline, &build, resources::consumer::replicas(&pipeline))
        })
        .collect();
    let services = desired.iter().map(|d| d.producer_service.clone());
    let deployments = desired
        .iter()
        .flat_map(|d| [d.producer.clone(), d.consumer.clone()]);
    Box::pin(apply_all(admin, namespace, services)).await?;
    Box::pin(apply_all(admin, namespace, deployments)).await?;
    let api = Api::<Deployment>::namespaced(admin.clone(), namespace);
    poll_until(started, timeout, "raw Deployments available", || async {
        let list = api.list(&ListParams::default()).await?;
        Ok(list.items.iter().filter(|d| available(d)).count() >= 2 * n)
    })
    .await
}

/// Ready by the operator's own rule (the generation observed, every wanted pod ready), so the
/// ceiling waits for what the operator's `Ready` waits for.
fn available(deployment: &Deployment) -> bool {
    eventflow_operator::controller::status::workload_condition("Available", deployment).ok
}

/// Server-side applies every object as the admin, `APPLY_CONCURRENCY` at a time.
async fn apply_all<K>(
    admin: &Client,
    namespace: &str,
    objects: impl Iterator<Item = K>,
) -> Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    stream::iter(objects)
        .map(|object| async move { apply::apply(admin, namespace, &object).await.map(|_| ()) })
        .buffer_unordered(APPLY_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok(())
}

/// Waits until the operator's admin server answers. (Not `/readyz`: it stays "waiting for the
/// first watch sync" even once the controller runs, in main too.)
async fn wait_serving(operator: &support::OperatorProcess) -> Result<()> {
    let url = format!("http://127.0.0.1:{}/metrics", operator.metrics_port);
    poll_until(
        Instant::now(),
        Duration::from_secs(60),
        "the operator's /metrics",
        || async {
            Ok(reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success()))
        },
    )
    .await
    .map(|_| ())
}

async fn wait_pipelines_ready(
    admin: &Client,
    namespace: &str,
    n: usize,
    started: Instant,
    timeout: Duration,
) -> Result<Duration> {
    let api = Api::<EventPipeline>::namespaced(admin.clone(), namespace);
    let mut last_print = Instant::now();
    poll_until(started, timeout, "every pipeline Ready", || {
        let api = api.clone();
        let print = last_print.elapsed() > Duration::from_secs(30);
        if print {
            last_print = Instant::now();
        }
        async move {
            let list = api.list(&ListParams::default()).await?;
            let ready = list
                .items
                .iter()
                .filter(|p| serde_json::to_value(p).is_ok_and(|p| support::is_ready(&p)))
                .count();
            if print {
                println!(
                    "  {ready}/{n} Ready after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(ready >= n)
        }
    })
    .await
}

/// Calls `check` every 500 ms until it says done; the time since `started`.
async fn poll_until<F, Fut>(
    started: Instant,
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    loop {
        if check().await? {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
