//! A MongoDB outage: the consumer keeps its batch, reports not-ready, commits nothing, and
//! writes everything once MongoDB is back.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use mongodb::{Client, bson::doc};

use crate::support::{
    ConsumerProcess, Spec, collection, committed, create_topics, events, free_port, ids, name,
    produce, producer, wait_committed_at_end, wait_for_count,
};

/// A dedicated in-memory MongoDB stand-in on a fixed port.
struct Mongo {
    child: Child,
}

fn nx_binary() -> PathBuf {
    let home = std::env::var("HOME").unwrap();
    PathBuf::from(home).join(".cache/eventflow/tools/nx-27017-0.8.1/bin/nx-27017")
}

impl Mongo {
    async fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new(nx_binary())
            .args([
                "--db",
                "memory",
                "--host",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .arg("--log-file")
            .arg(dir.join("nx.log"))
            .arg("--pid-file")
            .arg(dir.join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nx-27017 installed by scripts/dev-services.sh");
        let client = Client::with_uri_str(uri(port)).await.unwrap();
        let start = Instant::now();
        while client
            .database("admin")
            .run_command(doc! {"ping": 1})
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "nx-27017 did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self { child }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A failing test must not leave its server running.
impl Drop for Mongo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            drop(self.child.kill());
            drop(self.child.wait());
        }
    }
}

fn uri(port: u16) -> String {
    format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=2000")
}

#[tokio::test]
async fn a_mongodb_outage_pauses_commits_nothing_and_resumes_with_every_event() {
    let dir = std::env::temp_dir().join(name("outage"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mongo = Mongo::start(port, &dir).await;
    let topic = name("outage");
    let table = name("outage");
    create_topics(&topic, 2).await;
    let mut spec = Spec::new(&topic, &table);
    spec.mongodb_uri = uri(port);
    spec.batch_size = 20;
    spec.batch_timeout = "200ms";
    // Two writes in flight: a failure must also take back the write behind it.
    spec.extra = vec!["--max-writes-in-flight".into(), "2".into()];
    let consumer = ConsumerProcess::spawn(&spec);
    consumer.wait_ready(Duration::from_secs(60)).await;

    let producer = producer();
    produce(&producer, &topic, &events("before", 0..100)).await;
    let before = collection(&spec.mongodb_uri, &table).await;
    wait_for_count(&before, 100, Duration::from_secs(60)).await;
    wait_committed_at_end(&spec.group, &topic, 2, Duration::from_secs(30)).await;
    let committed_before = committed(&spec.group, &topic, 2);

    mongo.stop();
    produce(&producer, &topic, &events("during", 0..200)).await;
    let start = Instant::now();
    while consumer.readyz().await != 503 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still ready without MongoDB"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..10 {
        assert_eq!(
            committed(&spec.group, &topic, 2),
            committed_before,
            "committed during the outage"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(consumer.metric("eventflow_consumer_paused", "").await, 1);
    assert!(
        consumer
            .metric("eventflow_consumer_write_retries_total", "")
            .await
            >= 1
    );

    // The stand-in is in memory: the restarted server starts empty, so it must receive exactly
    // the events of the outage (the ones before were committed and are not read again).
    let mongo = Mongo::start(port, &dir).await;
    let after = collection(&spec.mongodb_uri, &table).await;
    wait_for_count(&after, 200, Duration::from_secs(90)).await;
    wait_committed_at_end(&spec.group, &topic, 2, Duration::from_secs(30)).await;
    let expected: BTreeSet<String> = (0..200).map(|i| format!("during-{i}")).collect();
    assert_eq!(ids(&after).await, expected);
    consumer.wait_ready(Duration::from_secs(20)).await;
    assert_eq!(consumer.metric("eventflow_consumer_paused", "").await, 0);
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
    mongo.stop();
}
