//! A broker dead for a minute under a producer and a consumer: each process logs one line when
//! Kafka starts failing, at most one summary per `SUMMARY_EVERY`, and one line when it works
//! again (`eventflow_contract::outage`), however often librdkafka retries meanwhile.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eventflow_contract::outage::SUMMARY_EVERY;
use eventflow_workloads::testkit::{Service, free_port};

use crate::{consume::Consuming, support::name};

/// How long the broker stays dead.
const OUTAGE: Duration = Duration::from_secs(60);

/// Lines a process may log from the broker's death to its return: the outage log's first line,
/// its summaries and its last line, and the process's own state changes (readiness, the group
/// rebalancing when the broker is back).
fn bound() -> usize {
    let summaries = usize::try_from(OUTAGE.as_secs() / SUMMARY_EVERY.as_secs()).unwrap();
    2 + summaries + 6
}

/// An `eventflow producer` logging into a file, killed when dropped.
struct Producer {
    child: Child,
    log: PathBuf,
    admin: String,
}

impl Producer {
    fn spawn(bootstrap: &str, mongodb_uri: &str, topic: &str) -> Self {
        let (http, admin) = (free_port().unwrap(), free_port().unwrap());
        let log = std::env::temp_dir().join(format!("{}.log", name("producer")));
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eventflow"))
            .args(["producer", "--topic", topic, "--bind-address", "127.0.0.1"])
            .args(["--http-port", &http.to_string()])
            .args(["--admin-port", &admin.to_string()])
            .args(["--kafka-bootstrap", bootstrap, "--mongodb-uri", mongodb_uri])
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .spawn()
            .unwrap();
        Self {
            child,
            log,
            admin: format!("http://127.0.0.1:{admin}/readyz"),
        }
    }

    async fn wait_ready(&self) {
        super::wait_until_ready(&self.admin).await;
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until the log after line `from` says Kafka works again; those lines.
async fn until_recovered(what: &str, log: &Path, from: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let since: Vec<String> = lines(log).split_off(from);
        if since.iter().any(|line| line.contains("works again")) {
            return since;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the {what} never logged that Kafka works again:\n{}",
            since.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_broker_dead_for_a_minute_costs_each_workload_a_few_log_lines() {
    let run = Consuming::start("quiet", &[]).await;
    let spec = &run.spec;
    let producer = Producer::spawn(&spec.kafka_bootstrap, &spec.mongodb_uri, &spec.topic);
    producer.wait_ready().await;
    let logs = [
        ("consumer", run.consumer.log.clone()),
        ("producer", producer.log.clone()),
    ];
    let before: Vec<usize> = logs.iter().map(|(_, log)| lines(log).len()).collect();

    run.services.kill(Service::Kafka).unwrap();
    tokio::time::sleep(OUTAGE).await;
    run.services.revive().unwrap();

    for ((what, log), from) in logs.iter().zip(before) {
        let since = until_recovered(what, log, from).await;
        let shown = since.join("\n");
        eprintln!("{what}: {} lines over the outage:\n{shown}", since.len());
        let count = |words: &str| since.iter().filter(|line| line.contains(words)).count();
        assert_eq!(count("is failing"), 1, "{what}:\n{shown}");
        assert_eq!(count("works again"), 1, "{what}:\n{shown}");
        assert!(since.len() <= bound(), "{what}: over {}:\n{shown}", bound());
    }
}
