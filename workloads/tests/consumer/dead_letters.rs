//! A dead-letter write that fails holds back the whole batch's commit.

use std::time::{Duration, Instant};

use crate::support::{
    ConsumerProcess, Outgoing, Spec, collection, committed, create_topic, events, name, produce,
    producer, wait_committed_at_end, wait_for_count,
};

#[tokio::test]
async fn a_batch_whose_poison_cannot_be_dead_lettered_is_not_committed_until_it_can() {
    let topic = name("dlqfail");
    let table = name("dlqfail");
    // No `<topic>.dlq` yet: the broker does not create topics, so dead-lettering fails.
    create_topic(&topic, 1).await;
    let mut input = events("ok", 0..10);
    input.push(Outgoing {
        key: "poison".into(),
        value: b"{not json".to_vec(),
        headers: Vec::new(),
    });
    produce(&producer(), &topic, &input).await;
    let spec = Spec::new(&topic, &table);
    let consumer = ConsumerProcess::spawn(&spec);

    let collection = collection(&spec.mongodb_uri, &table).await;
    wait_for_count(&collection, 10, Duration::from_secs(60)).await;
    let start = Instant::now();
    while consumer
        .metric("eventflow_consumer_write_retries_total", "")
        .await
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the DLQ write never failed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        consumer.readyz().await,
        503,
        "not ready while the batch cannot be handled"
    );
    assert_eq!(
        committed(&spec.group, &topic, 1),
        [-1],
        "the valid events of the batch are in MongoDB, but the batch is not committed"
    );

    create_topic(&format!("{topic}.dlq"), 1).await;
    wait_committed_at_end(&spec.group, &topic, 1, Duration::from_secs(60)).await;
    assert_eq!(
        consumer
            .metric("eventflow_consumer_events_dead_lettered_total", "not_json")
            .await,
        1
    );
    consumer.wait_ready(Duration::from_secs(20)).await;
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
}
