//! The pending batch and how it is handled: decode into it, write it (MongoDB, then the DLQ),
//! record and commit its offsets. Shared by the poll loop and the rebalance callbacks, which
//! both run on the consumer thread.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use rdkafka::{
    Message,
    consumer::{BaseConsumer, CommitMode, ConsumerContext},
    message::BorrowedMessage,
};
use tokio::runtime::Handle;
use tracing::instrument;

use super::{
    batch::{Batch, Poison, Record, Trigger},
    dlq::{DeadLetters, owned_headers},
    document_shim::to_document,
    health::{Check, Health},
    metrics::ConsumerMetrics,
    offsets::{self, Progress},
    sink::{Backoff, Sink},
};
use crate::event::EventRules;

/// Batch limits and retry timing.
#[derive(Debug, Clone, Copy)]
pub struct FlushSettings {
    /// Messages per batch.
    pub batch_size: usize,
    /// Longest wait since a batch's first message.
    pub batch_timeout: Duration,
    /// First retry delay after a failed write.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Longest a revocation or shutdown waits for a failing write before giving the batch up
    /// (uncommitted, so it is read again).
    pub give_up_after: Duration,
}

/// Everything the consumer thread needs to handle batches.
#[derive(Debug)]
pub struct Flusher {
    /// The source topic.
    pub topic: String,
    pipeline: String,
    /// Batch limits and retry timing.
    pub settings: FlushSettings,
    rules: EventRules,
    sink: Sink,
    dead_letters: DeadLetters,
    runtime: Handle,
    /// The consumer's metrics.
    pub metrics: ConsumerMetrics,
    /// The consumer's readiness.
    pub health: Health,
    batch: Mutex<Batch>,
    progress: Mutex<Progress>,
}

/// The parts a [`Flusher`] is made of.
#[derive(Debug)]
pub struct FlusherParts {
    pub topic: String,
    pub pipeline: String,
    pub settings: FlushSettings,
    pub rules: EventRules,
    pub sink: Sink,
    pub dead_letters: DeadLetters,
    pub runtime: Handle,
    pub metrics: ConsumerMetrics,
    pub health: Health,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Flusher {
    /// A flusher with an empty batch and no progress.
    pub fn new(parts: FlusherParts) -> Self {
        Self {
            topic: parts.topic,
            pipeline: parts.pipeline,
            settings: parts.settings,
            rules: parts.rules,
            sink: parts.sink,
            dead_letters: parts.dead_letters,
            runtime: parts.runtime,
            metrics: parts.metrics,
            health: parts.health,
            batch: Mutex::default(),
            progress: Mutex::default(),
        }
    }

    /// A fresh backoff with the configured limits.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.settings.backoff_initial, self.settings.backoff_max)
    }

    /// Decodes a message into the batch: a valid event for MongoDB or poison for the DLQ.
    pub fn accept(&self, message: &BorrowedMessage<'_>) {
        self.metrics.consumed.inc();
        let (partition, offset) = (message.partition(), message.offset());
        let decoded = self.rules.decode(message.payload().unwrap_or_default());
        let now = Instant::now();
        match decoded {
            Ok(event) => {
                let key = message.key().and_then(|k| std::str::from_utf8(k).ok());
                let record = Record {
                    event,
                    key: key.map(str::to_owned),
                    partition,
                    offset,
                };
                lock(&self.batch).push_record(record, now);
            }
            Err(error) => {
                let poison = Poison {
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    headers: owned_headers(message.headers()),
                    partition,
                    offset,
                    code: error.code(),
                    reason: error.to_string(),
                };
                lock(&self.batch).push_poison(poison, now);
            }
        }
    }

    /// Whether the batch is due, and why.
    pub fn due(&self, now: Instant) -> Option<Trigger> {
        lock(&self.batch).due(now, self.settings.batch_size, self.settings.batch_timeout)
    }

