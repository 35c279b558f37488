//! Helpers of the consumer tests: topics, producing events, MongoDB reads, offsets, and the
//! `eventflow consumer` process with its admin endpoints.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use eventflow_workloads::{
    event::IncomingEvent,
    testkit::{self, DevServices, metric_sum},
};
use mongodb::{
    Client, Collection,
    bson::{Document, doc},
};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::OwnedHeaders,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::json;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn services() -> DevServices {
    DevServices::from_env().expect("dev services")
}

/// A name usable as a topic, group and MongoDB collection.
pub use eventflow_workloads::testkit::unique_name as name;

pub fn kafka_config() -> ClientConfig {
    Kafka::shared().config()
}

/// Test helpers over one Kafka cluster: the shared dev broker, or a fault test's private one.
#[derive(Debug, Clone)]
pub struct Kafka {
    pub bootstrap: String,
}

impl Kafka {
    pub fn shared() -> Self {
        Self {
            bootstrap: services().kafka_bootstrap,
        }
    }

    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// Creates the topic and its dead-letter topic.
    pub async fn create_topics(&self, topic: &str, partitions: i32) {
        for (name, partitions) in [(topic.to_owned(), partitions), (format!("{topic}.dlq"), 1)] {
            testkit::create_topic(&self.bootstrap, &name, partitions)
                .await
                .expect("topic created");
        }
    }

    pub fn producer(&self) -> FutureProducer {
        self.config()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .unwrap()
    }

