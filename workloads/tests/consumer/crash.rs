//! Crash safety: each round's consumer is killed (SIGKILL) after it wrote every event it read into
//! MongoDB and before it committed any offset (the commit interval outlasts the round, so the
//! kill lands there for certain, and the test asserts it did); the next consumer reads all of
//! it again. Exactly once is counted per delivery: across all consumers, the events inserted
//! are exactly the events produced (a second insert of an event would count twice), and every
//! redelivery was a duplicate no-op.

use std::{collections::BTreeSet, time::Duration};

use crate::support::{
    ConsumerProcess, Spec, collection, committed, create_topics, end_offsets, events, ids, name,
    produce, producer, wait_committed_at_end, wait_for_count,
};

const ROUNDS: usize = 3;
const PER_ROUND: usize = 150;
const PARTITIONS: i32 = 3;
const WRITTEN: &str = "eventflow_consumer_events_written_total";
const DUPLICATES: &str = "eventflow_consumer_events_duplicate_total";

/// Waits until the consumer has inserted `inserted` events and found `duplicates` redelivered
/// ones already stored (or more); returns both counts.
async fn settled(consumer: &ConsumerProcess, inserted: i64, duplicates: i64) -> (i64, i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let figures = (
            consumer.metric(WRITTEN, "").await,
            consumer.metric(DUPLICATES, "").await,
        );
        if figures.0 >= inserted && figures.1 >= duplicates {
            return figures;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "settled {figures:?} of {:?}; log:\n{}",
            (inserted, duplicates),
            consumer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigkill_between_write_and_commit_then_restart_loses_and_doubles_nothing() {
    let topic = name("crash");
    let table = name("crash");
    create_topics(&topic, PARTITIONS).await;
    let mut spec = Spec::new(&topic, &table);
    spec.batch_size = 25;
    spec.batch_timeout = "200ms";
    spec.extra = vec!["--commit-interval".into(), "60m".into()];
    let producer = producer();
    let mut inserted = 0;
    for round in 0..ROUNDS {
        let consumer = ConsumerProcess::spawn(&spec);
        consumer.wait_ready(Duration::from_secs(60)).await;
        produce(
            &producer,
            &topic,
            &events(&format!("r{round}"), 0..PER_ROUND),
        )
        .await;
        let per_round = i64::try_from(PER_ROUND).unwrap();
        // Earlier rounds' events come again (nothing committed) and are duplicates; only this
        // round's are inserted, each once.
        let (written, _) = settled(&consumer, per_round, 0).await;
        assert_eq!(written, per_round);
        let behind = committed(&spec.group, &topic, PARTITIONS);
        consumer.kill();
        let end = end_offsets(&topic, PARTITIONS);
        assert!(
            behind.iter().zip(&end).all(|(c, e)| c < e),
            "the kill must land behind uncommitted writes: committed {behind:?}, end {end:?}"
        );
        inserted += written;
    }

    spec.extra.clear();
    let total = ROUNDS * PER_ROUND;
    // The last consumer reads again everything after the committed offsets: all duplicates.
    let uncommitted: i64 = end_offsets(&topic, PARTITIONS)
        .iter()
        .zip(committed(&spec.group, &topic, PARTITIONS))
        .map(|(end, committed)| end - committed.max(0))
        .sum();
    assert!(uncommitted > 0, "every kill left uncommitted events behind");
    let consumer = ConsumerProcess::spawn(&spec);
    consumer.wait_ready(Duration::from_secs(60)).await;
    let (written, duplicates) = settled(&consumer, 0, uncommitted).await;
    assert_eq!((written, duplicates), (0, uncommitted));
    assert_eq!(inserted + written, i64::try_from(total).unwrap());
    let collection = collection(&spec.mongodb_uri, &table).await;
    wait_for_count(&collection, total as u64, Duration::from_secs(30)).await;
    wait_committed_at_end(&spec.group, &topic, PARTITIONS, Duration::from_secs(60)).await;
    let expected: BTreeSet<String> = (0..ROUNDS)
        .flat_map(|round| (0..PER_ROUND).map(move |i| format!("r{round}-{i}")))
        .collect();
    assert_eq!(ids(&collection).await, expected);
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
}
