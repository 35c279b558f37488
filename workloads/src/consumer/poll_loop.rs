//! The consumer thread: poll, batch, write (a few batches in flight while the next fills),
//! commit in order; pause while a write keeps failing (nothing is read meanwhile, so what waits
//! for the retry is at most the batches in flight and the one filling); on shutdown stop
//! fetching, flush and commit.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use tokio_util::sync::CancellationToken;

use eventflow_contract::backoff::Backoff;

use super::{batch::Trigger, flush::Flusher, health::Check, sink::WriteError};
use crate::kafka_log::WithOutage;

/// Longest single `poll`, so shutdown and batch deadlines are noticed promptly.
const MAX_POLL_WAIT: Duration = Duration::from_millis(100);
/// Longest idle `poll` while a write is in flight, so it is settled promptly.
const WRITING_POLL_WAIT: Duration = Duration::from_millis(2);

/// Retry state of the loop: the backoff and the next attempt of a failed batch.
#[derive(Debug)]
struct Retry {
    backoff: Backoff,
    next: Option<(Instant, Trigger)>,
}

impl Retry {
    /// Records a settled write: resume after a failure streak, or pause and schedule a retry.
    fn settled<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        flusher: &Flusher,
        outcome: Result<(), WriteError>,
        trigger: Trigger,
    ) {
        match outcome {
            Ok(()) => {
                if self.backoff.failures() > 0 {
                    flusher.pause.set(consumer, &flusher.metrics, false);
                    tracing::info!(
                        failures = self.backoff.failures(),
                        "batch written after retries; fetching resumed"
                    );
                }
                self.backoff.reset();
                self.next = None;
            }
            Err(error) => {
                let delay = self.backoff.next_delay();
                flusher.metrics.retries.inc();
                tracing::warn!(%error, retry_in = ?delay, "batch write failed; fetching paused, nothing committed");
                flusher.pause.set(consumer, &flusher.metrics, true);
                self.next = Some((Instant::now() + delay, trigger));
            }
        }
    }

    /// A due retry found nothing left to write (a revocation gave its batch up): the streak
    /// ends once MongoDB answers pings; until then fetching stays paused and the check repeats
    /// with the backoff.
    fn nothing_to_retry<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        flusher: &Flusher,
        trigger: Trigger,
    ) {
        if self.next.is_none() || flusher.health.passing(Check::MongoPing) {
            self.settled(consumer, flusher, Ok(()), trigger);
        } else {
            self.next = Some((Instant::now() + self.backoff.next_delay(), trigger));
        }
    }

    /// What to write now, if anything: a due retry, or a due batch when no retry waits.
    fn trigger(&self, flusher: &Flusher, now: Instant) -> Option<Trigger> {
        match self.next {
            Some((at, trigger)) => (now >= at).then_some(trigger),
            None => flusher.due(now),
        }
    }
}

/// Runs until `shutdown` is cancelled, then flushes and commits what it holds.
pub fn run<C: ConsumerContext + WithOutage>(
    consumer: &BaseConsumer<C>,
    flusher: &Flusher,
    shutdown: &CancellationToken,
) {
    let mut retry = Retry {
        backoff: flusher.backoff(),
        next: None,
    };
    while !shutdown.is_cancelled() {
        let wake = retry.next.map(|(at, _)| at).or_else(|| flusher.deadline());
        let mut wait = wait_until(wake);
        if flusher.writing() {
            wait = wait.min(WRITING_POLL_WAIT);
        }
        poll_once(consumer, flusher, wait);
        while let Some((outcome, trigger)) = flusher.settle(consumer, false) {
            retry.settled(consumer, flusher, outcome, trigger);
        }
        flusher.commit_if_due(consumer);
        let Some(trigger) = retry.trigger(flusher, Instant::now()) else {
            continue;
        };
        // A retry goes one write at a time (its outcome ends or extends the failure streak);
        // otherwise a batch due while the most writes are in flight waits for the oldest,
        // which also bounds memory to about one batch more than the writes in flight.
        if (retry.next.is_some() || !flusher.can_start())
            && let Some((outcome, trigger)) = flusher.settle(consumer, true)
        {
            let failed = outcome.is_err();
            retry.settled(consumer, flusher, outcome, trigger);
            if failed {
                continue;
            }
        }
        if !flusher.start(trigger) {
            retry.nothing_to_retry(consumer, flusher, trigger);
        }
    }
    drain(consumer, flusher);
}

fn wait_until(wake: Option<Instant>) -> Duration {
    wake.map_or(MAX_POLL_WAIT, |at| {
        at.saturating_duration_since(Instant::now())
    })
    .min(MAX_POLL_WAIT)
}

fn poll_once<C: ConsumerContext + WithOutage>(
    consumer: &BaseConsumer<C>,
    flusher: &Flusher,
    wait: Duration,
) {
    match consumer.poll(wait) {
        Some(Ok(message)) if flusher.pause.is_paused() => {
            flusher.pause.hand_back(consumer, &message);
        }
        Some(Ok(message)) => flusher.accept(&message),
        Some(Err(error)) => consumer.context().outage().failed(&error.to_string()),
        None => {}
    }
}

/// Shutdown: stop fetching, write what is pending (bounded), commit synchronously.
fn drain<C: ConsumerContext>(consumer: &BaseConsumer<C>, flusher: &Flusher) {
    flusher.pause.set(consumer, &flusher.metrics, true);
    flusher.flush_or_give_up(consumer, Trigger::Shutdown, None);
    flusher.commit_progress(consumer, None);
    tracing::info!("batch flushed and offsets committed; leaving the group");
}
