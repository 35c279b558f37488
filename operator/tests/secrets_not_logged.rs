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

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use eventflow_workloads::testkit::{self, CaForm, DevServices, SecuredKafka, unique_name};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
    time::Instant,
};

const BEARER_TOKEN: &str = "b34r3r-s3cr3t-XYZ";
const MONGODB_PASSWORD: &str = "m0ng0-s3cr3t-XYZ";

fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_eventflow-operator")).with_file_name(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

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

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
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

/// A local runtime at debug level over secret inputs, and everything it printed so far.
struct Run {
    dir: PathBuf,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdout: String,
    url: String,
}

impl Run {
    /// Writes the secret inputs under a fresh directory and starts the runtime on them, with
    /// Kafka on the secured listener.
    fn start(services: &DevServices, secured: &SecuredKafka) -> Self {
        let name = unique_name("secrets");
        let dir = std::env::temp_dir().join(&name);
        let secrets = dir.join("secrets");
        let kafka_properties = secrets.join("kafka");
        std::fs::create_dir_all(&kafka_properties).unwrap();
        // One file per key, as a mounted Secret: the CA is the `ssl.ca.pem` key's PEM.
        for (key, value) in secured.properties(secured.password(), CaForm::Pem).unwrap() {
            std::fs::write(kafka_properties.join(key), value).unwrap();
        }
        std::fs::write(secrets.join("tokens"), format!("{BEARER_TOKEN}\n")).unwrap();
        std::fs::write(secrets.join("pipeline.yaml"), pipeline_yaml(&name)).unwrap();
        let http_port = testkit::free_port().unwrap();
        let mut child = Command::new(binary("eventflow-operator"))
            .env("RUST_LOG", "debug")
            .arg("local")
            .arg("-f")
            .arg(secrets.join("pipeline.yaml"))
            .arg("--json")
            .args(["--kafka-bootstrap", &secured.bootstrap])
            .args(["--mongodb-uri", &uri_with_password(&services.mongodb_uri)])
            .arg("--kafka-properties-file")
            .arg(&kafka_properties)
            .arg("--auth-tokens-file")
            .arg(secrets.join("tokens"))
            .args(["--http-port", &http_port.to_string()])
            .args(["--metrics-port", &testkit::free_port().unwrap().to_string()])
            .arg("--workload-bin")
            .arg(binary("eventflow"))
            .arg("--run-dir")
            .arg(dir.join("run"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            dir,
            child,
            lines,
            stdout: String::new(),
            url: format!("http://127.0.0.1:{http_port}/v1/events"),
        }
    }

    /// The next status line, recorded.
    async fn next_status(&mut self, deadline: Instant) -> Value {
        let line = tokio::time::timeout_at(deadline, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("deadline passed; status lines:\n{}", self.stdout))
            .unwrap()
            .unwrap_or_else(|| {
                let stderr = std::fs::read_to_string(self.dir.join("stderr.log"));
                panic!("the runtime exited: {}", stderr.unwrap_or_default())
            });
        self.stdout.push_str(&line);
        self.stdout.push('\n');
        serde_json::from_str(&line).unwrap_or(Value::Null)
    }

    /// Sends an event with the token once a consumer runs, until it is accepted; waits until
    /// it is stored (written over the URI with the password) and read back with the token;
    /// a wrong token is refused.
    async fn exercise(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        let event = serde_json::json!({"type": "signup", "subject": "u1", "data": {}});
        loop {
            if self.next_status(deadline).await["consumers"].as_u64() < Some(1) {
                continue;
            }
            let answer = client
                .post(&self.url)
                .bearer_auth(BEARER_TOKEN)
                .json(&event);
            if answer
                .send()
                .await
                .is_ok_and(|a| a.status() == StatusCode::ACCEPTED)
            {
                break;
            }
        }
        loop {
            let query = client.get(format!("{}?type=signup", self.url));
            let page: Value = query
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
            .post(&self.url)
            .bearer_auth(format!("{BEARER_TOKEN}-wrong"));
        let refused = wrong.json(&event).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }

    /// SIGTERM; every output (status lines, stderr, each process's log) once it exited 0.
    async fn stop(mut self) -> Vec<(String, String)> {
        let pid = Pid::from_raw(i32::try_from(self.child.id().unwrap()).unwrap());
        kill(pid, Signal::SIGTERM).unwrap();
        while let Ok(Some(line)) = self.lines.next_line().await {
            self.stdout.push_str(&line);
            self.stdout.push('\n');
        }
        let exit = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the local runtime exits after SIGTERM")
            .unwrap();
        assert!(exit.success(), "local runtime exited with {exit}");
        let mut outputs = vec![("status lines".to_owned(), std::mem::take(&mut self.stdout))];
        for path in files(&self.dir.join("run"))
            .into_iter()
            .chain([self.dir.join("stderr.log")])
        {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            outputs.push((path.display().to_string(), text));
        }
        std::fs::remove_dir_all(&self.dir).unwrap();
        outputs
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_a_log_or_a_status_line_at_debug_level() {
    let secured = SecuredKafka::from_env().expect("the dev services' SASL_SSL listener");
    let mut run = Run::start(&DevServices::from_env().expect("dev services"), &secured);
    run.exercise().await;
    let outputs = run.stop().await;

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
