//! The consumer's Prometheus metrics, all prefixed `eventflow_consumer_` and labelled with the
//! pipeline.

use std::collections::HashMap;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::Result;

/// Every metric the consumer exposes on `/metrics`.
#[derive(Debug, Clone)]
pub struct ConsumerMetrics {
    /// The registry `/metrics` serves.
    pub registry: Registry,
    /// Messages read from Kafka (valid or not).
    pub consumed: IntCounter,
    /// Events newly inserted into MongoDB.
    pub written: IntCounter,
    /// Events MongoDB already had (redeliveries, repeated ids).
    pub duplicates: IntCounter,
    /// Messages written to the dead-letter topic, by reason.
    pub dead_lettered: IntCounterVec,
    /// Batches handled, by what triggered the write.
    pub batches: IntCounterVec,
    /// Messages per handled batch.
    pub batch_size: Histogram,
    /// Duration of one MongoDB `insert_many`.
    pub write_seconds: Histogram,
    /// Batch latency: from a batch's first message read to the batch written (offsets recorded).
    pub batch_seconds: Histogram,
    /// Failed batch writes that were scheduled again.
    pub retries: IntCounter,
    /// 1 while fetching is paused because a batch cannot be written.
    pub paused: IntGauge,
    /// Partitions currently assigned.
    pub assigned_partitions: IntGauge,
    /// Last committed offset, per partition.
    pub committed_offset: IntGaugeVec,
    /// High watermark minus committed offset, per assigned partition, as librdkafka sees it.
    pub lag: IntGaugeVec,
}

impl ConsumerMetrics {
    /// Creates and registers the metrics for `pipeline`.
    pub fn new(pipeline: &str) -> Result<Self> {
        let labels = HashMap::from([("pipeline".to_owned(), pipeline.to_owned())]);
        let registry = Registry::new_custom(Some("eventflow_consumer".into()), Some(labels))?;
        let counter = |name: &str, help: &str| -> Result<IntCounter> {
            let counter = IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let counter_vec = |name: &str, help: &str, label: &str| -> Result<IntCounterVec> {
            let counter = IntCounterVec::new(Opts::new(name, help), &[label])?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let gauge_vec = |name: &str, help: &str| -> Result<IntGaugeVec> {
            let gauge = IntGaugeVec::new(Opts::new(name, help), &["partition"])?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge> {
            let gauge = IntGauge::new(name, help)?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| -> Result<Histogram> {
            let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
            registry.register(Box::new(histogram.clone()))?;
            Ok(histogram)
        };
        Ok(Self {
            consumed: counter("events_consumed_total", "Messages read from Kafka.")?,
            written: counter(
                "events_written_total",
                "Events newly inserted into MongoDB.",
            )?,
            duplicates: counter(
                "events_duplicate_total",
                "Events MongoDB already had (duplicate key).",
            )?,
            dead_lettered: counter_vec(
                "events_dead_lettered_total",
                "Messages written to the dead-letter topic.",
                "reason",
            )?,
            batches: counter_vec("batches_total", "Batches handled, by trigger.", "trigger")?,
            batch_size: histogram(
                "batch_size",
                "Messages per handled batch.",
                prometheus::exponential_buckets(1.0, 2.0, 15)?,
            )?,
            write_seconds: histogram(
                "write_duration_seconds",
                "Duration of one MongoDB insert_many.",
                prometheus::exponential_buckets(0.001, 2.0, 16)?,
            )?,
            batch_seconds: histogram(
                "batch_duration_seconds",
                "From a batch's first message read to the batch written and its offsets recorded.",
                prometheus::exponential_buckets(0.005, 2.0, 14)?,
            )?,
            retries: counter("write_retries_total", "Failed batch writes retried.")?,
            paused: gauge("paused", "1 while fetching is paused by a failing write.")?,
            assigned_partitions: gauge("assigned_partitions", "Partitions assigned.")?,
            committed_offset: gauge_vec("committed_offset", "Last committed offset.")?,
            lag: gauge_vec("lag", "High watermark minus committed offset.")?,
            registry,
        })
    }

    /// Forgets the per-partition series of partitions this consumer no longer owns.
    pub fn forget_partitions(&self, partitions: &[i32]) {
        for partition in partitions {
            let label = partition.to_string();
            // A partition without series yet is fine.
            drop(self.committed_offset.remove_label_values(&[&label]));
            drop(self.lag.remove_label_values(&[&label]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_carry_the_prefix_and_the_pipeline_label() {
        let metrics = ConsumerMetrics::new("orders").unwrap();
        metrics.written.inc_by(2);
        metrics.committed_offset.with_label_values(&["3"]).set(17);
        let names: Vec<_> = metrics
            .registry
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect();
        assert!(names.contains(&"eventflow_consumer_events_written_total".to_owned()));
        assert!(names.contains(&"eventflow_consumer_committed_offset".to_owned()));
        metrics.forget_partitions(&[3]);
        let committed = metrics
            .registry
            .gather()
            .into_iter()
            .find(|family| family.name() == "eventflow_consumer_committed_offset");
        assert!(committed.is_none_or(|family| family.get_metric().is_empty()));
    }
}
