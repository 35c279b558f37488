//! The producer's HTTP contract, fuzzed: a real producer (with a pipeline schema, allowed types
//! and bearer auth) and a consumer on the dev services, and schemathesis generating requests
//! from the document the producer serves — positive and negative data, every phase including
//! the stateful one (links) — checking that no answer is a 5xx, every answer conforms to the
//! document, and nothing the document refuses is accepted.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{self, DevServices, unique_name};
use producer_support::{create_topic, temp_file};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_eventflow");
const TOKEN: &str = "contract-test-token";
/// Test cases per operation and phase: bounds the run (about a minute on 2 cores).
const MAX_EXAMPLES: &str = "40";

/// A child process, killed when the test ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    testkit::free_port().expect("free port")
}

/// The pipeline's `data` schema: a local `$ref` too, so the served document must rebase it.
fn data_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["title", "content"],
        "properties": {
            "title": {"$ref": "#/$defs/title"},
            "content": {"type": "string", "minLength": 10, "maxLength": 1000},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}
        },
        "$defs": {"title": {"type": "string", "minLength": 2, "maxLength": 100}}
    })
}

async fn wait_ready(admin_port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("http://127.0.0.1:{admin_port}/readyz");
    while !reqwest::get(&url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "{what} not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `eventflow producer` or `eventflow consumer` with the common flags; returns its admin port.
fn spawn(
    workload: &str,
    services: &DevServices,
    common: &[&str],
    extra: &[&str],
) -> (Process, u16) {
    let admin = free_port();
    let child = Command::new(BINARY)
        .arg(workload)
        .args(["--kafka-bootstrap", &services.kafka_bootstrap])
        .args(["--mongodb-uri", &services.mongodb_uri])
        .args([
            "--bind-address",
            "127.0.0.1",
            "--admin-port",
            &admin.to_string(),
        ])
        .args(common)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{workload} process: {e}"));
    (Process(child), admin)
}

/// The `st` command of the pinned schemathesis (installed by `scripts/schemathesis.sh`, which
/// `make test` runs first). Fails the test, never skips it, when it cannot be had.
fn schemathesis() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/schemathesis.sh");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        output.status.success(),
        "schemathesis is not installed and could not be: {} failed",
        script.display()
    );
    String::from_utf8(output.stdout)
        .expect("a UTF-8 path")
        .trim()
        .to_owned()
}

/// The producer's answered API requests so far (its `/metrics`): all of them, and the 5xx.
async fn requests_answered(admin_port: u16) -> (f64, f64) {
    let text = reqwest::get(format!("http://127.0.0.1:{admin_port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let count =
        |labels| testkit::metric_sum(&text, "eventflow_producer_http_requests_total", labels);
    (count(""), count("status=\"5"))
}

/// Posts a few valid events and waits until the consumer stored them, so that the read path
/// answers real pages (with a cursor) to the fuzzer.
async fn seed(api: &str) {
    let client = reqwest::Client::new();
    let events: Vec<Value> = (0..5)
        .map(|i| {
            json!({"type": "post.created", "subject": format!("user-{i}"),
                   "data": {"title": format!("post {i}"), "content": "long enough content"}})
        })
        .collect();
    let response = client
        .post(format!("{api}/v1/events"))
        .bearer_auth(TOKEN)
        .json(&events)
        .send()
        .await
        .expect("seed post");
    assert_eq!(response.status(), 202, "{:?}", response.text().await);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page: Value = client
            .get(format!("{api}/v1/events?limit=2"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("page");
        if page["nextCursor"].is_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "seeded events not stored within 30 s: {page}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn schemathesis_finds_no_5xx_no_nonconforming_answer_and_nothing_wrongly_accepted() {
    let st = schemathesis();
    let services = DevServices::from_env().expect("dev services");
    let topic = unique_name("contract");
    create_topic(&services.kafka_bootstrap, &topic, 2).await;
    let schema = temp_file("contract-schema.json", &data_schema().to_string());
    let tokens = temp_file("contract-tokens", &format!("{TOKEN}\n"));
    let collection = unique_name("contract");
    let schema_path = schema.to_str().expect("path");
    let common = [
        "--topic",
        &topic,
        "--mongodb-collection",
        &collection,
        "--schema-file",
        schema_path,
        "--allowed-types",
        "post.created,post.deleted",
        "--pipeline",
        "contract",
    ];
    let http = free_port();
    let (_producer, producer_admin) = spawn(
        "producer",
        &services,
        &common,
        &[
            "--http-port",
            &http.to_string(),
            "--auth-tokens-file",
            tokens.to_str().expect("path"),
            "--max-events-per-request",
            "20",
        ],
    );
    let group = unique_name("contract");
    let (_consumer, consumer_admin) = spawn(
        "consumer",
        &services,
        &common,
        &["--group-id", &group, "--batch-timeout", "200ms"],
    );
    wait_ready(producer_admin, "producer").await;
    wait_ready(consumer_admin, "consumer").await;
    let api = format!("http://127.0.0.1:{http}");
    seed(&api).await;

    let document: Value = reqwest::get(format!("{api}/openapi.json"))
        .await
        .expect("document")
        .json()
        .await
        .expect("JSON document");
    let data = &document["components"]["schemas"]["EventData"];
    assert_eq!(data["required"], json!(["title", "content"]), "{data}");
    assert_eq!(
        data["properties"]["title"]["$ref"],
        "#/components/schemas/EventData/$defs/title"
    );
    assert_eq!(
        document["components"]["schemas"]["IncomingEvent"]["properties"]["type"]["enum"],
        json!(["post.created", "post.deleted"])
    );

    let before = requests_answered(producer_admin).await;
    let started = Instant::now();
    let output = tokio::process::Command::new(&st)
        // Its cache (`.schemathesis/`) goes to the temporary directory, not the checkout.
        .current_dir(std::env::temp_dir())
        .arg("--config-file")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml"))
        .args(["run", &format!("{api}/openapi.json")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth"])
        // Positive and negative cases (`--mode all`) from the examples, fuzzing and stateful
        // phases. Not the coverage phase: in schemathesis 4.32.5 it intermittently fails inside
        // its own generator (Hypothesis `FlakyFailure`, a `KeyError` in its lambda cache) on this
        // document, a tool error reported like a finding (seen in `make test`, 2026-11-30).
        .args(["--mode", "all", "--phases", "examples,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", "15", "--workers", "2"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--generation-database", "none", "--no-color", "--request-timeout", "20"])
        .output()
        .await
        .expect("schemathesis run");
    let after = requests_answered(producer_admin).await;
    let (tried, server_errors) = (after.0 - before.0, after.1 - before.1);
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}{}", String::from_utf8_lossy(&output.stderr));
    println!(
        "schemathesis: {tried} requests tried against the producer in {:.0} s, {server_errors} answered 5xx",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "schemathesis found contract violations (report above)"
    );
    assert!(
        server_errors == 0.0,
        "{server_errors} requests answered 5xx"
    );
    assert!(tried >= 200.0, "too few requests tried: {tried}");
}
