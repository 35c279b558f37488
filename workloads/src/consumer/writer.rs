//! Writing one batch: its events into MongoDB, then its poison messages into the DLQ. Each part
//! shrinks as it is written, so a retry repeats only what failed.

use tracing::instrument;

use crate::document::to_document;

use super::{batch::Batch, dlq::DeadLetters, metrics::ConsumerMetrics, sink::Sink};

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
    pub async fn write(&self, batch: &mut Batch) -> Result<(), String> {
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
}
