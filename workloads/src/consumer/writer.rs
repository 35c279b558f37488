//! Writing one batch: its events into MongoDB, then its poison messages into the DLQ, among them
//! the events MongoDB refused for good. Each part shrinks as it is written, so a retry repeats
//! only what failed.

use tracing::instrument;

use crate::document::to_document;

use super::{
    batch::{Batch, Poison, Record},
    dlq::DeadLetters,
    metrics::ConsumerMetrics,
    sink::{Rejected, Sink, WriteError},
};

/// The dead-letter reason of an event MongoDB refused.
pub const REJECTED_BY_SINK: &str = "rejected_by_mongodb";

/// The destinations of a batch.
#[derive(Debug)]
pub struct Writer {
    /// Pipeline name, for traces.
    pub pipeline: String,
    /// The MongoDB collection.
    pub sink: Sink,
    /// The dead-letter topic.
    pub dead_letters: DeadLetters,
    /// Counters of written, duplicate and dead-lettered events.
    pub metrics: ConsumerMetrics,
}

impl Writer {
    /// Writes what is pending in `batch`; `Ok` once all of it is in MongoDB or the DLQ.
    #[instrument(name = "write_batch", skip_all, fields(
        pipeline = %self.pipeline,
        events = batch.records.len(),
        poison = batch.poison.len(),
    ))]
    pub async fn write(&self, batch: &mut Batch) -> Result<(), WriteError> {
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
            let records = std::mem::take(&mut batch.records);
            batch.poison.extend(refused(records, &written.rejected));
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
}

/// The records MongoDB refused, as poison for the dead-letter topic (the event's JSON, its key,
/// and the server's code and message as the reason).
fn refused(records: Vec<Record>, rejected: &[Rejected]) -> Vec<Poison> {
    let mut records: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    rejected
        .iter()
        .filter_map(|rejection| {
            let record = records.get_mut(rejection.index)?.take()?;
            Some(Poison {
                key: record.key.map(String::into_bytes),
                value: Some(record.event.to_json()),
                headers: Vec::new(),
                partition: record.partition,
                offset: record.offset,
                code: REJECTED_BY_SINK,
                reason: format!(
                    "MongoDB refused the document (code {}): {}",
                    rejection.code, rejection.message
                ),
            })
        })
        .collect()
}
