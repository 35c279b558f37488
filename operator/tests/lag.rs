//! Lag measurement against the dev broker: the figures are exact, partitions without a commit
//! follow the reset policy, and one client per connection serves every group.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

use std::{sync::Arc, time::Duration};

use eventflow_operator::{
    kafka::{
        KafkaAdmin, KafkaConnection,
        lag::{LagError, LagReader, LagTarget},
    },
    scaling::{OffsetReset, assignment::Assignment},
};
use eventflow_workloads::testkit::{self, DevServices, unique_name};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn bootstrap() -> String {
    DevServices::from_env()
        .expect("dev services")
        .kafka_bootstrap
}

fn config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

async fn create_topic(bootstrap: &str, partitions: i32) -> String {
    let topic = unique_name("lag");
    testkit::create_topic(bootstrap, &topic, partitions)
        .await
        .expect("topic created");
    topic
}

/// Produces `count` records to each of `partitions`.
async fn produce(bootstrap: &str, topic: &str, partitions: &[i32], count: usize) {
    let producer: FutureProducer = config(bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    for &partition in partitions {
        for i in 0..count {
            let payload = format!("{{\"n\":{i}}}");
            let record = FutureRecord::<str, str>::to(topic)
                .payload(&payload)
                .partition(partition);
            producer.send(record, TIMEOUT).await.expect("acknowledged");
        }
    }
}

/// Consumes `total` records of `topic` as `group`, then commits the given next offsets.
async fn consume_and_commit(
    bootstrap: &str,
    topic: &str,
    group: &str,
    total: usize,
    commits: &[(i32, i64)],
) {
    let consumer: StreamConsumer = config(bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    for _ in 0..total {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("a record within 30 s")
            .unwrap();
        assert_eq!(message.topic(), topic);
    }
    let mut list = TopicPartitionList::new();
    for &(partition, offset) in commits {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .unwrap();
    }
    consumer.commit(&list, CommitMode::Sync).unwrap();
}

/// The connection's one client, as the operator's cache holds it.
fn client(bootstrap: &str, timeout: Duration) -> Arc<KafkaAdmin> {
    Arc::new(KafkaAdmin::connect(&KafkaConnection::plain(bootstrap), timeout).unwrap())
}

fn target(topic: &str, group: &str, offset_reset: OffsetReset) -> LagTarget {
    LagTarget {
        group_id: group.to_owned(),
        topic: topic.to_owned(),
        offset_reset,
    }
}

/// Per partition: (partition, high watermark, committed, lag).
fn figures(sample: &eventflow_operator::scaling::LagSample) -> Vec<(i32, i64, Option<i64>, u64)> {
    sample
        .per_partition
        .iter()
        .map(|p| (p.partition, p.high_watermark, p.committed, p.lag))
        .collect()
}

#[tokio::test]
async fn lag_is_produced_minus_committed_and_uncommitted_partitions_follow_the_reset_policy() {
    let bootstrap = bootstrap();
    let topic = create_topic(&bootstrap, 3).await;
    produce(&bootstrap, &topic, &[0, 1, 2], 10).await;
    let group = unique_name("lag-group");
    // Partition 0 committed at 4 (6 left), partition 1 fully read, partition 2 never committed.
    consume_and_commit(&bootstrap, &topic, &group, 30, &[(0, 4), (1, 10)]).await;
    let reader = LagReader::default();

    let earliest = reader
        .measure(
            &client(&bootstrap, TIMEOUT),
            &target(&topic, &group, OffsetReset::Earliest),
        )
        .await
        .unwrap();
    assert_eq!(
        figures(&earliest),
        vec![(0, 10, Some(4), 6), (1, 10, Some(10), 0), (2, 10, None, 10)]
    );
    assert_eq!((earliest.total, earliest.partitions_with_lag), (16, 2));

    let latest = reader
        .measure(
            &client(&bootstrap, TIMEOUT),
            &target(&topic, &group, OffsetReset::Latest),
        )
        .await
        .unwrap();
    assert_eq!((latest.total, latest.partitions_with_lag), (6, 1));
    assert_eq!(latest.per_partition[2].lag, 0);
}

#[tokio::test]
async fn lag_follows_new_records_and_new_commits() {
    let bootstrap = bootstrap();
    let topic = create_topic(&bootstrap, 1).await;
    let group = unique_name("lag-group");
    let lag_target = target(&topic, &group, OffsetReset::Earliest);
    let (reader, client) = (LagReader::default(), client(&bootstrap, TIMEOUT));
    produce(&bootstrap, &topic, &[0], 7).await;
    consume_and_commit(&bootstrap, &topic, &group, 7, &[(0, 5)]).await;
    assert_eq!(reader.measure(&client, &lag_target).await.unwrap().total, 2);

    produce(&bootstrap, &topic, &[0], 4).await;
    assert_eq!(reader.measure(&client, &lag_target).await.unwrap().total, 6);
}

#[tokio::test]
async fn empty_topic_without_commits_has_zero_lag() {
    let bootstrap = bootstrap();
    let topic = create_topic(&bootstrap, 2).await;
    let group = unique_name("lag-group");
    let sample = LagReader::default()
        .measure(
            &client(&bootstrap, TIMEOUT),
            &target(&topic, &group, OffsetReset::Earliest),
        )
        .await
        .unwrap();
    assert_eq!(figures(&sample), vec![(0, 0, None, 0), (1, 0, None, 0)]);
    assert_eq!((sample.total, sample.partitions_with_lag), (0, 0));
}

#[tokio::test]
async fn missing_topic_is_a_typed_error() {
    let bootstrap = bootstrap();
    let topic = unique_name("lag-missing");
    let error = LagReader::default()
        .measure(
            &client(&bootstrap, TIMEOUT),
            &target(&topic, "g", OffsetReset::Earliest),
        )
        .await
        .expect_err("no such topic");
    assert!(
        matches!(error, LagError::TopicMissing { .. }),
        "unexpected error: {error}"
    );
}

#[tokio::test]
async fn one_client_measures_every_group_whatever_its_group_id() {
    let bootstrap = bootstrap();
    let topic = create_topic(&bootstrap, 1).await;
    produce(&bootstrap, &topic, &[0], 9).await;
    let (first, second) = (unique_name("lag-group"), unique_name("lag-group"));
    consume_and_commit(&bootstrap, &topic, &first, 9, &[(0, 3)]).await;
    consume_and_commit(&bootstrap, &topic, &second, 9, &[(0, 8)]).await;
    let (reader, client) = (LagReader::default(), client(&bootstrap, TIMEOUT));
    let mut lags = Vec::new();
    for group in [&first, &second, &first] {
        let sample = reader
            .measure(&client, &target(&topic, group, OffsetReset::Earliest))
            .await
            .unwrap();
        lags.push(figures(&sample));
    }
    assert_eq!(
        lags,
        vec![
            vec![(0, 9, Some(3), 6)],
            vec![(0, 9, Some(8), 1)],
            vec![(0, 9, Some(3), 6)]
        ]
    );
}

#[tokio::test]
async fn unreachable_broker_fails_within_the_timeout() {
    // Port 9 (discard) on loopback: nothing answers.
    let timeout = Duration::from_millis(500);
    let (reader, client) = (LagReader::new(timeout), client("127.0.0.1:9", timeout));
    let lag_target = target("t", "g", OffsetReset::Earliest);
    let measured = tokio::time::timeout(
        Duration::from_secs(10),
        reader.measure(&client, &lag_target),
    )
    .await
    .expect("bounded by the reader's timeout");
    assert!(
        matches!(measured, Err(LagError::Metadata { .. })),
        "{measured:?}"
    );
}

#[tokio::test]
async fn the_sample_says_who_holds_the_partitions_once_the_group_settles() {
    let bootstrap = bootstrap();
    let topic = create_topic(&bootstrap, 2).await;
    let group = unique_name("lag-group");
    let (reader, client) = (LagReader::default(), client(&bootstrap, TIMEOUT));
    let lag_target = target(&topic, &group, OffsetReset::Earliest);
    let held = || async {
        reader
            .measure(&client, &lag_target)
            .await
            .unwrap()
            .assignment
    };
    assert_eq!(
        held().await,
        Some(Assignment::default()),
        "a group nobody joined holds nothing"
    );
    // Three members for two partitions: one holds none.
    let members: Vec<_> = (0..3)
        .map(|_| {
            let consumer: StreamConsumer = config(&bootstrap)
                .set("group.id", &group)
                .set("partition.assignment.strategy", "cooperative-sticky")
                .create()
                .unwrap();
            consumer.subscribe(&[&topic]).unwrap();
            tokio::spawn(async move {
                loop {
                    let _ = consumer.recv().await;
                }
            })
        })
        .collect();
    let expected = Assignment {
        assigned_partitions: 2,
        consumers_holding_none: 1,
        working_consumers: 2,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while last != Some(expected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the settled group not reported within 60 s; last {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = held().await;
    }
    for member in members {
        member.abort();
    }
}
