//! The dead-letter producer: poison messages go to `<topic>.dlq` with their original key, value
//! and headers, plus headers that say what was wrong and where the message came from.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::{
    ClientConfig,
    message::{Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};

use super::{batch::Poison, sink::WriteError};
use crate::{Result, kafka_log::OutageLogContext};

/// Header with the machine-readable reason (`not_json`, `not_an_event`, `schema_violation`).
pub const ERROR_CODE_HEADER: &str = "eventflow-error-code";
/// Header with the human-readable reason.
pub const ERROR_HEADER: &str = "eventflow-error";
/// Header with the source topic.
pub const SOURCE_TOPIC_HEADER: &str = "eventflow-source-topic";
/// Header with the source partition (decimal).
pub const SOURCE_PARTITION_HEADER: &str = "eventflow-source-partition";
/// Header with the source offset (decimal).
pub const SOURCE_OFFSET_HEADER: &str = "eventflow-source-offset";

/// Writes poison messages to the dead-letter topic and waits for Kafka's acknowledgement.
pub struct DeadLetters {
    producer: FutureProducer<OutageLogContext>,
    topic: String,
    source_topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    /// An idempotent, `acks=all` producer on `config` writing to `topic`; a message not
    /// acknowledged within `timeout` counts as failed.
    pub fn new(
        mut config: ClientConfig,
        topic: String,
        source_topic: String,
        timeout: Duration,
    ) -> Result<Self> {
        let context = OutageLogContext::of(&config);
        let producer = crate::config::idempotent_producer(&mut config, timeout)
            .create_with_context(context)?;
        Ok(Self {
            producer,
            topic,
            source_topic,
            timeout,
        })
    }

    /// Sends every pending poison message; the acknowledged ones are removed from `pending`,
    /// so a retry sends only the rest. Returns the reasons of the acknowledged ones and the
    /// first failure, if any.
    pub async fn send_all(
        &self,
        pending: &mut Vec<Poison>,
    ) -> (Vec<&'static str>, Option<WriteError>) {
        let outcomes = join_all(pending.iter().map(|poison| self.send(poison))).await;
        let mut acknowledged = Vec::new();
        let mut failure = None;
        let mut outcome = outcomes.into_iter();
        pending.retain(|poison| match outcome.next() {
            Some(Ok(())) => {
                acknowledged.push(poison.code);
                false
            }
            Some(Err(error)) => {
                failure.get_or_insert(error);
                true
            }
            None => true,
        });
        (acknowledged, failure)
    }

    async fn send(&self, poison: &Poison) -> Result<(), WriteError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(self.headers(poison));
        if let Some(key) = &poison.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &poison.value {
            record = record.payload(value.as_slice());
        }
        self.producer
            .send(record, self.timeout)
            .await
            .map(drop)
            .map_err(|(source, _)| WriteError::DeadLetter {
                topic: self.topic.clone(),
                source,
            })
    }

    fn headers(&self, poison: &Poison) -> OwnedHeaders {
        let mut headers = OwnedHeaders::new_with_capacity(poison.headers.len() + 5);
        for (key, value) in &poison.headers {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        let partition = poison.partition.to_string();
        let offset = poison.offset.to_string();
        let ours = [
            (ERROR_CODE_HEADER, poison.code),
            (ERROR_HEADER, poison.reason.as_str()),
            (SOURCE_TOPIC_HEADER, self.source_topic.as_str()),
            (SOURCE_PARTITION_HEADER, partition.as_str()),
            (SOURCE_OFFSET_HEADER, offset.as_str()),
        ];
        for (key, value) in ours {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        headers
    }
}

/// The headers of a Kafka message as owned pairs.
pub fn owned_headers<H: Headers>(headers: Option<&H>) -> Vec<(String, Option<Vec<u8>>)> {
    headers.map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
            .collect()
    })
}
