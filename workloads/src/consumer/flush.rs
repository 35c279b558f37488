//! The pending batch and its writes: decode messages into it, hand a due batch to a background
//! write (a few in flight, so fetching and decoding the next batch and MongoDB's work on the
//! previous ones overlap), and settle the writes in the order they started: record and commit
//! their offsets, or put them back for a retry. Shared by the poll loop and the rebalance
//! callbacks, which both run on the consumer thread.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use rdkafka::{
    consumer::{BaseConsumer, CommitMode, ConsumerContext},
    message::BorrowedMessage,
};
use tokio::{runtime::Handle, task::JoinHandle};

use super::{
    batch::{Batch, Trigger},
    decode::{Decoded, decode},
    health::{Check, Health},
    metrics::ConsumerMetrics,
    offsets::{self, Progress},
    pause::Pause,
    sink::WriteError,
    writer::Writer,
};
use eventflow_contract::backoff::Backoff;

use crate::event::EventRules;

/// Batch limits and retry timing.
#[derive(Debug, Clone, Copy)]
pub struct FlushSettings {
    /// Messages per batch.
    pub batch_size: usize,
    /// Most batch writes in flight at once (at least 1).
    pub max_in_flight: usize,
    /// Longest wait since a batch's first message.
    pub batch_timeout: Duration,
    /// First retry delay after a failed write.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Longest time between commits while batches are written (0: after every batch).
    pub commit_interval: Duration,
    /// Longest a revocation or shutdown waits for a failing write before giving the batch up
    /// (uncommitted, so it is read again).
    pub give_up_after: Duration,
}

/// A batch being written in the background; a queue of them is settled front first.
#[derive(Debug)]
struct InFlight {
    task: JoinHandle<(Batch, Result<(), WriteError>)>,
    trigger: Trigger,
}

/// Everything the consumer thread needs to handle batches.
#[derive(Debug)]
pub struct Flusher {
    /// The source topic.
    pub topic: String,
    /// Batch limits and retry timing.
    pub settings: FlushSettings,
    /// The consumer's metrics.
    pub metrics: ConsumerMetrics,
    /// The consumer's readiness.
    pub health: Health,
    /// Whether fetching is paused (writes failing).
    pub pause: Pause,
    rules: EventRules,
    writer: Arc<Writer>,
    runtime: Handle,
    batch: Mutex<Batch>,
    in_flight: Mutex<VecDeque<InFlight>>,
    progress: Mutex<Progress>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Flusher {
    /// A flusher with an empty batch and no progress.
    pub fn new(
        topic: String,
        settings: FlushSettings,
        rules: EventRules,
        writer: Writer,
        health: Health,
    ) -> Self {
        Self {
            topic,
            settings,
            metrics: writer.metrics.clone(),
            health,
            pause: Pause::default(),
            rules,
            writer: Arc::new(writer),
            runtime: Handle::current(),
            batch: Mutex::default(),
            in_flight: Mutex::default(),
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
        let now = Instant::now();
        match decode(&self.rules, message) {
            Decoded::Record(record) => lock(&self.batch).push_record(record, now),
            Decoded::Poison(poison) => lock(&self.batch).push_poison(poison, now),
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

    /// Whether a write is in flight.
    pub fn writing(&self) -> bool {
        !lock(&self.in_flight).is_empty()
    }

    /// Whether another write may start now.
    pub fn can_start(&self) -> bool {
        lock(&self.in_flight).len() < self.settings.max_in_flight.max(1)
    }

    /// Hands the pending batch to a background write; `false` when there is nothing to write
    /// or the most writes are in flight (settle the oldest first).
    pub fn start(&self, trigger: Trigger) -> bool {
        let mut in_flight = lock(&self.in_flight);
        let mut batch = {
            let mut pending = lock(&self.batch);
            if pending.is_empty() || in_flight.len() >= self.settings.max_in_flight.max(1) {
                return false;
            }
            std::mem::take(&mut *pending)
        };
        let writer = Arc::clone(&self.writer);
        let task = self.runtime.spawn(async move {
            let result = writer.write(&mut batch).await;
            (batch, result)
        });
        in_flight.push_back(InFlight { task, trigger });
        true
    }

    /// Waits for a write task; the batch is gone if the task itself failed.
    fn join(
        &self,
        task: JoinHandle<(Batch, Result<(), WriteError>)>,
    ) -> (Batch, Result<(), WriteError>) {
        match self.runtime.block_on(task) {
            Ok(done) => done,
            Err(error) => {
                // Committing anything after a lost batch could skip events, so stop here
                // uncommitted, as a crash would.
                tracing::error!(%error, "a batch write task failed; exiting without committing");
                std::process::exit(70);
            }
        }
    }

    /// Settles the oldest write in flight, if any: when `wait`, waits for it, else only if it
    /// is done. A written batch's offsets are recorded (and committed when due). A failed
    /// batch ends every write behind it too (their offsets must not be committed before
    /// it): all of them go back in front of the pending batch, in order, written or not, so
    /// their offsets are committed only once the retry succeeds (a written event written again
    /// is a duplicate no-op). `None` when nothing was settled, else the outcome and what
    /// triggered the write.
    pub fn settle<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        wait: bool,
    ) -> Option<(Result<(), WriteError>, Trigger)> {
        let InFlight { task, trigger } = {
            let mut in_flight = lock(&self.in_flight);
            if !wait && !in_flight.front()?.task.is_finished() {
                return None;
            }
            in_flight.pop_front()?
        };
        let (mut batch, result) = self.join(task);
        if let Err(error) = result {
            self.health
                .fail(Check::Write, format!("batch write failing: {error}"));
            let behind: Vec<_> = lock(&self.in_flight).drain(..).collect();
            let mut returned = vec![batch];
            returned.extend(behind.into_iter().map(|later| self.join(later.task).0));
            let mut pending = lock(&self.batch);
            for batch in returned.into_iter().rev() {
                pending.prepend_failed(batch);
            }
            return Some((Err(error), trigger));
        }
        self.metrics.batch_size.observe(batch.len() as f64);
        self.metrics
            .batch_seconds
            .observe(batch.age(Instant::now()).as_secs_f64());
        self.metrics
            .batches
            .with_label_values(&[trigger.as_str()])
            .inc();
        self.health.pass(Check::Write);
        let offsets = batch.finish();
        lock(&self.progress).record(&offsets);
        self.commit_if_due(consumer);
        Some((Ok(()), trigger))
    }

    /// Settles every write in flight, waiting for them; the first failure, if any (the
    /// failed batches are then pending again).
    pub fn settle_all<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), WriteError> {
        while let Some((outcome, _)) = self.settle(consumer, true) {
            outcome?;
        }
        Ok(())
    }

    /// Writes everything pending now (the writes in flight, then the batch) and waits for it.
    pub fn flush_now<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        trigger: Trigger,
    ) -> Result<(), WriteError> {
        if let Err(error) = self.settle_all(consumer) {
            tracing::debug!(%error, "a write in flight failed; writing it again with the batch");
        }
        self.start(trigger);
        self.settle_all(consumer)
    }

    /// Commits the given offsets; a failed commit is sent again at the next due commit.
    fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offsets: &std::collections::BTreeMap<i32, i64>,
        mode: CommitMode,
    ) {
        if let Err(error) = offsets::commit(consumer, &self.topic, offsets, mode) {
            self.commit_failed(&error);
        }
    }

