//! The `eventflow producer` process end to end: readiness, ingest driven by `eventflow loadgen`,
//! metrics, and a graceful exit on SIGTERM.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{self, DevServices, unique_name};
use producer_support::create_topic;
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_eventflow");

fn free_port() -> u16 {
    testkit::free_port().expect("free port")
}

/// The producer process, killed if the test ends early.
struct Producer(Child);

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(admin: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = reqwest::get(format!("{admin}/readyz"))
            .await
            .ok()
            .filter(|r| r.status() == 200);
        if ready.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the producer did not become ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_producer_process_serves_loadgen_exposes_metrics_and_exits_on_sigterm() {
    let services = DevServices::from_env().expect("dev services");
    let topic = unique_name("process");
    create_topic(&services.kafka_bootstrap, &topic, 2).await;
    let (http, admin) = (free_port(), free_port());
    let child = Command::new(BINARY)
        .args(["producer", "--topic", &topic, "--bind-address", "127.0.0.1"])
        .args([
            "--http-port",
            &http.to_string(),
            "--admin-port",
            &admin.to_string(),
        ])
        .args([
            "--kafka-bootstrap",
            &services.kafka_bootstrap,
            "--mongodb-uri",
            &services.mongodb_uri,
        ])
        .args(["--mongodb-collection", &unique_name("process")])
        .stdout(Stdio::null())
        .spawn()
        .expect("producer process");
    let mut producer = Producer(child);
    let admin_url = format!("http://127.0.0.1:{admin}");
    wait_ready(&admin_url).await;

    let ids_file = std::env::temp_dir().join(unique_name("ids"));
    let output = tokio::process::Command::new(BINARY)
        .args([
            "loadgen",
            "--url",
            &format!("http://127.0.0.1:{http}"),
            "--count",
            "50",
            "--batch",
            "10",
        ])
        .args([
            "--concurrency",
            "2",
            "--json",
            "--quiet",
            "--ids-file",
            ids_file.to_str().expect("path"),
        ])
        .output()
        .await
        .expect("loadgen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(summary["events_accepted"], 50, "{summary}");
    assert_eq!(summary["statuses"]["202"], 5);
    let ids = std::fs::read_to_string(&ids_file).expect("ids file");
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "50 distinct accepted ids");

    let metrics = reqwest::get(format!("{admin_url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        // The pipeline label is <namespace>/<name>; both default when not given.
        metrics
            .contains("eventflow_producer_events_accepted_total{pipeline=\"default/default\"} 50"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/v1/events\""), "{metrics}");

    let pid = producer.0.id().to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(signalled.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = producer.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the producer did not exit within 20 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
}
