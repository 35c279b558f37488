//! A broker dead for a minute under the operator: it logs one line when the pipeline's Kafka
//! starts failing, at most one summary per `SUMMARY_EVERY`, the retries' lines at the backoff's
//! pace, and one line when Kafka works again, however often librdkafka reconnects meanwhile.

use std::time::Duration;

use eventflow_contract::outage::SUMMARY_EVERY;
use eventflow_workloads::testkit::{PrivateServices, Service};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use crate::support::{CONVERGE, Watched, apply, example, is_ready, wait_for, wait_pipeline};

/// How long the broker stays dead.
const OUTAGE: Duration = Duration::from_secs(60);

/// Warnings and errors the operator may log over the outage: the outage log's first line and
/// summaries, and one "reconcile failed" per retry (the tests' backoff: 1 s, doubling, so at most
/// 7 in a minute, and the pipeline's reconciles that were already due).
fn bound() -> usize {
    let summaries = usize::try_from(OUTAGE.as_secs() / SUMMARY_EVERY.as_secs()).unwrap();
    1 + summaries + 7 + 4
}

/// Waits until a fresh broker's group coordinator answers: until then it answers offset
/// fetches with `NOT_COORDINATOR`, on which librdkafka 2.12's admin client (the operator's lag
/// measurement) crashes.
fn wait_for_the_group_coordinator(bootstrap: &str) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "quiet-warm-up")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset("quiet-warm-up", 0, Offset::Invalid)
        .unwrap();
    wait_for("the group coordinator", CONVERGE, || {
        consumer
            .committed_offsets(partitions.clone(), Duration::from_secs(5))
            .ok()
    });
}

#[test]
fn a_broker_dead_for_a_minute_costs_the_operator_a_few_log_lines() {
    let _cluster = crate::support::shared();
    let services = PrivateServices::start().expect("private dev services");
    wait_for_the_group_coordinator(&services.addresses.kafka_bootstrap);
    let watched = Watched::new("quiet");
    let ns = &watched.ns.0;
    let mut pipeline = example("quickstart.yaml", ns).remove(0);
    pipeline["spec"]["kafka"]["bootstrapServers"] =
        services.addresses.kafka_bootstrap.clone().into();
    apply(&[pipeline]);
    wait_pipeline(ns, "quickstart", "Ready", CONVERGE, is_ready);
    let log = crate::support::operator_log(ns);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let before = read().lines().count();

    services.kill(Service::Kafka).unwrap();
    std::thread::sleep(OUTAGE);
    services.revive().unwrap();
    let since = wait_for(
        "the operator's line that Kafka works again",
        CONVERGE,
        || {
            let since: Vec<String> = read().lines().skip(before).map(str::to_owned).collect();
            since
                .iter()
                .any(|l| l.contains("works again"))
                .then_some(since)
        },
    );
    let loud: Vec<&String> = since
        .iter()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect();
    let shown = loud
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!(
        "{} warnings and errors over the outage:\n{shown}",
        loud.len()
    );
    let count = |words: &str| since.iter().filter(|line| line.contains(words)).count();
    assert_eq!(count("is failing"), 1, "{shown}");
    assert_eq!(count("works again"), 1, "{shown}");
    assert!(loud.len() <= bound(), "over {}:\n{shown}", bound());
}
