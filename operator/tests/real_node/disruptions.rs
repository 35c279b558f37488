//! What a running pipeline meets in its first weeks, under load: a consumer pod deleted, a
//! `batchSize` change that rolls the consumers, a producer that stops answering, and a
//! `helm upgrade` to new images that rolls the operator and then every pipeline's pods.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};

use crate::support::{REPO, cluster, events, pod_ready, selector, wait_for};

/// Posts 20 events every 200 ms (about 100 events/s, so the consumers keep up on a small node)
/// until stopped; keeps the ids the producer accepted (202). Requests that fail while pods roll
/// are not accepted and need not be stored.
pub struct Load {
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts posting to `producer` with ids `prefix-N`.
    pub fn start(producer: &str, prefix: &str) -> Self {
        let (accepted, refused) = (Arc::default(), Arc::default());
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(post_until_stopped(
            producer.to_owned(),
            prefix.to_owned(),
            [Arc::clone(&accepted), Arc::clone(&refused)],
            Arc::clone(&stop),
        ));
        Self {
            accepted,
            refused,
            stop,
            task,
        }
    }

    /// Stops posting; the accepted ids, and those of failed requests (which Kafka may still have
    /// taken: they may be stored, but need not be).
    pub async fn stop(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load task");
        let accepted = self.accepted.lock().expect("accepted ids").clone();
        assert!(!accepted.is_empty(), "the load had no event accepted");
        let refused = self.refused.lock().expect("refused ids").clone();
        (accepted, refused)
    }
}

async fn post_until_stopped(
    producer: String,
    prefix: String,
    [accepted, refused]: [Arc<Mutex<Vec<String>>>; 2],
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let mut batch = 0;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (0..20).map(|i| format!("{prefix}-{batch}-{i}")).collect();
        let events = events(&ids, "/disruptions");
        let answer = client
            .post(format!("{producer}/v1/events"))
            .json(&events)
            .send()
            .await;
        let into = if answer.is_ok_and(|a| a.status() == 202) {
            &accepted
        } else {
            &refused
        };
        into.lock().expect("ids").extend(ids);
        tokio::time::sleep(Duration::from_millis(200)).await;
        batch += 1;
    }
}

/// Deletes one consumer pod while the load runs; the Deployment replaces it.
pub fn delete_a_consumer_pod(namespace: &str, pipeline: &str) {
    let cluster = cluster();
    let pods = cluster.pods(namespace, &selector(pipeline, "consumer"));
    let victim = pods[0]["metadata"]["name"]
        .as_str()
        .expect("pod name")
        .to_owned();
    cluster.kubectl_ok(&["-n", namespace, "delete", "pod", &victim, "--wait=false"]);
    wait_for(
        "a new consumer pod Running and Ready",
        Duration::from_secs(120),
        || {
            let pods = cluster.pods(namespace, &selector(pipeline, "consumer"));
            pods.iter()
                .any(|p| p["metadata"]["name"] != victim.as_str() && pod_ready(p))
                .then_some(())
        },
    );
}

/// Whether a Deployment's rollout of its current generation is complete.
fn rolled_out(deployment: &Value) -> bool {
    let (spec, status) = (&deployment["spec"], &deployment["status"]);
    status["observedGeneration"] == deployment["metadata"]["generation"]
        && status["updatedReplicas"] == spec["replicas"]
        && status["availableReplicas"] == spec["replicas"]
        && status["replicas"] == spec["replicas"]
}

/// Changes `consumer.batchSize`, which rolls the consumer Deployment, and waits for the rollout of
/// a template that carries the new size.
pub fn change_the_batch_size(namespace: &str, pipeline: &str, batch_size: u32) {
    let cluster = cluster();
    let deployment = format!("{pipeline}-consumer");
    let before = cluster.json(&["deployment", "-n", namespace, &deployment]);
    let patch = json!({"spec": {"consumer": {"batchSize": batch_size}}}).to_string();
    cluster.kubectl_ok(&[
        "-n",
        namespace,
        "patch",
        "eventpipeline",
        pipeline,
        "--type",
        "merge",
        "-p",
        &patch,
    ]);
    wait_for(
        "the consumer Deployment rolled out with the new batch size",
        Duration::from_secs(180),
        || {
            let now = cluster.json(&["deployment", "-n", namespace, &deployment]);
            let newer =
                now["metadata"]["generation"].as_i64() > before["metadata"]["generation"].as_i64();
            let env = now["spec"]["template"]["spec"]["containers"][0]["env"].as_array()?;
            let sized = env.iter().any(|e| {
                e["name"] == eventflow_contract::BATCH_SIZE
                    && e["value"].as_str() == Some(&*batch_size.to_string())
            });
            (newer && sized && rolled_out(&now)).then_some(())
        },
    );
}

