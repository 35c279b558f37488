//! The producer's only Kafka I/O: an idempotent producer (acks=all) with a bounded delivery
//! timeout and a bounded local queue, which reports whether it holds a producer id.

mod delivery;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{BaseRecord, Producer, ThreadedProducer},
    util::Timeout,
};

pub use self::delivery::{Ack, ProducerIdState, PublishError};
use self::delivery::{Pending, SinkContext, Slot, acks};
use super::metrics::Metrics;
use crate::Result;

/// Why the sink would not get an event acknowledged promptly (part of the producer's readiness).
#[derive(Debug, thiserror::Error)]
pub enum KafkaNotReady {
    /// The idempotent producer has no producer id yet.
    #[error("waiting for the Kafka producer id (idempotent producer)")]
    NoProducerId,
    /// The broker did not answer a metadata request.
    #[error("kafka metadata: {0}")]
    Metadata(rdkafka::error::KafkaError),
    /// The broker does not know the topic (or reports an error for it).
    #[error("kafka topic {0} is not available")]
    TopicUnavailable(String),
    /// The blocking metadata check did not finish.
    #[error("kafka metadata check: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One event ready for Kafka.
#[derive(Debug, Clone)]
pub struct Record {
    /// Event id (in the payload; answered in the 202).
    pub id: String,
    /// Event type (`ce_type` header).
    pub kind: String,
    /// Message key: the partition key value; `None` lets Kafka spread the events.
    pub key: Option<String>,
    /// The JSON event.
    pub payload: Vec<u8>,
}

/// Producer tuning, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Longest wait for an acknowledgement (`message.timeout.ms`).
    pub delivery_timeout: Duration,
    /// Most messages in the local queue (`queue.buffering.max.messages`).
    pub queue_max_messages: usize,
    /// How long librdkafka waits to fill a batch (`linger.ms`).
    pub linger: Duration,
}

/// How often librdkafka reports its statistics, among them the idempotent producer's state.
const STATISTICS_INTERVAL: Duration = Duration::from_millis(500);

/// The idempotent producer of one topic.
#[derive(Clone)]
pub struct KafkaSink {
    producer: Arc<ThreadedProducer<SinkContext>>,
    topic: String,
    settings: Settings,
    metrics: Metrics,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer over `config` (bootstrap servers and extra properties) for `topic`.
    pub fn new(
        mut config: ClientConfig,
        topic: String,
        settings: Settings,
        metrics: Metrics,
    ) -> Result<Self> {
        let bootstrap = config
            .get("bootstrap.servers")
            .unwrap_or_default()
            .to_owned();
        let producer = crate::config::idempotent_producer(&mut config, settings.delivery_timeout)
            .set(
                "queue.buffering.max.messages",
                settings.queue_max_messages.to_string(),
            )
            .set("linger.ms", crate::config::millis(settings.linger))
            .set(
                "statistics.interval.ms",
                crate::config::millis(STATISTICS_INTERVAL),
            )
            .create_with_context(SinkContext::new(&bootstrap))?;
        Ok(Self {
            producer: Arc::new(producer),
            topic,
            settings,
            metrics,
        })
    }

    /// Enqueues every record and waits until Kafka acknowledged all of them.
    ///
    /// Refuses up front when the local queue cannot take the whole request. A failure after
    /// some records were enqueued may still see those delivered (at-least-once; the event id
    /// makes a retry a no-op in the read model).
    pub async fn publish(&self, records: &[Record]) -> Result<Vec<Ack>, PublishError> {
        let started = Instant::now();
        let acks = self.deliver(records).await.inspect_err(|error| {
            self.producer.context().outage.failed(&error.to_string());
            let events = records.len() as u64;
            self.metrics
                .delivery_errors
                .with_label_values(&[error.reason()])
                .inc_by(events);
        })?;
        let elapsed = started.elapsed().as_secs_f64();
        for _ in &acks {
            self.metrics.delivery_duration.observe(elapsed);
        }
        Ok(acks)
    }

    async fn deliver(&self, records: &[Record]) -> Result<Vec<Ack>, PublishError> {
        let queued = usize::try_from(self.producer.in_flight_count()).unwrap_or(0);
        if queued + records.len() > self.settings.queue_max_messages {
            return Err(PublishError::QueueFull);
        }
        let (pending, done) = Pending::new(records.len());
        for (index, record) in records.iter().enumerate() {
            let queued = self
                .producer
                .send(self.base_record(record, Box::new(pending.slot(index))));
            queued.map_err(|(error, _)| PublishError::from_kafka(&error))?;
        }
        // From here only the slots hold it: the last one reported sends the outcomes.
        drop(pending);
        self.metrics
            .queue_size
            .set(i64::from(self.producer.in_flight_count()));
        let grace = self.settings.delivery_timeout + Duration::from_secs(1);
        match tokio::time::timeout(grace, done).await {
            Ok(Ok(outcomes)) => acks(outcomes),
            _ => Err(PublishError::TimedOut),
        }
    }

    fn base_record<'a>(
        &'a self,
        record: &'a Record,
        slot: Box<Slot>,
    ) -> BaseRecord<'a, str, [u8], Box<Slot>> {
        let base = BaseRecord::with_opaque_to(&self.topic, slot)
            .payload(record.payload.as_slice())
            .headers(headers(&record.kind));
        match &record.key {
            Some(key) => base.key(key.as_str()),
            None => base,
        }
    }

    /// Whether an event would be acknowledged promptly: the producer holds a producer id and
    /// the broker answers a metadata request that knows the topic.
    pub async fn check(&self, timeout: Duration) -> Result<(), KafkaNotReady> {
        if !self.producer.context().producer_id.assigned() {
            return Err(KafkaNotReady::NoProducerId);
        }
        let sink = self.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let metadata = sink
                .producer
                .client()
                .fetch_metadata(Some(&sink.topic), timeout)
                .map_err(KafkaNotReady::Metadata)?;
            match metadata
                .topics()
                .first()
                .and_then(rdkafka::metadata::MetadataTopic::error)
            {
                None if !metadata.topics().is_empty() => Ok(()),
                _ => Err(KafkaNotReady::TopicUnavailable(sink.topic.clone())),
            }
        });
        checked.await?
    }

    /// Messages not yet acknowledged.
    pub fn queued(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Waits up to `timeout` for every queued message to be acknowledged.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout)))
            .await
            .map_err(|e| crate::Error::Config(format!("flush task failed: {e}")))??;
        Ok(())
    }
}

/// The `content-type` header of every message: a structured `CloudEvent`.
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The headers of an event's message. The value is the whole event (CloudEvents structured
/// mode, named by `content-type`); its type is repeated as `ce_type` so routers and consumers
/// can filter without parsing. Nothing else: the id is in the value.
pub fn headers(kind: &str) -> OwnedHeaders {
    OwnedHeaders::new_with_capacity(2)
        .insert(Header {
            key: "ce_type",
            value: Some(kind),
        })
        .insert(Header {
            key: "content-type",
            value: Some(CONTENT_TYPE),
        })
}
