//! The tests' own view of the dev Kafka (rdkafka, not the operator's code): what the broker has.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use futures::executor::block_on;
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewPartitions, ResourceSpecifier},
    client::DefaultClientContext,
    consumer::{BaseConsumer, CommitMode, Consumer},
    producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer},
};

use crate::support::env;

const TIMEOUT: Duration = Duration::from_secs(10);

fn config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &env().kafka);
    config
}

fn admin() -> AdminClient<DefaultClientContext> {
    config().create().unwrap()
}

fn metadata_consumer() -> BaseConsumer {
    config().create().unwrap()
}

/// Partitions of `topic`, `None` when the broker does not have it.
pub fn partitions(topic: &str) -> Option<usize> {
    let metadata = metadata_consumer()
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap();
    let topic = metadata.topics().first()?;
    topic.error().is_none().then(|| topic.partitions().len())
}

/// The topic's configs as the broker describes them (every key, defaults included).
pub fn topic_config(topic: &str) -> BTreeMap<String, String> {
    let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let results =
        block_on(admin().describe_configs(&[ResourceSpecifier::Topic(topic)], &options)).unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource
        .entries
        .into_iter()
        .filter_map(|entry| Some((entry.name, entry.value?)))
        .collect()
}

/// Produces `count` small messages to `topic`, waiting until the broker acknowledged them.
pub fn produce(topic: &str, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        config().set("linger.ms", "5").create().unwrap();
    for i in 0..count {
        let key = format!("key-{i}");
        let record = BaseRecord::to(topic).key(&key).payload("{}");
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(TIMEOUT).unwrap();
}

/// Produces one message with `payload` as it is (e.g. one no consumer can decode).
pub fn produce_raw(topic: &str, payload: &[u8]) {
    let producer: ThreadedProducer<DefaultProducerContext> = config().create().unwrap();
    let record = BaseRecord::<str, [u8]>::to(topic)
        .key("raw")
        .payload(payload);
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.flush(TIMEOUT).unwrap();
}

/// Commits the end of every partition of `topic` for `group`: the group has no lag left.
pub fn commit_to_end(group: &str, topic: &str) {
    let consumer: BaseConsumer = config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let count = partitions(topic).unwrap();
    let mut offsets = TopicPartitionList::new();
    for partition in 0..i32::try_from(count).unwrap() {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, TIMEOUT)
            .unwrap();
        offsets
            .add_partition_offset(topic, partition, Offset::Offset(high))
            .unwrap();
    }
    consumer.commit(&offsets, CommitMode::Sync).unwrap();
}

/// Messages in `topic`: the sum of its partitions' high watermarks.
pub fn messages(topic: &str) -> i64 {
    let consumer = metadata_consumer();
    let count = i32::try_from(partitions(topic).unwrap()).unwrap();
    (0..count)
        .map(|partition| {
            consumer
                .fetch_watermarks(topic, partition, TIMEOUT)
                .unwrap()
                .1
        })
        .sum()
}

/// Whether the broker knows consumer group `group`.
pub fn group_exists(group: &str) -> bool {
    let groups = metadata_consumer()
        .fetch_group_list(Some(group), TIMEOUT)
        .unwrap();
    groups
        .groups()
        .iter()
        .any(|g| g.name() == group && g.state() != "Dead")
}

/// Deletes `topic` behind the operator's back.
pub fn delete(topic: &str) {
    let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
    for result in block_on(admin().delete_topics(&[topic], &options)).unwrap() {
        result.unwrap();
    }
}

/// Grows `topic` to `partitions` behind the operator's back.
pub fn grow(topic: &str, partitions: usize) {
    let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let results =
        block_on(admin().create_partitions(&[NewPartitions::new(topic, partitions)], &options))
            .unwrap();
    for result in results {
        result.unwrap();
    }
}

/// Members of a consumer group on a topic, each polling on its own thread until dropped (they
/// then leave the group).
pub struct Members {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// `count` members of `group` subscribed to `topic` (cooperative-sticky, as the consumers).
pub fn join(group: &str, topic: &str, count: usize) -> Members {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..count)
        .map(|_| {
            let consumer: BaseConsumer = config()
                .set("group.id", group)
                .set("partition.assignment.strategy", "cooperative-sticky")
                .set("enable.auto.commit", "false")
                .create()
                .unwrap();
            consumer.subscribe(&[topic]).unwrap();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = consumer.poll(Duration::from_millis(100));
                }
                consumer.unsubscribe();
            })
        })
        .collect();
    Members { stop, threads }
}

impl Drop for Members {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
