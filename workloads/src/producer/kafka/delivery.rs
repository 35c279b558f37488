//! One acknowledgement wait per request. librdkafka reports each record's delivery on its
//! polling thread, handing back the record's [`Slot`]; the slots of one request share one
//! [`Pending`], whose last reference, dropped with the last slot, sends the request every
//! outcome ([`Ack`] or [`PublishError`]) at once. A future, a channel and a task wake-up per
//! event (rdkafka's `FutureProducer`) cost the producer more CPU than the broker spends on the
//! event. The client's context ([`SinkContext`]) also keeps the producer id's state
//! ([`ProducerIdState`]) from librdkafka's statistics.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use eventflow_contract::outage::Outage;
use rdkafka::{
    ClientContext, Message, Statistics,
    config::RDKafkaLogLevel,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{DeliveryResult, ProducerContext},
};
use tokio::sync::oneshot;

/// Where Kafka stored an acknowledged event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Partition of the topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
}

/// Why events were not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The local queue has no room: back off.
    #[error("the local producer queue is full")]
    QueueFull,
    /// No acknowledgement within the delivery timeout (Kafka unreachable or slow).
    #[error("kafka did not acknowledge within the delivery timeout")]
    TimedOut,
    /// Kafka refused the events.
    #[error("kafka refused the events: {0}")]
    Failed(String),
}

impl PublishError {
    /// Label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::TimedOut => "timed_out",
            Self::Failed(_) => "failed",
        }
    }

    /// The outcome a librdkafka error stands for.
    pub(super) fn from_kafka(error: &KafkaError) -> Self {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::QueueFull) => Self::QueueFull,
            Some(RDKafkaErrorCode::MessageTimedOut) => Self::TimedOut,
            _ => Self::Failed(error.to_string()),
        }
    }
}

/// Whether the idempotent producer holds a producer id (its state is `Assigned`), from
/// librdkafka's statistics. Until then, and while it re-acquires one after a broker failure, an
/// event would wait for the id before it could be sent.
#[derive(Debug, Default)]
pub struct ProducerIdState {
    assigned: AtomicBool,
}

impl ProducerIdState {
    /// Whether the last statistics showed a producer id.
    pub fn assigned(&self) -> bool {
        self.assigned.load(Ordering::Relaxed)
    }

    /// Takes the state from a statistics report.
    fn observe(&self, statistics: &Statistics) {
        let assigned = statistics
            .eos
            .as_ref()
            .is_some_and(|eos| eos.idemp_state == "Assigned");
        self.assigned.store(assigned, Ordering::Relaxed);
    }
}

/// The producer client's context: the producer id from the statistics, each delivery report
/// handed to the request that sent the record, and librdkafka's log and errors written through
/// the connection's [`Outage`] ([`crate::kafka_log`]).
#[derive(Debug)]
pub struct SinkContext {
    pub producer_id: ProducerIdState,
    pub outage: Arc<Outage>,
}

