//! The topic module against the dev broker (`scripts/dev-services.sh`): create, adopt, config
//! change, refusals, the `CreatePartitions` gap, delete.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use eventflow_operator::kafka::{
    KafkaAdmin, KafkaConnection,
    topic::{self, DesiredTopic, GroupDeletion, TopicChange, TopicRefusal},
};
use eventflow_workloads::testkit::{DevServices, unique_name};

/// tansu 0.6.0 (SQLite) loses topics created while another topic is deleted, so the tests of
/// this file take turns on the broker.
static BROKER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn admin() -> Arc<KafkaAdmin> {
    let services = DevServices::from_env().expect("dev services");
    let connection = KafkaConnection::plain(services.kafka_bootstrap);
    Arc::new(KafkaAdmin::connect(&connection, Duration::from_secs(10)).unwrap())
}

/// Waits until the broker's metadata shows the topic (tansu may answer a create before a
/// concurrent metadata request sees it).
async fn created(admin: &Arc<KafkaAdmin>, want: &DesiredTopic) {
    topic::ensure(admin, want).await.unwrap();
    for _ in 0..100 {
        if topic::describe(admin, &want.name).await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("topic {} never showed up in the metadata", want.name);
}

fn desired(name: &str, partitions: u32) -> DesiredTopic {
    DesiredTopic {
        name: name.to_owned(),
        partitions,
        replication_factor: 1,
        config: BTreeMap::from([("retention.ms".to_owned(), "604800000".to_owned())]),
    }
}

#[tokio::test]
async fn missing_topic_is_created_with_partitions_and_then_left_alone() {
    let _turn = BROKER.lock().await;
    let admin = admin();
    let want = desired(&unique_name("topic-create"), 3);
    let first = topic::ensure(&admin, &want).await.unwrap();
    assert_eq!(first.changes, vec![TopicChange::Created]);
    assert!(!first.existed);
    let observed = topic::describe(&admin, &want.name).await.unwrap().unwrap();
    assert_eq!(observed.partitions, 3);
    assert_eq!(observed.replication_factor, 1);
    let second = topic::ensure(&admin, &want).await.unwrap();
    assert!(second.existed);
    assert_eq!(second.changes, Vec::new(), "a settled topic is not touched");
    assert_eq!(second.refusal, None);
}

#[tokio::test]
async fn existing_topic_is_adopted_and_its_config_brought_to_the_spec() {
    let _turn = BROKER.lock().await;
    let admin = admin();
    let mut want = desired(&unique_name("topic-adopt"), 2);
    want.config.clear();
    created(&admin, &want).await;
    want.config
        .insert("retention.ms".to_owned(), "3600000".to_owned());
    let report = topic::ensure(&admin, &want).await.unwrap();
    assert!(report.existed, "{report:?}");
    assert_eq!(report.partitions, 2);
    let keys = vec!["retention.ms".to_owned()];
    match &report.refusal {
        // A real broker takes the change, and the next pass finds nothing to do.
        None => {
            assert_eq!(report.changes, vec![TopicChange::ConfigUpdated(keys)]);
            let again = topic::ensure(&admin, &want).await.unwrap();
            assert_eq!(again.changes, Vec::new(), "config now matches: {again:?}");
        }
        // tansu 0.6.0 answers AlterConfigs with "unsupported feature": reported, not an error.
        Some(refusal) => {
            assert!(
                matches!(refusal, TopicRefusal::ConfigUpdateUnsupported { keys: k, .. } if *k == keys)
            );
            assert_eq!(refusal.reason(), "ConfigUpdateUnsupported");
            assert_eq!(report.changes, Vec::new());
        }
    }
}

#[tokio::test]
async fn partition_decrease_and_replication_change_are_refused_touching_nothing() {
    let _turn = BROKER.lock().await;
    let admin = admin();
    let want = desired(&unique_name("topic-refuse"), 3);
    created(&admin, &want).await;
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
    assert_eq!(
        topic::describe(&admin, &want.name)
            .await
            .unwrap()
            .unwrap()
            .partitions,
        3
    );
}

#[tokio::test]
async fn growing_partitions_either_grows_or_reports_the_broker_gap() {
    // tansu 0.6.0 has no CreatePartitions: the refusal must say so; a real broker grows.
    let _turn = BROKER.lock().await;
    let admin = admin();
    let want = desired(&unique_name("topic-grow"), 1);
    created(&admin, &want).await;
    let more = DesiredTopic {
        partitions: 4,
        ..want.clone()
    };
    let report = topic::ensure(&admin, &more).await.unwrap();
    match &report.refusal {
        None => {
            assert_eq!(
                report.changes,
                vec![TopicChange::PartitionsGrown { from: 1, to: 4 }]
            );
            assert_eq!(
                topic::describe(&admin, &want.name)
                    .await
                    .unwrap()
                    .unwrap()
                    .partitions,
                4
            );
        }
        Some(refusal) => {
            assert!(matches!(
                refusal,
                TopicRefusal::PartitionGrowthUnsupported {
                    current: 1,
                    desired: 4,
                    ..
                }
            ));
            assert_eq!(refusal.reason(), "PartitionGrowthUnsupported");
            assert!(
                refusal.message(&want.name).contains("cannot grow"),
                "{}",
                refusal.message(&want.name)
            );
            assert_eq!(report.partitions, 1);
        }
    }
}

#[tokio::test]
async fn delete_removes_the_topic_and_tolerates_a_missing_one() {
    let _turn = BROKER.lock().await;
    let admin = admin();
    let want = desired(&unique_name("topic-delete"), 1);
    created(&admin, &want).await;
    assert!(topic::delete(&admin, &want.name).await.unwrap());
    assert_eq!(topic::describe(&admin, &want.name).await.unwrap(), None);
    assert!(!topic::delete(&admin, &want.name).await.unwrap());
    let group = topic::delete_group(&admin, &unique_name("group"))
        .await
        .unwrap();
    assert_ne!(
        group,
        GroupDeletion::Deleted,
        "an unknown group cannot have been deleted"
    );
}