    /// A commit failed (a synchronous one, or one whose result librdkafka reports; an
    /// asynchronous manual commit's is reported to nobody, [`Self::confirm_commits`] catches
    /// it): its offsets are committed again at the next interval.
    pub fn commit_failed(&self, error: &dyn std::fmt::Display) {
        tracing::warn!(%error, "offset commit failed; committing again at the next interval");
        lock(&self.progress).commit_failed();
    }

    /// The offsets librdkafka last saw committed, per partition: a partition behind what was
    /// written is committed again at the next interval ([`offsets::Progress::confirm`]).
    pub fn confirm_commits(&self, committed: impl IntoIterator<Item = (i32, i64)>) {
        lock(&self.progress).confirm(committed);
    }

    /// Commits what was written since the last commit, asynchronously, once the commit
    /// interval has passed.
    pub fn commit_if_due<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let due = lock(&self.progress).take_due(Instant::now(), self.settings.commit_interval);
        if let Some(offsets) = due {
            self.commit(consumer, &offsets, CommitMode::Async);
        }
    }

    /// Commits everything written so far on `partitions` (all when `None`), synchronously.
    pub fn commit_progress<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: Option<&[i32]>,
    ) {
        let offsets = {
            let mut progress = lock(&self.progress);
            match partitions {
                None => progress.mark_committed(Instant::now()),
                Some(_) => progress.offsets(partitions),
            }
        };
        self.commit(consumer, &offsets, CommitMode::Sync);
    }

    /// Writes everything pending, retrying with backoff for at most `give_up_after`; then
    /// gives up the pending messages of `partitions` (all when `None`) uncommitted.
    pub fn flush_or_give_up<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        trigger: Trigger,
        partitions: Option<&[i32]>,
    ) {
        let deadline = Instant::now() + self.settings.give_up_after;
        let mut backoff = self.backoff();
        while let Err(error) = self.flush_now(consumer, trigger) {
            let delay = backoff.next_delay();
            self.metrics.retries.inc();
            if Instant::now() + delay > deadline {
                tracing::warn!(%error, ?partitions, "batch not written in time; left uncommitted, it will be read again");
                self.discard(partitions);
                return;
            }
            std::thread::sleep(delay);
        }
    }

    /// Before `partitions` are revoked: write the batch (bounded) and commit them.
    pub fn flush_before_revoke<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: &[i32],
    ) {
        self.flush_or_give_up(consumer, Trigger::Rebalance, Some(partitions));
        self.commit_progress(consumer, Some(partitions));
        lock(&self.progress).forget(partitions);
    }

    /// Gives up the pending messages of `partitions` (all when `None`) without committing them.
    fn discard(&self, partitions: Option<&[i32]>) {
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
