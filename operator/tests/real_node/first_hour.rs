//! `helm install`, `kubectl apply -f examples/`, events in through the producer's Service and out
//! of MongoDB, and a burst that makes the operator add consumer pods that join the group.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use mongodb::bson::{Document, doc};
use serde_json::Value;

use crate::{
    disruptions::{self, Load},
    lifecycle,
    support::{
        DiagnoseOnFailure, REPO, cluster, events, metric, pod_ip, pod_ready, selector, wait_for,
    },
};

const RELEASE: &str = "eventflow";
const SYSTEM: &str = "eventflow-system";
/// The namespace of every example pipeline.
const PIPELINES: &str = "default";
const PIPELINE: &str = "quickstart";
/// An example pipeline with `deletionPolicy: Retain`.
const RETAINED: &str = "posts";
/// The bearer token of examples/transactions.yaml's Secret.
const TOKEN: &str = "t0k3n-first-hour";
/// The `mongodb` Secret's URI (deploy/kind/mongodb.yaml).
const MONGODB_URI: &str = "mongodb://mongodb.mongodb.svc.cluster.local:27017";
/// The in-cluster MongoDB-wire server (deploy/real-node), reached through its Service.
const MONGODB_SERVICE: (&str, &str) = ("mongodb", "mongodb");

/// Two worker threads: the load task posts while the test blocks on kubectl, helm and waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_first_hour_on_a_real_node() {
    let _diagnose = DiagnoseOnFailure;
    let installed = install_the_chart();
    println!("helm install -> operator Ready: {installed:?}");
    operator_holds_the_lease_and_serves_metrics().await;
    let started = Instant::now();
    apply_every_example();
    let producer = service_url(PIPELINES, &format!("{PIPELINE}-producer"), 8080);
    let mongo = mongo_collection(PIPELINE).await;
    reachable(&producer).await;
    let first = send(&producer, "first", 1).await;
    wait_stored(&mongo, &first).await;
    println!(
        "kubectl apply -> every example Ready and the first event stored: {:?}",
        started.elapsed()
    );
    read_back(&producer, &first).await;
    let sasl_password = lifecycle::sasl_password();
    let sasl = lifecycle::sasl_pipelines(PIPELINES, &sasl_password);
    let sasl_producer = service_url(PIPELINES, &format!("{sasl}-producer"), 8080);
    let sasl_ids = send(&sasl_producer, "sasl", 20).await;
    wait_stored(&mongo_collection(sasl).await, &sasl_ids).await;

    let mut all: BTreeSet<String> = first.into_iter().collect();
    all.extend(burst_scales_consumers_out_and_back(&producer, &mongo).await);

    let mut maybe = BTreeSet::new();
    let load = Load::start(&producer, "disrupted");
    disruptions::delete_a_consumer_pod(PIPELINES, PIPELINE);
    disruptions::change_the_batch_size(PIPELINES, PIPELINE, 25);
    let (accepted, refused) = load.stop().await;
    all.extend(accepted);
    maybe.extend(refused);
    disruptions::stop_and_continue_the_producer(PIPELINES, PIPELINE);
    let load = Load::start(&producer, "upgraded");
    disruptions::helm_upgrade_rolls_everything(RELEASE, SYSTEM, PIPELINES);
    let (accepted, refused) = load.stop().await;
    all.extend(accepted);
    maybe.extend(refused);
    lifecycle::restart_the_dependencies(PIPELINES, PIPELINE);
    all.extend(send_once_accepted(&producer, "restarted").await);
    assert_stored_once(&mongo, &all, &maybe).await;
    disruptions::no_secret_value_is_shown(
        &[TOKEN, MONGODB_URI, &sasl_password],
        &[PIPELINES, SYSTEM],
    );
    a_standby_replica_turns_ready();
    lifecycle::delete_and_uninstall(PIPELINES, [PIPELINE, RETAINED], RELEASE, SYSTEM);
}

fn install_the_chart() -> Duration {
    let cluster = cluster();
    let started = Instant::now();
    cluster.install_chart(RELEASE, SYSTEM, &["--set", "operator.logFormat=plain"]);
    let elapsed = started.elapsed();
    let pods = cluster.pods(SYSTEM, "app.kubernetes.io/name=eventflow");
    assert_eq!(pods.len(), 1, "one operator pod: {pods:#?}");
    assert!(
        pod_ready(&pods[0]),
        "the operator pod is Running and Ready: {:#}",
        pods[0]["status"]
    );
    elapsed
}

