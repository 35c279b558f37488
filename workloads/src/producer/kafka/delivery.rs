//! One acknowledgement wait per request. librdkafka reports each record's delivery on its
//! polling thread; the reports of one request's records are gathered into one shared
//! [`Pending`], whose waiter is woken once, by the last report. A future, a channel and a task
//! wake-up per event (rdkafka's `FutureProducer`) cost the producer more CPU than the broker
//! spends on the event.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use rdkafka::{
    ClientContext, Message, Statistics,
    producer::{DeliveryResult, ProducerContext},
};
use tokio::sync::oneshot;

use super::{Ack, PublishError};

/// Whether the idempotent producer holds a producer id (its state is `Assigned`), from
/// librdkafka's statistics. Until then, and while it re-acquires one after a broker failure, an
/// event would wait for the id before it could be sent.
#[derive(Debug, Clone, Default)]
pub struct ProducerIdState {
    assigned: Arc<AtomicBool>,
}

impl ProducerIdState {
    /// Whether the last statistics showed a producer id.
    pub fn assigned(&self) -> bool {
        self.assigned.load(Ordering::Relaxed)
    }
}

/// The producer client's context: the producer id from the statistics, and the delivery
/// reports routed to the request that sent each record.
#[derive(Debug, Clone, Default)]
pub struct SinkContext {
    pub producer_id: ProducerIdState,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        let assigned = statistics
            .eos
            .is_some_and(|eos| eos.idemp_state == "Assigned");
        self.producer_id.assigned.store(assigned, Ordering::Relaxed);
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<Slot>) {
        let outcome = match result {
            Ok(message) => Ok(Ack {
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err((error, _)) => Err(PublishError::from_kafka(error)),
        };
        slot.pending.report(slot.index, outcome);
    }
}

/// Where one record's report goes: its request's [`Pending`] and its place in the request.
pub struct Slot {
    pending: Arc<Pending>,
    index: usize,
}

/// The reports of one request's records, and the waiter woken by the last.
pub struct Pending {
    remaining: AtomicUsize,
    outcomes: Mutex<Vec<Option<Result<Ack, PublishError>>>>,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Pending {
    /// A request of `records` records, and what resolves once all are reported: at once for
    /// none (a replay whose every dead letter was refused publishes nothing, and must not wait
    /// for a report that never comes).
    pub fn new(records: usize) -> (Arc<Self>, oneshot::Receiver<()>) {
        let (sender, receiver) = oneshot::channel();
        let pending = Self {
            remaining: AtomicUsize::new(records),
            outcomes: Mutex::new(vec![None; records]),
            done: Mutex::new(Some(sender)),
        };
        if records == 0 {
            pending.wake();
        }
        (Arc::new(pending), receiver)
    }

    /// Where the report of the request's record number `index` goes.
    pub fn slot(self: &Arc<Self>, index: usize) -> Slot {
        Slot {
            pending: Arc::clone(self),
            index,
        }
    }

    fn report(&self, index: usize, outcome: Result<Ack, PublishError>) {
        if let Some(place) = self.lock_outcomes().get_mut(index) {
            *place = Some(outcome);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake();
        }
    }

    /// Wakes the request: every record was reported.
    fn wake(&self) {
        let done = self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            let _ = done.send(()); // the request may have stopped waiting (timed out)
        }
    }

    /// Every record's acknowledgement in request order, or the first failure; called once
    /// all were reported.
    pub fn outcome(&self) -> Result<Vec<Ack>, PublishError> {
        self.lock_outcomes()
            .iter_mut()
            .map(|outcome| outcome.take().unwrap_or(Err(PublishError::TimedOut)))
            .collect()
    }

    fn lock_outcomes(&self) -> std::sync::MutexGuard<'_, Vec<Option<Result<Ack, PublishError>>>> {
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_report_wakes_the_request_with_every_ack_in_request_order() {
        let (pending, done) = Pending::new(3);
        for (index, offset) in [(2, 30), (0, 10)] {
            pending.report(
                index,
                Ok(Ack {
                    partition: 0,
                    offset,
                }),
            );
        }
        assert!(
            pending.remaining.load(Ordering::Acquire) == 1,
            "one still unreported"
        );
        pending.report(
            1,
            Ok(Ack {
                partition: 1,
                offset: 20,
            }),
        );
        done.await.expect("woken by the last report");
        let offsets: Vec<i64> = pending
            .outcome()
            .expect("all acknowledged")
            .iter()
            .map(|a| a.offset)
            .collect();
        assert_eq!(offsets, [10, 20, 30]);
    }

    #[tokio::test]
    async fn a_request_of_no_records_is_done_at_once() {
        let (pending, done) = Pending::new(0);
        tokio::time::timeout(std::time::Duration::from_secs(1), done)
            .await
            .expect("no report to wait for")
            .expect("woken");
        assert_eq!(pending.outcome(), Ok(Vec::new()));
    }

    #[tokio::test]
    async fn one_failed_record_fails_the_request() {
        let (pending, done) = Pending::new(2);
        pending.report(
            0,
            Ok(Ack {
                partition: 0,
                offset: 1,
            }),
        );
        pending.report(1, Err(PublishError::TimedOut));
        done.await.expect("woken");
        assert_eq!(pending.outcome(), Err(PublishError::TimedOut));
    }
}
