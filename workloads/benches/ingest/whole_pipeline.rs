//! The whole pipeline as a user runs it: `eventflow-operator local` on a copy of
//! examples/posts.yaml (producer, consumer writing to MongoDB, the runtime's lag polling), single
//! posts at 50 connections. Goals: p99 ≤ 50 ms, no request over 1 s, and the first requests
//! after the runtime reports the producer ready as fast as the rest. Then the same pipeline and
//! load in the real-node cluster when there is one (`in_cluster.rs`).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eventflow_workloads::{
    loadgen::{Summary, Workload},
    testkit::{DevServices, unique_name},
};
use mongodb::bson::doc;

use super::{free_port, load_plan, met_or_not};

pub const RUN: Duration = Duration::from_secs(20);
/// Connections of the load, and so requests of the first round (one each).
pub const CONNECTIONS: usize = 50;
/// The database of examples/posts.yaml.
pub const DATABASE: &str = "blog";

/// examples/posts.yaml as pipeline `name`, storing into the collection `name`.
pub fn posts_pipeline(name: &str) -> String {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/posts.yaml");
    std::fs::read_to_string(example)
        .expect("examples/posts.yaml")
        .replace("name: posts", &format!("name: {name}"))
        .replace("collection: posts", &format!("collection: {name}"))
}

/// Waits until the collection holds `count` documents; the time it took.
pub async fn drained(uri: &str, collection: &str, count: u64) -> Duration {
    let started = Instant::now();
    let client = mongodb::Client::with_uri_str(uri).await.expect("client");
    let posts = client
        .database(DATABASE)
        .collection::<mongodb::bson::Document>(collection);
    while posts.count_documents(doc! {}).await.unwrap_or(0) < count {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "posts not stored"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    started.elapsed()
}

/// `eventflow-operator local` on a posts pipeline, stopped when dropped.
struct LocalRuntime {
    child: Child,
    url: String,
    collection: String,
}

impl LocalRuntime {
    fn start(bin_dir: &str, services: &DevServices) -> Self {
        let name = unique_name("bench-posts");
        let file = std::env::temp_dir().join(format!("{name}.yaml"));
        std::fs::write(&file, posts_pipeline(&name)).expect("pipeline file");
        let http_port = free_port();
        let child = Command::new(format!("{bin_dir}/eventflow-operator"))
            .arg("local")
            .arg("-f")
            .arg(&file)
            .arg("--json")
            .args(["--kafka-bootstrap", &services.kafka_bootstrap])
            .args(["--mongodb-uri", &services.mongodb_uri])
            .args(["--http-port", &http_port.to_string()])
            .args(["--metrics-port", &free_port().to_string()])
            .args(["--workload-bin", &format!("{bin_dir}/eventflow")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the release eventflow-operator binary");
        Self {
            child,
            url: format!("http://127.0.0.1:{http_port}"),
            collection: name,
        }
    }

    /// Blocks until a status line reports the producer ready; the time it took. The status
    /// lines are read on until the runtime exits (a closed pipe would end it).
    fn wait_ready(&mut self) -> Duration {
        let started = Instant::now();
        let stdout = self.child.stdout.take().expect("piped stdout");
        let (ready, readiness) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"producerReady\":true") {
                    let _ = ready.send(());
                }
            }
        });
        readiness
            .recv_timeout(Duration::from_secs(120))
            .expect("the local runtime reports its producer ready within 120 s");
        started.elapsed()
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs the case and prints its figures next to the raw single-send p99 of the same run; the
/// steady load's summary, which the in-cluster run is compared with.
pub async fn run(services: &DevServices, raw_p99_ms: f64) -> Option<Summary> {
    let Ok(bin_dir) = std::env::var("EVENTFLOW_BIN_DIR") else {
        println!("whole pipeline: not run (needs the release binaries; run it with `make bench`)");
        return None;
    };
    let mut local = LocalRuntime::start(&bin_dir, services);
    let ready = local.wait_ready();
    let first = load_plan(&local.url, CONNECTIONS, Workload::Posts, None, Some(50)).await;
    let steady = load_plan(&local.url, CONNECTIONS, Workload::Posts, Some(RUN), None).await;
    let stored = first.events_accepted + steady.events_accepted;
    let drain = drained(&services.mongodb_uri, &local.collection, stored).await;
    println!(
        "whole pipeline (eventflow-operator local, posts, consumer writing): producer ready after {:.1} s",
        ready.as_secs_f64()
    );
    report_first(&first, &steady);
    println!(
        "  single posts, {CONNECTIONS} connections, {} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({:.2} × raw single sends' p99 {raw_p99_ms:.2} ms), max {:.1} ms, non-202 {}",
        RUN.as_secs(),
        steady.requests_per_s,
        steady.latency.p50_ms,
        steady.latency.p99_ms,
        steady.latency.p99_ms / raw_p99_ms,
        steady.latency.max_ms,
        steady.requests - steady.statuses.get("202").copied().unwrap_or(0),
    );
    println!(
        "  goals: p99 ≤ 50 ms {}, no request over 1 s {}; all {stored} posts in MongoDB {:.1} s after the load ended",
        met_or_not(steady.latency.p99_ms <= 50.0),
        met_or_not(steady.latency.max_ms <= 1000.0 && first.latency.max_ms <= 1000.0),
        drain.as_secs_f64()
    );
    Some(steady)
}

fn report_first(first: &Summary, steady: &Summary) {
    println!(
        "  first {CONNECTIONS} requests after ready (one per connection): max {:.1} ms, p50 {:.1} ms (steady p99 {:.1} ms): as fast as the rest {}",
        first.latency.max_ms,
        first.latency.p50_ms,
        steady.latency.p99_ms,
        met_or_not(first.latency.max_ms <= steady.latency.max_ms.max(50.0)),
    );
}