async fn operator_holds_the_lease_and_serves_metrics() {
    let cluster = cluster();
    let pod = cluster
        .pods(SYSTEM, "app.kubernetes.io/name=eventflow")
        .remove(0);
    let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
    let holder = wait_for(
        "the operator to hold the Lease",
        Duration::from_secs(60),
        || {
            let lease = cluster.kubectl(&[
                "get",
                "lease",
                "-n",
                SYSTEM,
                "eventflow-operator",
                "-o",
                "json",
            ]);
            let lease: Value = serde_json::from_slice(&lease.stdout).ok()?;
            lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
        },
    );
    assert_eq!(holder, name, "the Lease holder is the operator pod");
    let url = format!("http://{}:8080/metrics", pod_ip(&pod));
    let text = reqwest::get(&url)
        .await
        .expect("GET /metrics")
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("eventflow_operator_"),
        "operator metrics at {url}:\n{text}"
    );
}

/// A second operator replica stands by: its `/readyz` (ready to take over) passes the chart's
/// readiness probe, so `helm upgrade --wait` returns, while one of the two holds the Lease.
fn a_standby_replica_turns_ready() {
    let cluster = cluster();
    cluster.helm_ok(&[
        "upgrade",
        RELEASE,
        &format!("{REPO}/charts/eventflow"),
        "--namespace",
        SYSTEM,
        "--reuse-values",
        "--set",
        "operator.replicas=2",
        "--wait",
        "--timeout",
        "3m",
    ]);
    let pods = cluster.pods(SYSTEM, "app.kubernetes.io/name=eventflow");
    assert_eq!(pods.len(), 2, "two operator pods: {pods:#?}");
    for pod in &pods {
        assert!(
            pod_ready(pod),
            "each operator pod, leader and standby, is Ready: {:#}",
            pod["status"]
        );
    }
    let lease = cluster.json(&["lease", "-n", SYSTEM, "eventflow-operator"]);
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or_default();
    assert!(
        pods.iter().any(|pod| pod["metadata"]["name"] == holder),
        "one of the operator pods holds the Lease, not {holder:?}"
    );
}

