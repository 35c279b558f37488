//! The topic module against the dev broker (Apache Kafka, `scripts/dev-services.sh`): create,
//! adopt, config change read back from the broker, refusals, partition growth, delete.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use eventflow_operator::kafka::{
    KafkaAdmin, KafkaConnection,
    topic::{self, DesiredTopic, GroupDeletion, TopicChange, TopicRefusal},
};
use eventflow_workloads::testkit::{DevServices, unique_name};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    admin::{ConfigSource, ResourceSpecifier},
    consumer::{BaseConsumer, CommitMode, Consumer},
};

fn bootstrap() -> String {
    DevServices::from_env()
        .expect("dev services")
        .kafka_bootstrap
}

fn admin() -> Arc<KafkaAdmin> {
    let connection = KafkaConnection::plain(bootstrap());
    Arc::new(KafkaAdmin::connect(&connection, Duration::from_secs(10)).unwrap())
}

fn desired(name: &str, partitions: u32) -> DesiredTopic {
    DesiredTopic {
        name: name.to_owned(),
        partitions,
        replication_factor: 1,
        config: BTreeMap::from([("retention.ms".to_owned(), "604800000".to_owned())]),
    }
}

/// The topic's config overrides as the broker reports them (`DescribeConfigs`).
async fn overrides(admin: &KafkaAdmin, name: &str) -> BTreeMap<String, String> {
    let results = admin
        .client()
        .describe_configs([&ResourceSpecifier::Topic(name)], &admin.options())
        .await
        .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource
        .entries
        .into_iter()
        .filter(|entry| entry.source == ConfigSource::DynamicTopic)
        .map(|entry| (entry.name, entry.value.unwrap_or_default()))
        .collect()
}

/// The partition count once the broker's metadata shows `want` (it applies the controller's
/// records asynchronously), or the last count seen after 5 s.
async fn partitions_on_broker(admin: &Arc<KafkaAdmin>, name: &str, want: u32) -> u32 {
    let mut seen = 0;
    for _ in 0..50 {
        seen = topic::describe(admin, name)
            .await
            .unwrap()
            .unwrap()
            .partitions;
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test]
async fn missing_topic_is_created_with_partitions_and_config_and_then_left_alone() {
    let admin = admin();
    let want = desired(&unique_name("topic-create"), 3);
    let first = topic::ensure(&admin, &want).await.unwrap();
    assert_eq!(first.changes, vec![TopicChange::Created]);
    assert!(!first.existed);
    let observed = topic::describe(&admin, &want.name).await.unwrap().unwrap();
    assert_eq!((observed.partitions, observed.replication_factor), (3, 1));
    assert_eq!(overrides(&admin, &want.name).await, want.config);
    let second = topic::ensure(&admin, &want).await.unwrap();
    assert!(second.existed);
    assert_eq!(second.changes, Vec::new(), "a settled topic is not touched");
    assert_eq!(second.refusal, None);
}

#[tokio::test]
async fn existing_topic_is_adopted_and_its_config_brought_to_the_spec() {
    let admin = admin();
    let mut want = desired(&unique_name("topic-adopt"), 2);
    want.config
        .insert("cleanup.policy".to_owned(), "compact".to_owned());
    topic::ensure(&admin, &want).await.unwrap();

    // retention.ms changes, cleanup.policy leaves the spec: the override must go.
    want.config = BTreeMap::from([("retention.ms".to_owned(), "3600000".to_owned())]);
    let report = topic::ensure(&admin, &want).await.unwrap();
    assert!(report.existed, "{report:?}");
    assert_eq!(report.refusal, None);
    let keys = vec!["retention.ms".to_owned(), "cleanup.policy".to_owned()];
    assert_eq!(report.changes, vec![TopicChange::ConfigUpdated(keys)]);
    assert_eq!(overrides(&admin, &want.name).await, want.config);
    let again = topic::ensure(&admin, &want).await.unwrap();
    assert_eq!(again.changes, Vec::new(), "config now matches: {again:?}");
}

#[tokio::test]
async fn an_invalid_config_value_is_refused_and_the_old_config_kept() {
    let admin = admin();
    let want = desired(&unique_name("topic-badconfig"), 1);
    topic::ensure(&admin, &want).await.unwrap();
    let mut bad = want.clone();
    bad.config
        .insert("retention.ms".to_owned(), "a week".to_owned());
    let report = topic::ensure(&admin, &bad).await.unwrap();
    let Some(refusal @ TopicRefusal::ConfigRejected { keys, .. }) = &report.refusal else {
        panic!("expected ConfigRejected, got {report:?}")
    };
    assert_eq!(keys, &vec!["retention.ms".to_owned()]);
    assert_eq!(refusal.reason(), "ConfigRejected");
    assert_eq!(report.changes, Vec::new());
    assert_eq!(overrides(&admin, &want.name).await, want.config);
}

#[tokio::test]
async fn partition_decrease_and_replication_change_are_refused_touching_nothing() {
    let admin = admin();
    let want = desired(&unique_name("topic-refuse"), 3);
    topic::ensure(&admin, &want).await.unwrap();
    let fewer = DesiredTopic {
        partitions: 1,
        ..want.clone()
    };
    let report = topic::ensure(&admin, &fewer).await.unwrap();
    assert_eq!(
        report.refusal,
        Some(TopicRefusal::PartitionDecrease {
            current: 3,
            desired: 1
        })
    );
    assert_eq!(report.partitions, 3);
    let replicated = DesiredTopic {
        replication_factor: 3,
        ..want.clone()
    };
    let report = topic::ensure(&admin, &replicated).await.unwrap();
    assert_eq!(
        report.refusal,
        Some(TopicRefusal::ReplicationFactorChange {
            current: 1,
            desired: 3
        })
    );
    assert_eq!(partitions_on_broker(&admin, &want.name, 3).await, 3);
}

#[tokio::test]
async fn growing_partitions_adds_them_on_the_broker() {
    let admin = admin();
    let want = desired(&unique_name("topic-grow"), 1);
    topic::ensure(&admin, &want).await.unwrap();
    let more = DesiredTopic {
        partitions: 4,
        ..want.clone()
    };
    let report = topic::ensure(&admin, &more).await.unwrap();
    assert_eq!(report.refusal, None);
    assert_eq!(
        report.changes,
        vec![TopicChange::PartitionsGrown { from: 1, to: 4 }]
    );
    assert_eq!(report.partitions, 4);
    assert_eq!(partitions_on_broker(&admin, &want.name, 4).await, 4);
}

/// A consumer group with a committed offset on `topic`.
fn group_with_offsets(topic: &str) -> String {
    let group = unique_name("topic-group");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .create()
        .unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(topic, 0, Offset::Offset(0))
        .unwrap();
    consumer.commit(&offsets, CommitMode::Sync).unwrap();
    group
}

#[tokio::test]
async fn delete_removes_the_topic_and_its_group_and_tolerates_missing_ones() {
    let admin = admin();
    let want = desired(&unique_name("topic-delete"), 1);
    topic::ensure(&admin, &want).await.unwrap();
    let group = group_with_offsets(&want.name);
    assert_eq!(
        topic::delete_group(&admin, &group).await.unwrap(),
        GroupDeletion::Deleted
    );
    assert_eq!(
        topic::delete_group(&admin, &group).await.unwrap(),
        GroupDeletion::NotFound
    );
    assert!(topic::delete(&admin, &want.name).await.unwrap());
    assert_eq!(topic::describe(&admin, &want.name).await.unwrap(), None);
    assert!(!topic::delete(&admin, &want.name).await.unwrap());
}
