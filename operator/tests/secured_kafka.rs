//! The operator on the dev broker's `SASL_SSL` listener (`SCRAM-SHA-512`, test CA), through
//! `kafka.secretRef`: the reconcile creates the topic and the lag is measured with the
//! Secret's properties; a wrong password is a `TopicReady=False` condition that says the broker
//! refused the login, and no condition, event or error carries a password.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

mod support;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use eventflow_operator::{
    controller::Settings,
    crd::{EventPipeline, SecretReference},
    kafka::{
        KafkaAdmin, KafkaConnection,
        lag::{LagReader, LagTarget},
    },
};
use eventflow_workloads::testkit::{CaForm, DevServices, SecuredKafka};
use k8s_openapi::api::events::v1::Event;
use kube::{ResourceExt, api::ListParams};
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};
use support::{api, condition, fake_with, fixture_secrets, pipeline, reconcile_stored, secret_of};

const KAFKA_SECRET: &str = "kafka-client";

fn secured() -> SecuredKafka {
    SecuredKafka::from_env().expect("the dev services' SASL_SSL listener")
}

/// A pipeline on the `SASL_SSL` listener whose `kafka.secretRef` holds `properties`, stored in a
/// fake API with the Secrets it refers to, and reconciled once.
async fn reconciled(
    properties: &[(String, String)],
) -> (EventPipeline, eventflow_operator::Result<()>, Vec<String>) {
    let mut pipeline = pipeline(&secured().bootstrap, "sasl");
    pipeline.spec.kafka.secret_ref = Some(SecretReference {
        name: KAFKA_SECRET.to_owned(),
    });
    let name = pipeline.name_any();
    let mut secrets = fixture_secrets();
    secrets.push(secret_of(KAFKA_SECRET, properties));
    let client = fake_with(pipeline, secrets).await;
    let ctx = support::context(client.clone(), Settings::default());
    let outcome = reconcile_stored(&ctx, &name).await.map(drop);
    let events = api::<Event>(&client)
        .list(&ListParams::default())
        .await
        .unwrap();
    let notes = events.items.into_iter().filter_map(|e| e.note).collect();
    (
        api::<EventPipeline>(&client).get(&name).await.unwrap(),
        outcome,
        notes,
    )
}

/// The topic's partition count as the broker's PLAINTEXT listener reports it.
fn partitions_on_broker(topic: &str) -> usize {
    let bootstrap = DevServices::from_env()
        .expect("dev services")
        .kafka_bootstrap;
    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let metadata = rdkafka::consumer::Consumer::fetch_metadata(
        &consumer,
        Some(topic),
        Duration::from_secs(10),
    )
    .unwrap();
    metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len())
}

#[tokio::test]
async fn the_topic_and_the_lag_go_through_sasl_ssl_with_the_secrets_properties() {
    let secured = secured();
    // The CA as a Secret key holding the PEM (`ssl.ca.pem`); the password with the newline
    // `kubectl create secret --from-file` keeps from a file.
    let with_newline = format!("{}\n", secured.password());
    let properties = secured.properties(&with_newline, CaForm::Pem).unwrap();
    let (stored, outcome, _) = reconciled(&properties).await;
    outcome.expect("the reconcile succeeds");
    let topic_ready = condition(&stored, "TopicReady");
    assert_eq!(topic_ready.status, "True", "{}", topic_ready.message);
    let topic = stored.topic_name();
    assert_eq!(
        partitions_on_broker(&topic),
        usize::try_from(stored.spec.topic.partitions).unwrap()
    );

    // Five records on partition 0, never consumed: the lag, measured over SASL_SSL with the CA
    // as a file (`ssl.ca.location`), is five.
    let by_file = secured
        .properties(secured.password(), CaForm::Location)
        .unwrap();
    let producer: FutureProducer = by_file
        .iter()
        .cloned()
        .collect::<ClientConfig>()
        .set("bootstrap.servers", &secured.bootstrap)
        .create()
        .unwrap();
    for n in 0..5 {
        let payload = format!("{{\"n\":{n}}}");
        let record = FutureRecord::<str, str>::to(&topic)
            .payload(&payload)
            .partition(0);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("acknowledged");
    }
    let connection = KafkaConnection {
        bootstrap: secured.bootstrap.clone(),
        properties: by_file.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let admin = Arc::new(KafkaAdmin::connect(&connection, Duration::from_secs(10)).unwrap());
    let sample = LagReader::default()
        .measure(&admin, &LagTarget::of(&stored))
        .await
        .expect("lag measured over SASL_SSL");
    assert_eq!(sample.total, 5);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_condition_and_no_password_is_shown() {
    let secured = secured();
    let wrong = format!("{}-but-wrong", secured.password());
    let properties = secured.properties(&wrong, CaForm::Pem).unwrap();
    let (stored, outcome, notes) = reconciled(&properties).await;
    let error = outcome.expect_err("the reconcile fails").to_string();

    let topic_ready = condition(&stored, "TopicReady");
    assert_eq!(topic_ready.status, "False");
    assert_eq!(
        topic_ready.reason, "KafkaAuthenticationFailed",
        "{}",
        topic_ready.message
    );
    for shown in [&topic_ready.message, &error] {
        assert!(
            shown.contains("SASL authentication error") && shown.contains("SCRAM-SHA-512"),
            "the refusal is named: {shown}"
        );
    }
    let status = serde_json::to_string(&stored.status).unwrap();
    for shown in [&status, &error].into_iter().chain(&notes) {
        assert!(!shown.contains(&wrong), "password shown: {shown}");
        assert!(
            !shown.contains(secured.password()),
            "password shown: {shown}"
        );
    }
}