/// The Secrets the examples name (deploy/kind/mongodb.yaml made `mongodb`), then every file.
fn apply_every_example() {
    let cluster = cluster();
    cluster.kubectl_ok(&[
        "-n",
        PIPELINES,
        "create",
        "secret",
        "generic",
        "transactions-ingest-tokens",
        &format!("--from-literal=tokens={TOKEN}"),
    ]);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(format!("{REPO}/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let applied = cluster.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
            names.extend(
                applied
                    .lines()
                    .filter_map(|l| l.strip_prefix("eventpipeline.eventflow.dev/"))
                    .map(|l| l.split_whitespace().next().unwrap().to_owned()),
            );
        }
    }
    assert!(
        names.len() >= 5,
        "every example pipeline applied: {names:?}"
    );
    for name in &names {
        wait_for(
            &format!("pipeline {name} Ready with its pods Running and Ready"),
            Duration::from_secs(300),
            || {
                let pipeline = cluster.json(&["eventpipeline", "-n", PIPELINES, name]);
                let ready = pipeline["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                let pods = cluster.pods(PIPELINES, &format!("app.kubernetes.io/instance={name}"));
                (ready && pods.len() >= 2 && pods.iter().all(pod_ready)).then_some(())
            },
        );
    }
}

/// `http://CLUSTER-IP:PORT` of a Service: reached from this host through kube-proxy's rules.
fn service_url(namespace: &str, name: &str, port: u16) -> String {
    let service = cluster().json(&["service", "-n", namespace, name]);
    let ip = service["spec"]["clusterIP"].as_str().unwrap();
    format!("http://{ip}:{port}")
}

/// The MongoDB collection `name` of the examples' database.
async fn mongo_collection(name: &str) -> mongodb::Collection<Document> {
    let (namespace, service) = MONGODB_SERVICE;
    let address = service_url(namespace, service, 27017).replace("http://", "");
    let client =
        mongodb::Client::with_uri_str(format!("mongodb://{address}/?directConnection=true"))
            .await
            .expect("MongoDB client");
    client.database("eventflow").collection(name)
}

/// Waits until the Service accepts connections: kube-proxy writes its rules shortly after the
/// pods are Ready (until then a connection is refused).
async fn reachable(url: &str) {
    let address = url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(error) = tokio::net::TcpStream::connect(&address).await {
        assert!(
            Instant::now() < deadline,
            "{url} refused connections for 30 s: {error}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts `count` events with ids `prefix-N` in one request; the ids the producer accepted (202).
async fn send(producer: &str, prefix: &str, count: usize) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let events = events(&ids, "/first-hour");
    let answer = reqwest::Client::new()
        .post(format!("{producer}/v1/events"))
        .json(&events)
        .send()
        .await
        .expect("POST /v1/events");
    let status = answer.status();
    assert_eq!(
        status,
        202,
        "POST /v1/events: {}",
        answer.text().await.unwrap_or_default()
    );
    ids
}

/// Posts 20 events with ids `prefix-N` until the producer accepts them (while it reconnects to a
/// restarted Kafka it answers 503); the accepted ids.
async fn send_once_accepted(producer: &str, prefix: &str) -> Vec<String> {
    let ids: Vec<String> = (0..20).map(|i| format!("{prefix}-{i}")).collect();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = client
            .post(format!("{producer}/v1/events"))
            .json(&events(&ids, "/first-hour"))
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status() == 202 => return ids,
            answer => assert!(
                Instant::now() < deadline,
                "the producer accepted nothing within 120 s: {answer:?}"
            ),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits until MongoDB holds every one of `ids`; what it holds then.
async fn wait_stored(mongo: &mongodb::Collection<Document>, ids: &[String]) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let stored = stored_ids(mongo).await;
        let missing = ids.iter().filter(|id| !stored.contains(*id)).count();
        if missing == 0 {
            return stored;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted events not stored within 300 s",
            ids.len()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn read_back(producer: &str, ids: &[String]) {
    for id in ids {
        let answer = reqwest::get(format!("{producer}/v1/events/{id}"))
            .await
            .expect("GET");
        assert_eq!(answer.status(), 200, "GET /v1/events/{id}");
        let event: Value = answer.json().await.unwrap();
        assert_eq!(event["id"], id.as_str(), "{event:#}");
    }
}

/// 8,000 events at once: lag makes the operator add consumer pods, each of which joins the group
/// and is assigned partitions; the lag drains and the consumers go back to one.
async fn burst_scales_consumers_out_and_back(
    producer: &str,
    mongo: &mongodb::Collection<Document>,
) -> Vec<String> {
    let cluster = cluster();
    let mut accepted = Vec::new();
    for round in 0..40 {
        accepted.extend(send(producer, &format!("burst-{round}"), 200).await);
    }
    let consumers_of = selector(PIPELINE, "consumer");
    let consumers = wait_for(
        "more than one consumer pod Running and Ready",
        Duration::from_secs(180),
        || {
            let pods = cluster.pods(PIPELINES, &consumers_of);
            let ready: Vec<Value> = pods.into_iter().filter(pod_ready).collect();
            (ready.len() > 1).then_some(ready)
        },
    );
    println!("consumers scaled out to {} pods", consumers.len());
    for pod in &consumers {
        let url = format!("http://{}:9090/metrics", pod_ip(pod));
        let deadline = Instant::now() + Duration::from_secs(60);
        while metric(&url, "eventflow_consumer_assigned_partitions").await < 1.0 {
            assert!(
                Instant::now() < deadline,
                "consumer pod {} was assigned no partition within 60 s",
                pod["metadata"]["name"]
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    wait_stored(mongo, &accepted).await;
    wait_for(
        "the consumers to scale back to one",
        Duration::from_secs(180),
        || {
            let deployment = cluster.json(&[
                "deployment",
                "-n",
                PIPELINES,
                &format!("{PIPELINE}-consumer"),
            ]);
            (deployment["spec"]["replicas"] == 1).then_some(())
        },
    );
    wait_for(
        "the pipeline's status to show the one consumer holding every partition",
        Duration::from_secs(120),
        || {
            let status = &cluster.json(&["eventpipeline", "-n", PIPELINES, PIPELINE])["status"];
            let consumer = &status["consumer"];
            (consumer["assignedPartitions"] == status["topic"]["partitions"]
                && consumer["consumersHoldingNone"] == 0
                && status["summary"]["consumers"] == "1/1")
                .then_some(())
        },
    );
    accepted
}

/// Every accepted id is in MongoDB (`_id` is the event id, so each at most once), and MongoDB
/// holds nothing but accepted ids and ids of requests that failed (`maybe`: Kafka may have taken
/// them before the answer was lost).
async fn assert_stored_once(
    mongo: &mongodb::Collection<Document>,
    ids: &BTreeSet<String>,
    maybe: &BTreeSet<String>,
) {
    let accepted: Vec<String> = ids.iter().cloned().collect();
    let stored = wait_stored(mongo, &accepted).await;
    let extra: Vec<&String> = stored
        .iter()
        .filter(|id| !ids.contains(*id) && !maybe.contains(*id))
        .take(5)
        .collect();
    assert!(
        extra.is_empty(),
        "MongoDB holds events nobody sent: {extra:?}"
    );
}

async fn stored_ids(mongo: &mongodb::Collection<Document>) -> BTreeSet<String> {
    let mut cursor = mongo
        .find(doc! {})
        .projection(doc! {"_id": 1})
        .await
        .expect("find");
    let mut stored = BTreeSet::new();
    while cursor.advance().await.expect("cursor") {
        let document = cursor.deserialize_current().expect("document");
        stored.insert(document.get_str("_id").expect("string _id").to_owned());
    }
    stored
}