    /// When the batch must be written at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        lock(&self.batch).deadline(self.settings.batch_timeout)
    }

    /// One attempt to handle the pending batch. On success returns the offsets it covered
    /// (already recorded as progress; the caller commits them); on failure the unwritten part
    /// stays pending and nothing is recorded.
    pub fn try_flush(&self, trigger: Trigger) -> Result<BTreeMap<i32, i64>, String> {
        let mut batch = lock(&self.batch);
        if batch.is_empty() {
            return Ok(BTreeMap::new());
        }
        if let Err(error) = self.runtime.block_on(self.write(&mut batch)) {
            self.health
                .fail(Check::Write, format!("batch write failing: {error}"));
            return Err(error);
        }
        let size = batch.len();
        let offsets = batch.finish();
        drop(batch);
        lock(&self.progress).record(&offsets);
        self.metrics.batch_size.observe(size as f64);
        self.metrics
            .batches
            .with_label_values(&[trigger.as_str()])
            .inc();
        self.health.pass(Check::Write);
        Ok(offsets)
    }

    #[instrument(name = "write_batch", skip_all, fields(
        pipeline = %self.pipeline,
        events = batch.records.len(),
        poison = batch.poison.len(),
    ))]
    async fn write(&self, batch: &mut Batch) -> Result<(), String> {
        if !batch.records.is_empty() {
            let documents: Vec<_> = batch
                .records
                .iter()
                .map(|r| to_document(&r.event, r.key.as_deref(), r.partition, r.offset))
                .collect();
            let timer = self.metrics.write_seconds.start_timer();
            let written = self.sink.insert(&documents).await?;
            timer.observe_duration();
            self.metrics.written.inc_by(written.inserted);
            self.metrics.duplicates.inc_by(written.duplicates);
            batch.records.clear();
        }
        if !batch.poison.is_empty() {
            let (acknowledged, failure) = self.dead_letters.send_all(&mut batch.poison).await;
            for code in acknowledged {
                self.metrics.dead_lettered.with_label_values(&[code]).inc();
            }
            if let Some(error) = failure {
                return Err(error);
            }
        }
        Ok(())
    }

    /// Commits the given offsets; a failed commit only means a redelivery later.
    pub fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offsets: &BTreeMap<i32, i64>,
        mode: CommitMode,
    ) {
        if let Err(error) = offsets::commit(consumer, &self.topic, offsets, mode) {
            tracing::warn!(%error, "offset commit failed; the events will be read again");
        }
    }

    /// Commits everything written so far on `partitions` (all when `None`), synchronously.
    pub fn commit_progress<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: Option<&[i32]>,
    ) {
        let offsets = lock(&self.progress).offsets(partitions);
        self.commit(consumer, &offsets, CommitMode::Sync);
    }

    /// Before `partitions` are revoked: write the batch (retrying for a bounded time) and
    /// commit it; if it cannot be written, give up their part uncommitted.
    pub fn flush_before_revoke<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: &[i32],
    ) {
        let deadline = Instant::now() + self.settings.give_up_after;
        let mut backoff = self.backoff();
        while let Err(error) = self.try_flush(Trigger::Rebalance) {
            let delay = backoff.next_delay();
            self.metrics.retries.inc();
            if Instant::now() + delay > deadline {
                tracing::warn!(%error, ?partitions, "revoked partitions' batch not written; their new owner reads it again");
                self.discard(Some(partitions));
                break;
            }
            std::thread::sleep(delay);
        }
        self.commit_progress(consumer, Some(partitions));
        lock(&self.progress).forget(partitions);
    }

    /// Gives up the pending messages of `partitions` (all when `None`) without committing them.
    pub fn discard(&self, partitions: Option<&[i32]>) {
        let mut batch = lock(&self.batch);
        match partitions {
            Some(partitions) => batch.discard_partitions(partitions),
            None => *batch = Batch::default(),
        }
        if batch.is_empty() {
            self.health.pass(Check::Write);
        }
    }
}
