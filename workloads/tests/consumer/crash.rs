//! Crash safety: SIGKILL at random points, restart, exactly the produced events.

use std::{collections::BTreeSet, time::Duration};

use rand::Rng;

use crate::support::{
    ConsumerProcess, Spec, collection, committed, create_topics, end_offsets, events, ids, name,
    produce, producer, wait_committed_at_end, wait_for_count,
};

const ROUNDS: usize = 4;
const PER_ROUND: usize = 150;
const SESSION_TIMEOUT: Duration = Duration::from_secs(7);

#[tokio::test]
async fn sigkill_at_random_points_then_restart_loses_and_doubles_nothing() {
    let topic = name("crash");
    let table = name("crash");
    create_topics(&topic, 3).await;
    let mut spec = Spec::new(&topic, &table);
    spec.batch_size = 25;
    spec.batch_timeout = "200ms";
    let producer = producer();
    let mut killed_behind = 0;
    for round in 0..ROUNDS {
        let consumer = ConsumerProcess::spawn(&spec);
        consumer.wait_ready(Duration::from_secs(60)).await;
        // Produce while the consumer works, and kill it at a random point of that.
        let batch = events(&format!("r{round}"), 0..PER_ROUND);
        let (producer, topic_name) = (producer.clone(), topic.clone());
        let producing = tokio::spawn(async move { produce(&producer, &topic_name, &batch).await });
        let pause = rand::rng().random_range(200..2500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        consumer.kill();
        producing.await.unwrap();
        if committed(&spec.group, &topic, 3) != end_offsets(&topic, 3) {
            killed_behind += 1;
        }
        // Let the group notice the dead member (session.timeout.ms is 6 s in the tests).
        tokio::time::sleep(SESSION_TIMEOUT).await;
    }
    println!("{killed_behind} of {ROUNDS} kills left uncommitted events behind");

    let consumer = ConsumerProcess::spawn(&spec);
    let collection = collection(&spec.mongodb_uri, &table).await;
    let total = ROUNDS * PER_ROUND;
    wait_for_count(&collection, total as u64, Duration::from_secs(120)).await;
    wait_committed_at_end(&spec.group, &topic, 3, Duration::from_secs(60)).await;
    let expected: BTreeSet<String> = (0..ROUNDS)
        .flat_map(|round| (0..PER_ROUND).map(move |i| format!("r{round}-{i}")))
        .collect();
    assert_eq!(ids(&collection).await, expected);
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
}
