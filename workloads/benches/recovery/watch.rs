//! Samples, every 100 ms, the partitions each live consumer holds (its `/metrics`) and the
//! group's committed offsets, while the ingest counts what Kafka acknowledged.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Result;
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use tokio_util::sync::CancellationToken;

use crate::members::Member;

pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// Partitions no live consumer holds.
    pub unowned: i64,
    /// Live consumers holding no partition.
    pub idle: usize,
    /// Events Kafka acknowledged minus the group's committed offsets.
    pub lag: i64,
    /// The group's committed offsets, summed.
    pub committed: i64,
}

/// The sampler of one run.
pub struct Watch {
    pub samples: Arc<Mutex<Vec<Sample>>>,
    /// Admin ports of the live consumers.
    pub live: Arc<Mutex<Vec<u16>>>,
    stop: CancellationToken,
}

impl Watch {
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        produced: Arc<AtomicU64>,
    ) -> Result<Self> {
        let offsets: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", topic)
            .create()?;
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let watch = Self {
            samples: Arc::default(),
            live: Arc::default(),
            stop: CancellationToken::new(),
        };
        let (samples, live, stop) = (
            Arc::clone(&watch.samples),
            Arc::clone(&watch.live),
            watch.stop.clone(),
        );
        let offsets = Arc::new(offsets);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            while !stop.is_cancelled() {
                tick.tick().await;
                let ports = live.lock().map(|l| l.clone()).unwrap_or_default();
                let held = futures::future::join_all(
                    ports.iter().map(|&port| Member::assigned(&client, port)),
                )
                .await;
                let Some(committed) = committed(&offsets, &list).await else {
                    continue;
                };
                let produced = i64::try_from(produced.load(Ordering::SeqCst)).unwrap_or(0);
                let owned: i64 = held.iter().flatten().sum();
                let sample = Sample {
                    at: Instant::now(),
                    unowned: (i64::from(partitions) - owned).max(0),
                    idle: held.iter().filter(|h| **h == Some(0)).count(),
                    lag: produced - committed,
                    committed,
                };
                if let Ok(mut samples) = samples.lock() {
                    samples.push(sample);
                }
            }
        });
        Ok(watch)
    }

    pub fn set_live(&self, members: &[&Member]) {
        if let Ok(mut live) = self.live.lock() {
            *live = members.iter().map(|m| m.port).collect();
        }
    }

    /// The samples taken since `from`.
    pub fn since(&self, from: Instant) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|s| s.iter().filter(|s| s.at >= from).copied().collect())
            .unwrap_or_default()
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

async fn committed(offsets: &Arc<BaseConsumer>, list: &TopicPartitionList) -> Option<i64> {
    let (offsets, list) = (Arc::clone(offsets), list.clone());
    tokio::task::spawn_blocking(move || {
        offsets
            .committed_offsets(list, Duration::from_secs(2))
            .ok()
            .map(|l| {
                l.elements()
                    .iter()
                    .map(|e| match e.offset() {
                        Offset::Offset(o) => o,
                        _ => 0,
                    })
                    .sum()
            })
    })
    .await
    .ok()
    .flatten()
}