impl SinkContext {
    /// The context of a producer connected to `bootstrap`.
    pub fn new(bootstrap: &str) -> Self {
        Self {
            producer_id: ProducerIdState::default(),
            outage: crate::kafka_log::outage(bootstrap),
        }
    }
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        crate::kafka_log::log(&self.outage, level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::kafka_log::error(&self.outage, &error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        self.producer_id.observe(&statistics);
        crate::kafka_log::stats(&self.outage, &statistics);
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<Slot>) {
        let outcome = match result {
            Ok(message) => {
                self.outage.recovered();
                Ok(Ack {
                    partition: message.partition(),
                    offset: message.offset(),
                })
            }
            Err((error, _)) => Err(PublishError::from_kafka(error)),
        };
        slot.report(outcome);
    }
}

/// Each record's outcome in request order; `None` for a record whose slot went without a report.
type Outcomes = Vec<Option<Result<Ack, PublishError>>>;

/// Where one record's report goes: its request's [`Pending`] and its place in the request.
pub struct Slot {
    pending: Arc<Pending>,
    index: usize,
}

impl Slot {
    /// Records the outcome of the slot's record.
    pub fn report(self, outcome: Result<Ack, PublishError>) {
        let mut outcomes = self
            .pending
            .outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(place) = outcomes.get_mut(self.index) {
            *place = Some(outcome);
        }
    }
}

/// The outcomes of one request's records, sent to the request when the last reference goes:
/// after the last slot's report, or at once for a request of no records. A slot dropped
/// without a report (its record refused on enqueue, or never reported) leaves `None`, never a
/// wait that does not end.
pub struct Pending {
    outcomes: Mutex<Outcomes>,
    done: Option<oneshot::Sender<Outcomes>>,
}

impl Pending {
    /// A request of `records` records, and what receives their outcomes once the returned
    /// `Pending` and every [`Slot`] made from it are gone.
    pub fn new(records: usize) -> (Arc<Self>, oneshot::Receiver<Outcomes>) {
        let (sender, receiver) = oneshot::channel();
        let pending = Self {
            outcomes: Mutex::new(vec![None; records]),
            done: Some(sender),
        };
        (Arc::new(pending), receiver)
    }

    /// Where the report of the request's record number `index` goes.
    pub fn slot(self: &Arc<Self>, index: usize) -> Slot {
        Slot {
            pending: Arc::clone(self),
            index,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let outcomes = std::mem::take(
            self.outcomes
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if let Some(done) = self.done.take() {
            let _ = done.send(outcomes); // the request may have stopped waiting (timed out)
        }
    }
}

/// Every record's acknowledgement in request order, or the first failure; a record without a
/// report counts as not acknowledged in time.
pub fn acks(outcomes: Outcomes) -> Result<Vec<Ack>, PublishError> {
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Err(PublishError::TimedOut)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(partition: i32, offset: i64) -> Ack {
        Ack { partition, offset }
    }

    #[tokio::test]
    async fn the_last_report_wakes_the_request_with_every_ack_in_request_order() {
        let (pending, mut done) = Pending::new(3);
        let mut slots: Vec<_> = (0..3).map(|index| pending.slot(index)).collect();
        drop(pending);
        let last = slots.remove(1);
        for (slot, offset) in slots.into_iter().zip([10, 30]) {
            slot.report(Ok(ack(0, offset)));
        }
        assert!(done.try_recv().is_err(), "one still unreported");
        last.report(Ok(ack(1, 20)));
        let outcomes = done.await.expect("woken by the last report");
        let offsets: Vec<i64> = acks(outcomes)
            .expect("all acknowledged")
            .iter()
            .map(|a| a.offset)
            .collect();
        assert_eq!(offsets, [10, 20, 30]);
    }

    #[tokio::test]
    async fn a_request_of_no_records_is_done_at_once() {
        let (pending, done) = Pending::new(0);
        drop(pending);
        let outcomes = tokio::time::timeout(std::time::Duration::from_secs(1), done)
            .await
            .expect("no report to wait for")
            .expect("woken");
        assert_eq!(acks(outcomes), Ok(Vec::new()));
    }

    #[tokio::test]
    async fn one_failed_record_fails_the_request() {
        let (pending, done) = Pending::new(2);
        pending.slot(0).report(Ok(ack(0, 1)));
        pending.slot(1).report(Err(PublishError::TimedOut));
        drop(pending);
        assert_eq!(
            acks(done.await.expect("woken")),
            Err(PublishError::TimedOut)
        );
    }

    #[tokio::test]
    async fn a_slot_gone_without_a_report_ends_the_wait_as_not_acknowledged() {
        let (pending, done) = Pending::new(2);
        pending.slot(0).report(Ok(ack(0, 1)));
        drop(pending.slot(1));
        drop(pending);
        assert_eq!(
            acks(done.await.expect("woken")),
            Err(PublishError::TimedOut)
        );
    }
}
