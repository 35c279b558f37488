//! The whole pipeline in the real-node cluster that `make bench` starts (kubelet, containerd, the
//! images `make images` built, Kafka and FerretDB as pods): `helm install` to the operator Ready,
//! `kubectl apply` of the posts pipeline to its first event stored, then the local runtime's load
//! through the producer's Service (kube-proxy): Service → producer pod → Kafka pod → consumer pod
//! → MongoDB pod. Goal: at least 0.8 of the local runtime's requests/s.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use eventflow_workloads::{
    loadgen::{Summary, Workload},
    testkit::unique_name,
};
use serde_json::Value;

use super::{
    load_plan, met_or_not,
    whole_pipeline::{CONNECTIONS, RUN, drained, posts_pipeline},
};

const RELEASE: &str = "eventflow-bench";
const SYSTEM: &str = "eventflow-bench";
/// Where deploy/kind's `mongodb` Secret is, which examples/posts.yaml names.
const NAMESPACE: &str = "default";

/// kubectl and helm against the real-node cluster.
struct Cluster {
    dir: PathBuf,
    tag: String,
}

impl Cluster {
    fn from_env() -> Option<Self> {
        Some(Self {
            dir: std::env::var_os("EVENTFLOW_REAL_NODE_DIR")?.into(),
            tag: std::env::var("EVENTFLOW_IMAGE_TAG").ok()?,
        })
    }

    /// `program args`, which must succeed; its stdout.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let output = Command::new(program)
            .args(args)
            .env("KUBECONFIG", self.dir.join("admin.kubeconfig"))
            .env("EVENTFLOW_CLUSTER_DIR", &self.dir)
            .env("TAG", &self.tag)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.run("kubectl", &[&["get"], args, &["-o", "json"]].concat());
        serde_json::from_str(&text).expect("kubectl JSON")
    }

    /// `host:port` of a Service's cluster IP.
    fn service(&self, namespace: &str, name: &str, port: u16) -> String {
        let service = self.json(&["service", "-n", namespace, name]);
        let ip = service["spec"]["clusterIP"].as_str().expect("clusterIP");
        format!("{ip}:{port}")
    }
}

/// Runs the case against the local runtime's steady `local` figures and prints both.
pub async fn run(local: &Summary) {
    let Some(cluster) = Cluster::from_env() else {
        println!(
            "in-cluster pipeline: not run (needs the real-node cluster that `make bench` starts)"
        );
        return;
    };
    let started = Instant::now();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dev-cluster.sh");
    cluster.run(script, &["chart", RELEASE, SYSTEM]);
    let installed = started.elapsed();

    let name = unique_name("bench-posts");
    let file = cluster.dir.join(format!("{name}.yaml"));
    std::fs::write(&file, posts_pipeline(&name)).expect("pipeline file");
    let applied = Instant::now();
    cluster.run(
        "kubectl",
        &["apply", "-n", NAMESPACE, "-f", file.to_str().expect("path")],
    );
    let producer = wait_for_producer(&cluster, &name).await;
    let mongodb = format!(
        "mongodb://{}/?directConnection=true",
        cluster.service("mongodb", "mongodb", 27017)
    );
    drained(&mongodb, &name, 1).await;
    let first_stored = applied.elapsed();

    let steady = load_plan(&producer, CONNECTIONS, Workload::Posts, Some(RUN), None).await;
    let drain = drained(&mongodb, &name, steady.events_accepted + 1).await;
    let ratio = steady.requests_per_s / local.requests_per_s;
    println!(
        "in-cluster pipeline (real node: Service → producer pod → Kafka pod → consumer pod → MongoDB pod), image tag {}:",
        cluster.tag
    );
    println!(
        "  helm install → operator Ready {:.1} s; kubectl apply → first event stored {:.1} s",
        installed.as_secs_f64(),
        first_stored.as_secs_f64()
    );
    println!(
        "  single posts, {CONNECTIONS} connections, {} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, non-202 {}; all stored {:.1} s after the load ended",
        RUN.as_secs(),
        steady.requests_per_s,
        steady.latency.p50_ms,
        steady.latency.p99_ms,
        steady.latency.max_ms,
        steady.requests - steady.statuses.get("202").copied().unwrap_or(0),
        drain.as_secs_f64()
    );
    println!(
        "  against the local runtime: {ratio:.2} × its {:.0} requests/s (goal ≥ 0.8: {}), p99 {:.2} ms against {:.2} ms",
        local.requests_per_s,
        met_or_not(ratio >= 0.8),
        steady.latency.p99_ms,
        local.latency.p99_ms
    );
    cluster.run(
        "kubectl",
        &["delete", "eventpipeline", "-n", NAMESPACE, &name],
    );
    cluster.run(
        "helm",
        &["uninstall", RELEASE, "--namespace", SYSTEM, "--wait"],
    );
}

/// Posts one event until the pipeline's producer accepts it (its Service exists and a pod is
/// ready); the producer's URL.
async fn wait_for_producer(cluster: &Cluster, name: &str) -> String {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let event = Workload::Posts.body(&mut rand::rng(), 1, false);
    loop {
        let service = format!("{name}-producer");
        let services = cluster.run(
            "kubectl",
            &["get", "services", "-n", NAMESPACE, "-o", "name"],
        );
        if services.contains(&format!("service/{service}")) {
            let url = format!("http://{}", cluster.service(NAMESPACE, &service, 8080));
            let answer = client
                .post(format!("{url}/v1/events"))
                .json(&event)
                .send()
                .await;
            if answer.is_ok_and(|a| a.status() == 202) {
                return url;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the in-cluster producer accepted nothing within 300 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
