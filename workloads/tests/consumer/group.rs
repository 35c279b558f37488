//! Two consumers share the partitions; one leaves; the other takes over with nothing lost.

use std::{collections::BTreeSet, time::Duration};

use crate::support::{
    ConsumerProcess, Spec, collection, create_topics, events, ids, name, produce, producer,
    wait_committed_at_end, wait_for_count,
};

async fn assigned(consumer: &ConsumerProcess) -> i64 {
    consumer
        .metric("eventflow_consumer_assigned_partitions", "")
        .await
}

async fn consumed(consumer: &ConsumerProcess) -> i64 {
    consumer
        .metric("eventflow_consumer_events_consumed_total", "")
        .await
}

#[tokio::test]
async fn when_one_of_two_consumers_leaves_the_other_takes_over_with_nothing_lost() {
    let topic = name("group");
    let table = name("group");
    create_topics(&topic, 4).await;
    let mut spec = Spec::new(&topic, &table);
    // Batches stay pending (size not reached, long timeout) so leaving must flush them.
    spec.batch_size = 1000;
    spec.batch_timeout = "4s";
    let first = ConsumerProcess::spawn(&spec);
    let second = ConsumerProcess::spawn(&spec);
    first.wait_ready(Duration::from_secs(60)).await;
    second.wait_ready(Duration::from_secs(60)).await;
    let start = std::time::Instant::now();
    while assigned(&first).await == 0 || assigned(&second).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the partitions were not shared"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let producer = producer();
    produce(&producer, &topic, &events("a", 0..200)).await;
    // Both hold pending batches (read, not written) when the first leaves.
    let start = std::time::Instant::now();
    while consumed(&first).await + consumed(&second).await < 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the events were not read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(consumed(&first).await > 0 && consumed(&second).await > 0);
    let status = first.terminate(Duration::from_secs(40)).await;
    assert!(
        status.success(),
        "the leaving consumer exits 0, got {status}"
    );
    produce(&producer, &topic, &events("b", 0..200)).await;

    let collection = collection(&spec.mongodb_uri, &table).await;
    wait_for_count(&collection, 400, Duration::from_secs(90)).await;
    wait_committed_at_end(&spec.group, &topic, 4, Duration::from_secs(30)).await;
    assert_eq!(assigned(&second).await, 4);
    let expected: BTreeSet<String> = ["a", "b"]
        .iter()
        .flat_map(|p| (0..200).map(move |i| format!("{p}-{i}")))
        .collect();
    assert_eq!(ids(&collection).await, expected);
    assert!(second.terminate(Duration::from_secs(30)).await.success());
}
