//! The raw rdkafka side of the ingest comparisons: the records the producer writes (same keys,
//! headers and JSON events), made once, sent by a bare `FutureProducer` configured like the
//! ingest path's. Every run gets a producer of its own, connected (one record acknowledged)
//! before its clock starts: a client's start-up is neither produce rate nor latency.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use eventflow_workloads::{
    event::IncomingEvent,
    loadgen::{Workload, summary::Latency},
    producer::kafka::headers,
};
use futures::{StreamExt, future::join_all, stream::FuturesUnordered};
use rdkafka::{
    ClientConfig,
    message::Header,
    producer::{FutureProducer, FutureRecord},
};

/// Distinct records the raw runs cycle through.
const SAMPLES: usize = 20_000;

/// Which headers the raw records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// The producer's own: `ce_type` and `content-type`.
    Written,
    /// Those and every other CloudEvents attribute in binary-mode form (`ce_id`, `ce_source`,
    /// `ce_specversion`, `ce_time`, `ce_subject`): what writing them all would cost.
    AllAttributes,
}

/// Raw runs against one topic.
pub struct Raw {
    bootstrap: String,
    topic: Arc<str>,
    samples: Arc<[Sample]>,
}

/// What each task of a raw run holds: its number, the run's connected producer, the records,
/// and when the run ends.
#[derive(Clone)]
struct Task {
    number: usize,
    producer: FutureProducer,
    topic: Arc<str>,
    samples: Arc<[Sample]>,
    until: Instant,
}

impl Task {
    fn running(&self) -> bool {
        Instant::now() < self.until
    }

    fn record<'a>(&'a self, sample: &'a Sample) -> FutureRecord<'a, str, [u8]> {
        sample.record(&self.topic, Headers::Written)
    }
}

impl Raw {
    /// The records of `topic` on `bootstrap`, made once for every run.
    pub fn new(bootstrap: &str, topic: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            topic: topic.into(),
            samples: sample_payloads(SAMPLES).into(),
        }
    }

    /// Events/s sending the records for `run` with `in_flight` unacknowledged: a rate
    /// sustained over the same time as the one it is compared with (a single burst of queued
    /// records measures librdkafka's batching of one queue, not what the broker keeps up
    /// with). Returns the records acknowledged and their rate.
    pub async fn ceiling(&self, in_flight: usize, which: Headers, run: Duration) -> (u64, f64) {
        let producer = self.connected(which).await;
        let started = Instant::now();
        let mut pending = FuturesUnordered::new();
        let mut acknowledged = 0_u64;
        for sample in self.samples.iter().cycle() {
            if started.elapsed() >= run {
                break;
            }
            if pending.len() >= in_flight {
                settle(pending.next().await);
                acknowledged += 1;
            }
            pending.push(
                producer
                    .send_result(sample.record(&self.topic, which))
                    .map_err(|(e, _)| e)
                    .expect("queued"),
            );
        }
        while let Some(delivery) = pending.next().await {
            settle(Some(delivery));
            acknowledged += 1;
        }
        (
            acknowledged,
            acknowledged as f64 / started.elapsed().as_secs_f64(),
        )
    }

    /// Events/s of records sent as the batched runs send events, without HTTP: `tasks` tasks
    /// (the batched runs' connections), each sending `batch` records and waiting for all of
    /// them to be acknowledged before it sends the next ones. Its rate against the ceiling is
    /// what waiting for a whole request costs (a request is as slow as its slowest record, and
    /// nothing of its connection is in flight between two requests); batched ingest against it
    /// is what the HTTP path costs.
    pub async fn requests(&self, tasks: usize, batch: usize, run: Duration) -> f64 {
        let (acknowledged, seconds) = self
            .in_tasks(tasks, run, move |task| async move {
                let mut acknowledged = 0_u64;
                let requests = task.samples.chunks(batch).skip(task.number).step_by(tasks);
                for request in requests.cycle() {
                    if !task.running() {
                        break;
                    }
                    let deliveries = request.iter().map(|sample| {
                        task.producer
                            .send_result(task.record(sample))
                            .map_err(|(e, _)| e)
                            .expect("queued")
                    });
                    for delivery in join_all(deliveries).await {
                        settle(Some(delivery));
                        acknowledged += 1;
                    }
                }
                acknowledged
            })
            .await;
        acknowledged.iter().sum::<u64>() as f64 / seconds
    }

    /// Events/s and latency of `tasks` tasks each sending one record at a time: what the
    /// broker gives single-event requests at as many connections before any HTTP is involved.
    pub async fn latency(&self, tasks: usize, run: Duration) -> (f64, Latency) {
        let (per_task, seconds) = self
            .in_tasks(tasks, run, |task| async move {
                let mut latencies = Vec::new();
                for sample in task.samples.iter().skip(task.number).cycle() {
                    if !task.running() {
                        break;
                    }
                    let sent = Instant::now();
                    task.producer
                        .send(task.record(sample), Duration::from_secs(10))
                        .await
                        .map_err(|(e, _)| e)
                        .expect("acknowledged");
                    latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                latencies
            })
            .await;
        let mut latencies: Vec<u64> = per_task.into_iter().flatten().collect();
        let rate = latencies.len() as f64 / seconds;
        (rate, Latency::of(&mut latencies))
    }

    /// Runs `tasks` copies of `work` on one connected producer for `run`; their results and the
    /// seconds from the start until the last one ended.
    async fn in_tasks<T, F, Fut>(&self, tasks: usize, run: Duration, work: F) -> (Vec<T>, f64)
    where
        F: Fn(Task) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let producer = self.connected(Headers::Written).await;
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|number| {
                tokio::spawn(work(Task {
                    number,
                    producer: producer.clone(),
                    topic: Arc::clone(&self.topic),
                    samples: Arc::clone(&self.samples),
                    until: started + run,
                }))
            })
            .collect();
        let results = join_all(handles)
            .await
            .into_iter()
            .map(|result| result.expect("raw sender task"))
            .collect();
        (results, started.elapsed().as_secs_f64())
    }

    /// A producer configured like the ingest path's, with one record acknowledged.
    async fn connected(&self, which: Headers) -> FutureProducer {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create::<FutureProducer>()
            .expect("producer");
        if let Some(first) = self.samples.first() {
            producer
                .send(first.record(&self.topic, which), Duration::from_secs(10))
                .await
                .map_err(|(e, _)| e)
                .expect("the warm-up record is acknowledged");
        }
        producer
    }
}

