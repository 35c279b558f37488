//! Credentials never reach a log or a status line: the local runtime runs a pipeline on the dev
//! broker's `SASL_SSL` listener (its Kafka properties, a directory laid out like a mounted
//! `kafka.secretRef` Secret, hold the SCRAM password and the CA as `ssl.ca.pem`), whose producer
//! takes a bearer token and whose MongoDB URI holds a password, every process at
//! `RUST_LOG=debug`. The topic set-up, the producer and the consumer all go through the secured
//! listener (an event is stored and read back), and none of the three values appears in the
//! runtime's status lines, its stderr or any process's log file.
//!
//! The scan is proven able to fail in the same test: before the run, it must find each value
//! in a line that holds it.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

#[path = "support/local_run.rs"]
mod local_run;

use std::time::{Duration, Instant};

use eventflow_workloads::testkit::{CaForm, DevServices, SecuredKafka};
use local_run::{LocalRun, Options};
use reqwest::StatusCode;

const BEARER_TOKEN: &str = "b34r3r-s3cr3t-XYZ";
const MONGODB_PASSWORD: &str = "m0ng0-s3cr3t-XYZ";

fn pipeline_yaml(name: &str) -> String {
    format!(
        r"
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {{name: {name}}}
spec:
  kafka: {{bootstrapServers: unused-locally:9092, secretRef: {{name: kafka}}}}
  topic: {{partitions: 1, replicationFactor: 1}}
  producer: {{auth: {{secretRef: {{name: tokens, key: tokens}}}}}}
  consumer: {{replicas: 1, batchSize: 10, batchTimeout: 100ms}}
  sink: {{mongodb: {{uriSecretRef: {{name: mongodb, key: uri}}, database: eventflow_secrets, collection: {name}}}}}
"
    )
}

/// The dev services' MongoDB URI with a user and `MONGODB_PASSWORD` in it (PLAIN: the
/// MongoDB-wire dev server takes it without checking; it refuses SCRAM).
fn uri_with_password(uri: &str) -> String {
    let uri = uri.replacen("mongodb://", &format!("mongodb://u:{MONGODB_PASSWORD}@"), 1);
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}authMechanism=PLAIN&authSource=%24external")
}

/// The three secrets: the SASL password, the bearer token, the MongoDB password.
fn secrets(sasl_password: &str) -> [&str; 3] {
    [sasl_password, BEARER_TOKEN, MONGODB_PASSWORD]
}

/// Each of `secrets` found in `text`, with the line that holds it.
fn leaks<'a>(text: &str, secrets: [&'a str; 3]) -> Vec<(&'a str, String)> {
    secrets
        .into_iter()
        .flat_map(|secret| {
            text.lines()
                .filter(move |line| line.contains(secret))
                .map(move |line| (secret, line.to_owned()))
        })
        .collect()
}

#[test]
fn the_scan_finds_a_printed_secret() {
    let sasl_password = "S4SL-s3cr3t-XYZ";
    let printed = format!(
        "DEBUG connecting uri={}\nINFO fine\ntoken {BEARER_TOKEN}\nsasl.password={sasl_password}",
        uri_with_password("mongodb://127.0.0.1:1/")
    );
    let found: Vec<&str> = leaks(&printed, secrets(sasl_password))
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(found, secrets(sasl_password));
}

/// The runtime at debug level over the secret inputs, with Kafka on the secured listener: a
/// Kafka properties directory laid out as a mounted Secret (one file per key, the CA as the
/// `ssl.ca.pem` key's PEM), a bearer-token file and a MongoDB URI with a password.
fn start(services: &DevServices, secured: &SecuredKafka) -> LocalRun {
    let properties = secured.properties(secured.password(), CaForm::Pem).unwrap();
    let mut files: Vec<(String, String)> = properties
        .into_iter()
        .map(|(key, value)| (format!("secrets/kafka/{key}"), value))
        .collect();
    files.push(("secrets/tokens".to_owned(), format!("{BEARER_TOKEN}\n")));
    let options = Options {
        env: vec![("RUST_LOG", "debug".to_owned())],
        kafka_bootstrap: Some(secured.bootstrap.clone()),
        mongodb_uri: Some(uri_with_password(&services.mongodb_uri)),
        files,
        path_args: vec![
            ("--kafka-properties-file", "secrets/kafka"),
            ("--auth-tokens-file", "secrets/tokens"),
        ],
        stderr_to_file: true,
    };
    LocalRun::start(services, "secrets", pipeline_yaml, &options)
}

/// Sends an event with the token once a consumer runs, until it is accepted; waits until it is
/// stored (written over the URI with the password) and read back with the token; a wrong token
/// is refused.
async fn exercise(local: &mut LocalRun) {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", local.url());
    let limit = Duration::from_secs(90);
    let deadline = Instant::now() + limit;
    let event = serde_json::json!({"type": "signup", "subject": "u1", "data": {}});
    loop {
        local
            .wait_for("a running consumer", limit, |s| {
                s["consumers"].as_u64() >= Some(1)
            })
            .await;
        let answer = client.post(&url).bearer_auth(BEARER_TOKEN).json(&event);
        if answer
            .send()
            .await
            .is_ok_and(|a| a.status() == StatusCode::ACCEPTED)
        {
            break;
        }
    }
    loop {
        let query = client.get(format!("{url}?type=signup"));
        let page: serde_json::Value = query
            .bearer_auth(BEARER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["events"][0]["subject"] == "u1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the event was not stored: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wrong = client
        .post(&url)
        .bearer_auth(format!("{BEARER_TOKEN}-wrong"));
    let refused = wrong.json(&event).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_a_log_or_a_status_line_at_debug_level() {
    let secured = SecuredKafka::from_env().expect("the dev services' SASL_SSL listener");
    let mut local = start(&DevServices::from_env().expect("dev services"), &secured);
    exercise(&mut local).await;
    let outputs = local.stop().await;

    // Every output was read, and the workloads ran at debug level (the producer logs each
    // request at debug; the consumer logs little at debug on a happy run).
    let output = |name: &str| {
        outputs
            .iter()
            .find(|(path, _)| path.ends_with(name))
            .map_or("", |(_, text)| text.as_str())
    };
    assert!(
        output("producer.log").contains("DEBUG")
            && output("consumer-0.log").contains("consuming")
            && output("status lines").contains("\"producerReady\""),
        "outputs: {:?}",
        outputs.iter().map(|(path, _)| path).collect::<Vec<_>>()
    );
    let found: Vec<String> = outputs
        .iter()
        .flat_map(|(path, text)| {
            leaks(text, secrets(secured.password()))
                .into_iter()
                .map(move |(secret, line)| format!("{path}: {secret} in {line}"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "credentials printed:\n{}",
        found.join("\n")
    );
}
