//! The FFI calls without a broker, and the native partition list they send.

use rdkafka::{
    ClientConfig,
    admin::AdminClient,
    client::DefaultClientContext,
    mocking::MockCluster,
    types::{RDKafkaApiKey, RDKafkaRespErr},
};

use super::*;

fn unreachable_client() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9")
        .set("socket.connection.setup.timeout.ms", "1000")
        .create()
        .expect("a client config with only bootstrap.servers is valid")
}

#[test]
fn calls_without_a_broker_time_out_with_an_error() {
    let admin = unreachable_client();
    let timeout = Duration::from_millis(300);
    let committed = committed_offsets(admin.inner(), "g", "t", &[0, 1], timeout);
    assert!(
        matches!(committed, Err(KafkaError::AdminOp(_))),
        "{committed:?}"
    );
    let offsets = list_offsets(admin.inner(), "t", &[0], OffsetSpec::Latest, timeout);
    assert!(
        matches!(offsets, Err(KafkaError::AdminOp(_))),
        "{offsets:?}"
    );
}

#[test]
fn names_with_a_nul_byte_are_refused_before_any_call() {
    let admin = unreachable_client();
    let timeout = Duration::from_millis(100);
    let group = committed_offsets(admin.inner(), "g\0", "t", &[0], timeout);
    assert!(
        matches!(&group, Err(KafkaError::AdminOpCreation(m)) if m.contains("NUL")),
        "{group:?}"
    );
    let topic = list_offsets(admin.inner(), "t\0", &[0], OffsetSpec::Earliest, timeout);
    assert!(
        matches!(&topic, Err(KafkaError::AdminOpCreation(m)) if m.contains("NUL")),
        "{topic:?}"
    );
}

#[test]
fn partition_lists_hold_each_partition_with_the_offset() {
    let list = PartitionList::new("t", &[0, 2, 5], OffsetSpec::Latest.native())
        .expect("a plain topic name");
    // SAFETY: the list is valid while `list` lives.
    let elements: Vec<(String, i32, i64)> = unsafe {
        slice((*list.0).elems, (*list.0).cnt)
            .iter()
            .map(|e| (name(e.topic).to_owned(), e.partition, e.offset))
            .collect()
    };
    assert_eq!(
        elements,
        vec![
            ("t".to_owned(), 0, -1),
            ("t".to_owned(), 2, -1),
            ("t".to_owned(), 5, -1)
        ]
    );
}

#[test]
fn the_main_queue_yields_the_clients_connection_errors() {
    let admin = unreachable_client();
    // A call makes the client connect; the refused connection is reported on the main queue.
    drop(
        admin
            .inner()
            .fetch_metadata(None, Duration::from_millis(1500)),
    );
    let errors = drain_errors(
        admin.inner(),
        &eventflow_contract::outage::Outage::new("test"),
    );
    assert!(
        errors.iter().any(|(code, reason)| {
            matches!(
                code,
                RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown
            ) && reason.contains("127.0.0.1:9")
        }),
        "{errors:?}"
    );
}

#[test]
fn librdkafka_is_built_with_tls_and_scram() {
    let config = ClientConfig::new()
        .create_native_config()
        .expect("a native config");
    let features = config
        .get("builtin.features")
        .expect("librdkafka names its features");
    for needed in ["ssl", "sasl_scram"] {
        assert!(
            features.split(',').any(|f| f == needed),
            "{needed} missing from {features}"
        );
    }
}

/// A `NOT_COORDINATOR` answer to the group offset query makes librdkafka ask the client's own
/// consumer group to find its coordinator again. Through the connection's group-query client
/// (which has a group) that is an answer; through the admin client (which has none) it
/// dereferences a null group and kills the process.
#[test]
fn not_coordinator_through_the_group_query_client_is_answered() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("t", 1, 1).expect("topic");
    cluster.request_errors(
        RDKafkaApiKey::OffsetFetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR; 2],
    );
    let connection = crate::kafka::KafkaConnection::plain(cluster.bootstrap_servers());
    let admin =
        crate::kafka::KafkaAdmin::connect(&connection, Duration::from_secs(5)).expect("client");
    let answer = committed_offsets(
        admin.group_queries(),
        "g",
        "t",
        &[0],
        Duration::from_secs(5),
    );
    assert!(
        matches!(
            answer,
            Err(KafkaError::AdminOp(RDKafkaErrorCode::NotCoordinator))
        ),
        "{answer:?}"
    );
}
