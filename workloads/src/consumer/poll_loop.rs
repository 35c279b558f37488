//! The consumer thread: poll, batch, write, commit; pause while a write keeps failing; on
//! shutdown stop fetching, flush and commit.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use tokio_util::sync::CancellationToken;

use super::{batch::Trigger, flush::Flusher, sink::Backoff};

/// Longest single `poll`, so shutdown and batch deadlines are noticed promptly.
const MAX_POLL_WAIT: Duration = Duration::from_millis(100);

/// A failed batch waiting for its next attempt.
#[derive(Debug, Clone, Copy)]
struct Retry {
    at: Instant,
    trigger: Trigger,
}

/// Runs until `shutdown` is cancelled, then flushes and commits what it holds.
pub fn run<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    flusher: &Flusher,
    shutdown: &CancellationToken,
) {
    let mut backoff = flusher.backoff();
    let mut retry: Option<Retry> = None;
    while !shutdown.is_cancelled() {
        let wake = retry.map(|r| r.at).or_else(|| flusher.deadline());
        poll_once(consumer, flusher, wait_until(wake));
        let now = Instant::now();
        let trigger = match retry {
            Some(pending) if now >= pending.at => Some(pending.trigger),
            Some(_) => None,
            None => flusher.due(now),
        };
        if let Some(trigger) = trigger {
            retry = attempt(consumer, flusher, trigger, &mut backoff);
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

fn poll_once<C: ConsumerContext>(consumer: &BaseConsumer<C>, flusher: &Flusher, wait: Duration) {
    match consumer.poll(wait) {
        Some(Ok(message)) => flusher.accept(&message),
        Some(Err(error)) => tracing::warn!(%error, "kafka consumer error"),
        None => {}
    }
}

/// One write attempt; on failure pause fetching and schedule the next attempt.
fn attempt<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    flusher: &Flusher,
    trigger: Trigger,
    backoff: &mut Backoff,
) -> Option<Retry> {
    match flusher.try_flush(trigger) {
        Ok(offsets) => {
            flusher.commit(consumer, &offsets, CommitMode::Async);
            if backoff.failures() > 0 {
                set_paused(consumer, flusher, false);
                tracing::info!(
                    failures = backoff.failures(),
                    "batch written after retries; fetching resumed"
                );
            }
            backoff.reset();
            None
        }
        Err(error) => {
            let delay = backoff.next_delay();
            flusher.metrics.retries.inc();
            tracing::warn!(%error, retry_in = ?delay, "batch write failed; fetching paused, nothing committed");
            set_paused(consumer, flusher, true);
            Some(Retry {
                at: Instant::now() + delay,
                trigger,
            })
        }
    }
}

/// Pauses or resumes fetching on the whole current assignment.
fn set_paused<C: ConsumerContext>(consumer: &BaseConsumer<C>, flusher: &Flusher, paused: bool) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let result = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(error) = result {
        tracing::warn!(%error, paused, "cannot pause/resume the assignment");
    }
    flusher.metrics.paused.set(i64::from(paused));
}

/// Shutdown: stop fetching, write the batch (bounded), commit synchronously.
fn drain<C: ConsumerContext>(consumer: &BaseConsumer<C>, flusher: &Flusher) {
    set_paused(consumer, flusher, true);
    let deadline = Instant::now() + flusher.settings.give_up_after;
    let mut backoff = flusher.backoff();
    while let Err(error) = flusher.try_flush(Trigger::Shutdown) {
        let delay = backoff.next_delay();
        flusher.metrics.retries.inc();
        if Instant::now() + delay > deadline {
            tracing::warn!(%error, "shutting down with an unwritten batch; it is not committed and will be read again");
            flusher.discard(None);
            break;
        }
        let until = Instant::now() + delay;
        while Instant::now() < until {
            poll_once(consumer, flusher, wait_until(Some(until)));
        }
    }
    flusher.commit_progress(consumer, None);
    tracing::info!("batch flushed and offsets committed; leaving the group");
}