    /// Committed offsets of `group` on the topic's partitions (-1 when none).
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = self.config().set("group.id", group).create().unwrap();
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let committed = consumer.committed_offsets(list, TIMEOUT).unwrap();
        (0..partitions)
            .map(
                |p| match committed.find_partition(topic, p).unwrap().offset() {
                    Offset::Offset(offset) => offset,
                    _ => -1,
                },
            )
            .collect()
    }

    /// The high watermark of each partition.
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = self.config().create().unwrap();
        (0..partitions)
            .map(|p| consumer.fetch_watermarks(topic, p, TIMEOUT).unwrap().1)
            .collect()
    }

    /// Waits until `group` committed the end of every partition.
    pub async fn wait_committed_at_end(
        &self,
        group: &str,
        topic: &str,
        partitions: i32,
        limit: Duration,
    ) {
        let start = Instant::now();
        let end = self.end_offsets(topic, partitions);
        loop {
            let now = self.committed(group, topic, partitions);
            if now == end {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "committed {now:?}, end {end:?} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Creates the topic and its dead-letter topic.
pub async fn create_topics(topic: &str, partitions: i32) {
    Kafka::shared().create_topics(topic, partitions).await;
}

/// Creates one topic.
pub async fn create_topic(topic: &str, partitions: i32) {
    let bootstrap = services().kafka_bootstrap;
    eventflow_workloads::testkit::create_topic(&bootstrap, topic, partitions)
        .await
        .expect("topic created");
}

/// The JSON of a valid event.
pub fn event_json(id: &str, kind: &str, user: &str) -> Vec<u8> {
    event_json_with(id, kind, user, &json!({"userId": user}))
}

/// The JSON of a valid event with the given `data`.
pub fn event_json_with(id: &str, kind: &str, user: &str, data: &serde_json::Value) -> Vec<u8> {
    let incoming: IncomingEvent = serde_json::from_value(json!({
        "id": id, "type": kind, "subject": user, "data": data
    }))
    .unwrap();
    incoming.into_event(None, "consumer-test").to_json()
}

/// A message to produce.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub key: String,
    pub value: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Outgoing {
    pub fn event(id: &str, user: &str) -> Self {
        Self {
            key: user.to_owned(),
            value: event_json(id, "LOGIN", user),
            headers: Vec::new(),
        }
    }
}

pub fn producer() -> FutureProducer {
    Kafka::shared().producer()
}

/// Produces the messages one by one, each acknowledged.
pub async fn produce(producer: &FutureProducer, topic: &str, messages: &[Outgoing]) {
    for message in messages {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &message.headers {
            headers = headers.insert(rdkafka::message::Header {
                key,
                value: Some(value),
            });
        }
        let record = FutureRecord::to(topic)
            .key(&message.key)
            .payload(&message.value)
            .headers(headers);
        producer.send(record, TIMEOUT).await.expect("acknowledged");
    }
}

pub fn events(prefix: &str, range: std::ops::Range<usize>) -> Vec<Outgoing> {
    range
        .map(|i| Outgoing::event(&format!("{prefix}-{i}"), &format!("user-{}", i % 7)))
        .collect()
}

pub async fn collection(uri: &str, name: &str) -> Collection<Document> {
    Client::with_uri_str(uri)
        .await
        .unwrap()
        .database("eventflow_consumer_test")
        .collection(name)
}

/// The event ids stored, counted by the event's `id` field (not the unique `_id`), so an event
/// stored twice under two keys fails the test.
pub async fn ids(collection: &Collection<Document>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut twice = BTreeSet::new();
    let mut cursor = collection.find(doc! {}).await.unwrap();
    while cursor.advance().await.unwrap() {
        let id = cursor.current().get_str("id").unwrap().to_owned();
        if !ids.insert(id.clone()) {
            twice.insert(id);
        }
    }
    assert!(twice.is_empty(), "events stored more than once: {twice:?}");
    ids
}

/// Waits until the collection holds `count` documents; fails after `limit`.
pub async fn wait_for_count(collection: &Collection<Document>, count: u64, limit: Duration) {
    let start = Instant::now();
    loop {
        let now = collection.count_documents(doc! {}).await.unwrap_or(0);
        if now >= count {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "only {now} of {count} documents after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Committed offsets of `group` on the topic's partitions (-1 when none).
pub fn committed(group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    Kafka::shared().committed(group, topic, partitions)
}

/// The high watermark of each partition.
pub fn end_offsets(topic: &str, partitions: i32) -> Vec<i64> {
    Kafka::shared().end_offsets(topic, partitions)
}

/// Waits until `group` committed the end of every partition.
pub async fn wait_committed_at_end(group: &str, topic: &str, partitions: i32, limit: Duration) {
    Kafka::shared()
        .wait_committed_at_end(group, topic, partitions, limit)
        .await;
}

/// How a consumer process is started.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kafka_bootstrap: String,
    pub topic: String,
    pub group: String,
    pub collection: String,
    pub mongodb_uri: String,
    pub batch_size: usize,
    pub batch_timeout: &'static str,
    /// librdkafka properties added to the process's properties file.
    pub kafka_properties: Vec<(String, String)>,
    pub extra: Vec<String>,
}

impl Spec {
    pub fn new(topic: &str, collection: &str) -> Self {
        Self {
            kafka_bootstrap: services().kafka_bootstrap,
            topic: topic.to_owned(),
            group: format!("{topic}_group"),
            collection: collection.to_owned(),
            mongodb_uri: services().mongodb_uri,
            batch_size: 50,
            batch_timeout: "300ms",
            kafka_properties: Vec::new(),
            extra: Vec::new(),
        }
    }
}

/// A running `eventflow consumer`.
#[derive(Debug)]
pub struct ConsumerProcess {
    pub child: Child,
    pub admin_port: u16,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    testkit::free_port().unwrap()
}

fn properties_file(extra: &[(String, String)]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.properties", name("consumer_props")));
    let lines: Vec<String> = extra
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let text = lines.join("\n") + "\n";
    std::fs::write(&path, text).unwrap();
    path
}

impl ConsumerProcess {
    pub fn spawn(spec: &Spec) -> Self {
        let admin_port = free_port();
        let log = std::env::temp_dir().join(format!("{}.log", name("consumer")));
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eventflow"))
            .arg("consumer")
            .args(["--kafka-bootstrap", &spec.kafka_bootstrap])
            .arg("--kafka-properties-file")
            .arg(properties_file(&spec.kafka_properties))
            .args(["--mongodb-uri", &spec.mongodb_uri])
            .args(["--mongodb-database", "eventflow_consumer_test"])
            .args(["--mongodb-collection", &spec.collection])
            .args(["--topic", &spec.topic, "--group-id", &spec.group])
            .args(["--batch-size", &spec.batch_size.to_string()])
            .args(["--batch-timeout", spec.batch_timeout])
            .args(["--admin-port", &admin_port.to_string()])
            .args(["--bind-address", "127.0.0.1", "--pipeline", "test"])
            .args(["--max-poll-interval", "10s", "--write-timeout", "3s"])
            .args(["--retry-backoff-max", "1s"])
            .args(&spec.extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .spawn()
            .unwrap();
        Self {
            child,
            admin_port,
            log,
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.admin_port);
        let response = reqwest::get(url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// The `/readyz` status code (0 when the admin server does not answer).
    pub async fn readyz(&self) -> u16 {
        self.get("/readyz").await.map_or(0, |(status, _)| status)
    }

    pub async fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while self.readyz().await != 200 {
            assert!(
                start.elapsed() < limit,
                "consumer not ready after {limit:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The whole `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.get("/metrics").await.expect("metrics answer").1
    }

    /// Sum of the samples of metric `name` whose labels contain `labels` (all are integers).
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the metrics read are whole numbers"
    )]
    pub async fn metric(&self, name: &str, labels: &str) -> i64 {
        let (_, text) = self.get("/metrics").await.expect("metrics answer");
        metric_sum(&text, name, labels).round() as i64
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit; fails after `limit`.
    pub async fn terminate(mut self, limit: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                self.child.kill().unwrap();
                panic!(
                    "no exit within {limit:?} of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A failing test must not leave its consumer running.
impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            drop(self.child.kill());
            drop(self.child.wait());
        }
    }
}