/// Ready addresses of a Service (its `EndpointSlices`).
fn ready_endpoints(namespace: &str, service: &str) -> usize {
    let slices = cluster().json(&[
        "endpointslices",
        "-n",
        namespace,
        "-l",
        &format!("kubernetes.io/service-name={service}"),
    ]);
    slices["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|slice| slice["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"] == true)
        .count()
}

/// The host PID of a pod's one container (crictl on the node's containerd).
fn container_pid(pod: &str) -> String {
    let cluster = cluster();
    let ids = cluster.crictl_ok(&[
        "ps",
        "--quiet",
        "--label",
        &format!("io.kubernetes.pod.name={pod}"),
    ]);
    let id = ids
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no running container in pod {pod}"));
    let inspected: Value =
        serde_json::from_str(&cluster.crictl_ok(&["inspect", id])).expect("crictl inspect");
    inspected["info"]["pid"].to_string()
}

/// SIGSTOPs the producer process inside its pod: its failing readiness probe takes it out of the
/// Service's endpoints; after SIGCONT it comes back.
pub fn stop_and_continue_the_producer(namespace: &str, pipeline: &str) {
    let cluster = cluster();
    let service = format!("{pipeline}-producer");
    let pods = cluster.pods(namespace, &selector(pipeline, "producer"));
    assert_eq!(pods.len(), 1, "one producer pod");
    let pid = container_pid(pods[0]["metadata"]["name"].as_str().expect("pod name"));
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {name} {pid}");
    };
    assert_eq!(
        ready_endpoints(namespace, &service),
        1,
        "the producer is an endpoint"
    );
    signal("-STOP");
    wait_for(
        "the stopped producer to leave the endpoints",
        Duration::from_secs(90),
        || (ready_endpoints(namespace, &service) == 0).then_some(()),
    );
    signal("-CONT");
    wait_for(
        "the producer back in the endpoints",
        Duration::from_secs(90),
        || (ready_endpoints(namespace, &service) == 1).then_some(()),
    );
}

/// No Secret value (the bearer token of examples/transactions.yaml, the MongoDB URI) appears in
/// any pod's log, any Event or any pipeline's status.
pub fn no_secret_value_is_shown(secrets: &[&str], namespaces: &[&str]) {
    let cluster = cluster();
    let mut shown = Vec::new();
    for namespace in namespaces {
        let pods = cluster.json(&[
            "pods",
            "-n",
            namespace,
            "--field-selector=status.phase=Running",
        ]);
        for pod in pods["items"].as_array().into_iter().flatten() {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let log = cluster.kubectl_ok(&["-n", namespace, "logs", name, "--all-containers"]);
            assert!(!log.is_empty(), "{namespace}/{name} logged nothing");
            shown.push((format!("logs of {namespace}/{name}"), log));
        }
        let events = cluster.kubectl_ok(&["-n", namespace, "get", "events", "-o", "json"]);
        shown.push((format!("Events of {namespace}"), events));
        let pipelines =
            cluster.kubectl_ok(&["-n", namespace, "get", "eventpipelines", "-o", "json"]);
        shown.push((format!("pipelines of {namespace}"), pipelines));
    }
    for (what, text) in &shown {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{what} shows the Secret value {secret:?}"
            );
        }
    }
}

/// `helm upgrade` to a new tag of the same images: the operator rolls, then every pipeline's
/// producer and consumer Deployments roll to the new workload image.
pub fn helm_upgrade_rolls_everything(release: &str, system: &str, namespace: &str) {
    let cluster = cluster();
    let tag = format!("{}-upgrade", cluster.tag);
    for image in ["eventflow-operator", "eventflow"] {
        cluster.podman_ok(&[
            "tag",
            &format!("{image}:{}", cluster.tag),
            &format!("{image}:{tag}"),
        ]);
    }
    cluster.load_images(&[
        &format!("eventflow-operator:{tag}"),
        &format!("eventflow:{tag}"),
    ]);
    cluster.helm_ok(&[
        "upgrade",
        release,
        &format!("{REPO}/charts/eventflow"),
        "--namespace",
        system,
        "--reuse-values",
        "--set",
        &format!("operator.image.tag={tag}"),
        "--set",
        &format!("workload.image.tag={tag}"),
        "--wait",
        "--timeout",
        "5m",
    ]);
    let wanted = format!("eventflow:{tag}");
    wait_for(
        "every pipeline's Deployments rolled out with the new workload image",
        Duration::from_secs(300),
        || {
            let list = cluster.json(&[
                "deployments",
                "-n",
                namespace,
                "-l",
                "app.kubernetes.io/name=eventflow",
            ]);
            let deployments = list["items"].as_array()?.clone();
            let done = !deployments.is_empty()
                && deployments.iter().all(|d| {
                    let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
                        .as_str()
                        .unwrap_or_default();
                    image.ends_with(&wanted) && rolled_out(d)
                });
            done.then_some(())
        },
    );
}