/// Fails the benchmark unless a raw delivery was acknowledged.
fn settle(
    delivery: Option<
        Result<
            rdkafka::producer::future_producer::OwnedDeliveryResult,
            futures::channel::oneshot::Canceled,
        >,
    >,
) {
    delivery
        .expect("a delivery in flight")
        .expect("not cancelled")
        .map_err(|(e, _)| e)
        .expect("acknowledged");
}

/// One event as the ingest path writes it to Kafka.
struct Sample {
    key: String,
    kind: String,
    payload: Vec<u8>,
    /// The other CloudEvents attributes as binary-mode headers would carry them.
    attributes: Vec<(&'static str, String)>,
}

impl Sample {
    fn record<'a>(&'a self, topic: &'a str, which: Headers) -> FutureRecord<'a, str, [u8]> {
        let mut headers = headers(&self.kind);
        if which == Headers::AllAttributes {
            for (key, value) in &self.attributes {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_str()),
                });
            }
        }
        FutureRecord::to(topic)
            .key(self.key.as_str())
            .payload(self.payload.as_slice())
            .headers(headers)
    }
}

/// `count` random user-activity events as the ingest path would write them.
fn sample_payloads(count: usize) -> Vec<Sample> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let incoming: IncomingEvent =
                serde_json::from_value(Workload::UserActivity.event(&mut rng)).expect("event");
            let event = incoming.into_event(None, "/bench");
            Sample {
                key: event.subject.clone().unwrap_or_default(),
                kind: event.kind.clone(),
                payload: event.to_json(),
                attributes: vec![
                    ("ce_id", event.id.clone()),
                    ("ce_source", event.source.clone()),
                    ("ce_specversion", event.specversion.clone()),
                    ("ce_time", event.time.to_rfc3339()),
                    ("ce_subject", event.subject.clone().unwrap_or_default()),
                ],
            }
        })
        .collect()
}
