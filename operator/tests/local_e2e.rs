//! End to end through the local runtime: ingest, Kafka, consumers, MongoDB, lag and scaling,
//! with real processes against the dev services.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

#[path = "support/local_run.rs"]
mod local_run;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use eventflow_workloads::testkit::DevServices;
use local_run::{LocalRun, Options, binary};
use mongodb::bson::Document;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;
use tokio::process::{Child, Command};

/// A burst big enough that one consumer lags far behind the threshold below.
const EVENTS: u64 = 3000;

fn pipeline_yaml(name: &str) -> String {
    format!(
        r"
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {{name: {name}}}
spec:
  kafka: {{bootstrapServers: unused-locally:9092}}
  topic: {{partitions: 6, replicationFactor: 1}}
  producer: {{partitionKey: data.userId}}
  consumer: {{replicas: 1, batchSize: 100, batchTimeout: 200ms}}
  sink: {{mongodb: {{uriSecretRef: {{name: mongodb, key: uri}}, database: eventflow_e2e, collection: {name}}}}}
  autoscaling:
    enabled: true
    minReplicas: 1
    maxReplicas: 4
    lagThreshold: 100
    pollInterval: 1s
    scaleUpStabilization: 0s
    scaleDownStabilization: 4s
"
    )
}

/// A runtime whose producer is ready, and a load generator sending it the burst.
async fn start_with_burst(services: &DevServices) -> (LocalRun, Child, PathBuf) {
    let mut local = LocalRun::start(services, "e2e", pipeline_yaml, &Options::default());
    local
        .wait_for("a ready producer", Duration::from_secs(90), |s| {
            s["producerReady"] == true
        })
        .await;
    let ids_file = local.dir.join("ids.txt");
    let loadgen = Command::new(binary("eventflow"))
        .arg("loadgen")
        .args(["--url", &local.url()])
        .args(["--count", &EVENTS.to_string()])
        .args(["--concurrency", "8", "--batch", "50", "--quiet"])
        .arg("--ids-file")
        .arg(&ids_file)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    (local, loadgen, ids_file)
}

fn consumers(status: &Value) -> u64 {
    status["consumers"].as_u64().unwrap_or(0)
}

/// The event `id` of every stored document, one entry per document: `_id` is unique by
/// construction, so only the `id` field can show the same event stored twice.
async fn stored_ids(services: &DevServices, collection: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(&services.mongodb_uri)
        .await
        .unwrap();
    let collection = client
        .database("eventflow_e2e")
        .collection::<Document>(collection);
    let mut cursor = collection.find(mongodb::bson::doc! {}).await.unwrap();
    let mut ids = Vec::new();
    while cursor.advance().await.unwrap() {
        ids.push(cursor.current().get_str("id").unwrap().to_owned());
    }
    ids
}

/// Every acknowledged id is stored exactly once, and nothing else is.
async fn assert_exactly_once(services: &DevServices, local: &LocalRun, ids_file: &Path) {
    let acknowledged: BTreeSet<String> = std::fs::read_to_string(ids_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        acknowledged.len() as u64,
        EVENTS,
        "loadgen acknowledged every event"
    );
    let stored = stored_ids(services, &local.name).await;
    let unique: BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), unique.len(), "no event is stored twice");
    let missing: Vec<_> = acknowledged.difference(&unique).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events missing, e.g. {missing:?}",
        acknowledged.len() - unique.len().min(acknowledged.len())
    );
    assert_eq!(
        unique, acknowledged,
        "MongoDB holds exactly the acknowledged events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_scales_consumers_up_drains_and_scales_back_down_exactly_once() {
    let services = DevServices::from_env().expect("dev services");
    let (mut local, mut loadgen, ids_file) = start_with_burst(&services).await;

    let scaled = local
        .wait_for("a scale-up", Duration::from_secs(90), |s| consumers(s) >= 2)
        .await;
    assert!(
        scaled["lastScaleReason"].as_str().unwrap().contains("lag"),
        "{scaled}"
    );
    assert!(loadgen.wait().await.unwrap().success(), "loadgen failed");
    local
        .wait_for("lag 0", Duration::from_secs(180), |s| s["lag"] == 0)
        .await;
    local
        .wait_for("a scale-down to 1", Duration::from_secs(60), |s| {
            consumers(s) == 1
        })
        .await;

    assert_exactly_once(&services, &local, &ids_file).await;
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_burst_loses_and_doubles_nothing() {
    let services = DevServices::from_env().expect("dev services");
    let (mut local, mut loadgen, ids_file) = start_with_burst(&services).await;

    let status = local
        .wait_for("two running consumers", Duration::from_secs(90), |s| {
            s["consumerPids"]
                .as_array()
                .is_some_and(|pids| pids.iter().filter(|p| p.as_u64() > Some(0)).count() >= 2)
        })
        .await;
    let victim = status["consumerPids"][1].as_u64().unwrap();
    kill(
        Pid::from_raw(i32::try_from(victim).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    local
        .wait_for(
            "partitions without a live owner",
            Duration::from_secs(60),
            |s| {
                s["assignedPartitions"]
                    .as_u64()
                    .is_some_and(|assigned| Some(assigned) < s["partitions"].as_u64())
            },
        )
        .await;
    local
        .wait_for(
            "every partition owned again",
            Duration::from_secs(90),
            |s| s["assignedPartitions"] == s["partitions"] && s["consumersHoldingNone"] == 0,
        )
        .await;

    assert!(loadgen.wait().await.unwrap().success(), "loadgen failed");
    local
        .wait_for("lag 0 after the crash", Duration::from_secs(180), |s| {
            s["lag"] == 0
        })
        .await;
    let reported_pid_0 = local.stdout().into_iter().find(|line| {
        serde_json::from_str::<Value>(line).is_ok_and(|s| {
            s["consumerPids"]
                .as_array()
                .is_some_and(|pids| pids.iter().any(|pid| pid == 0))
        })
    });
    assert_eq!(reported_pid_0, None, "a status with PID 0");
    assert_exactly_once(&services, &local, &ids_file).await;
    local.stop().await;
}
