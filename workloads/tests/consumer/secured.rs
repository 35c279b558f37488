//! The producer and the consumer on the dev broker's `SASL_SSL` listener (`SCRAM-SHA-512`, test
//! CA), configured only through `kafka.secretRef`-style properties: the producer's as a
//! directory of one file per key (a mounted Secret, the CA as `ssl.ca.pem`), the consumer's as a
//! `key=value` file (the CA as `ssl.ca.location`). An event the producer accepted (Kafka
//! acknowledged it over the secured listener) is read and stored by the consumer.

use std::{path::PathBuf, time::Duration};

use axum::http::StatusCode;
use eventflow_workloads::testkit::{CaForm, SecuredKafka};
use serde_json::json;

use crate::{
    producer_support::{app, args, post_json, send},
    support::{ConsumerProcess, Spec, collection, create_topics, name, services, wait_for_count},
};

fn secured() -> SecuredKafka {
    SecuredKafka::from_env().expect("the dev services' SASL_SSL listener")
}

/// The properties as a mounted Secret: a directory of one file per key.
fn secret_dir(properties: Vec<(String, String)>) -> PathBuf {
    let dir = std::env::temp_dir().join(name("kafka-secret"));
    std::fs::create_dir_all(&dir).unwrap();
    for (key, value) in properties {
        std::fs::write(dir.join(key), value).unwrap();
    }
    dir
}

#[tokio::test]
async fn an_event_goes_through_the_sasl_ssl_listener_with_the_secrets_properties() {
    let secured = secured();
    let topic = name("secured");
    create_topics(&topic, 1).await;
    let properties = secured.properties(secured.password(), CaForm::Pem).unwrap();
    let dir = secret_dir(properties);
    let producer_args = args(
        &secured.bootstrap,
        &services().mongodb_uri,
        &topic,
        &["--kafka-properties-file", dir.to_str().unwrap()],
    );
    let (app, _) = app(&producer_args).await;
    let event =
        json!({"id": "secured-1", "type": "LOGIN", "subject": "u1", "data": {"userId": "u1"}});
    let (status, _, body) = send(&app, post_json(&event)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let mut spec = Spec::new(&topic, &topic);
    spec.kafka_bootstrap.clone_from(&secured.bootstrap);
    spec.kafka_properties = secured
        .properties(secured.password(), CaForm::Location)
        .unwrap();
    let consumer = ConsumerProcess::spawn(&spec);
    let stored = collection(&services().mongodb_uri, &topic).await;
    wait_for_count(&stored, 1, Duration::from_secs(60)).await;
    assert!(consumer.terminate(Duration::from_secs(30)).await.success());
    std::fs::remove_dir_all(dir).unwrap();
}
