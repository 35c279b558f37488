//! The operator's Prometheus metrics, served on `/metrics` by the admin server.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::{Result, crd::EventPipeline, scaling::ScalingMetrics};

/// Reconcile counters and histograms, pipelines per condition, and each pipeline's conditions.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    duration: HistogramVec,
    errors: IntCounterVec,
    pipelines: IntGaugeVec,
    condition: IntGaugeVec,
    kafka_clients: IntGauge,
    conditions: Mutex<HashMap<String, Vec<(String, String)>>>,
    scaling: ScalingMetrics,
}

impl Metrics {
    /// Registers the operator's metrics in a new registry.
    pub fn new() -> Result<Self> {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "eventflow_operator_reconciles_total",
                "Reconciles by result",
            ),
            &["result"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "eventflow_operator_reconcile_duration_seconds",
                "Reconcile duration",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["result"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "eventflow_operator_errors_total",
                "Reconcile errors by kind",
            ),
            &["kind"],
        )?;
        let pipelines = IntGaugeVec::new(
            Opts::new(
                "eventflow_operator_pipelines",
                "Pipelines by condition and status",
            ),
            &["condition", "status"],
        )?;
        let condition = IntGaugeVec::new(
            Opts::new(
                "eventflow_pipeline_condition",
                "1 for each condition of a pipeline at its current status (True, False or Unknown)",
            ),
            &["pipeline", "condition", "status"],
        )?;
        let kafka_clients = IntGauge::new(
            "eventflow_operator_kafka_clients",
            "Kafka clients the operator holds: one per connection, for topics and lag alike",
        )?;
        registry.register(Box::new(kafka_clients.clone()))?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(pipelines.clone()))?;
        registry.register(Box::new(condition.clone()))?;
        let scaling = ScalingMetrics::register(&registry)?;
        Ok(Self {
            registry,
            reconciles,
            duration,
            errors,
            pipelines,
            condition,
            kafka_clients,
            conditions: Mutex::new(HashMap::new()),
            scaling,
        })
    }

    /// The registry to serve (other modules may register into it too).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The scaler's per-pipeline figures (lag, replicas, scale events), in the same registry.
    pub fn scaling(&self) -> &ScalingMetrics {
        &self.scaling
    }

    /// Counts a reconcile and its duration; `result` is `success` or `error`.
    pub fn reconciled(&self, result: &str, elapsed: Duration) {
        self.reconciles.with_label_values(&[result]).inc();
        self.duration
            .with_label_values(&[result])
            .observe(elapsed.as_secs_f64());
    }

    /// Records how many Kafka clients the operator holds (one per connection).
    pub fn kafka_clients(&self, clients: usize) {
        self.kafka_clients
            .set(i64::try_from(clients).unwrap_or(i64::MAX));
    }

    /// Counts an error by kind.
    pub fn error(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    /// Records a pipeline's current conditions in the per-condition gauges.
    pub fn record_conditions(&self, pipeline: &EventPipeline, conditions: &[Condition]) {
        let key = pipeline.object_key();
        let current = conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect();
        let mut tracked = self
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = tracked.insert(key.clone(), current) {
            self.adjust(&key, &previous, -1);
        }
        if let Some(current) = tracked.get(&key) {
            self.adjust(&key, current, 1);
        }
    }

    /// Drops a deleted pipeline from the per-condition gauges.
    pub fn forget(&self, pipeline: &EventPipeline) {
        let key = pipeline.object_key();
        let mut tracked = self
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = tracked.remove(&key) {
            self.adjust(&key, &previous, -1);
        }
    }

    /// Adds (`by` = 1) or takes away (-1) one pipeline's conditions.
    fn adjust(&self, pipeline: &str, conditions: &[(String, String)], by: i64) {
        for (condition, status) in conditions {
            self.pipelines
                .with_label_values(&[condition.as_str(), status.as_str()])
                .add(by);
            let labels = [pipeline, condition.as_str(), status.as_str()];
            if by > 0 {
                self.condition.with_label_values(&labels).set(1);
            } else {
                // A series that is not there (never set) is fine.
                let _ = self.condition.remove_label_values(&labels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: "Test".to_owned(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ),
        }
    }

    fn gauge(metrics: &Metrics, condition: &str, status: &str) -> i64 {
        metrics
            .pipelines
            .with_label_values(&[condition, status])
            .get()
    }

    /// The (condition, status) pairs of `ns/a` in the per-pipeline gauge.
    fn series(metrics: &Metrics) -> Vec<(String, String)> {
        let family = metrics
            .registry()
            .gather()
            .into_iter()
            .find(|family| family.name() == "eventflow_pipeline_condition");
        family
            .map(|family| {
                family
                    .get_metric()
                    .iter()
                    .map(|metric| {
                        let label = |name: &str| {
                            metric
                                .get_label()
                                .iter()
                                .find(|pair| pair.name() == name)
                                .map(|pair| pair.value().to_owned())
                                .unwrap_or_default()
                        };
                        assert_eq!(label("pipeline"), "ns/a");
                        (label("condition"), label("status"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn registry_exposes_reconciles_durations_errors_and_pipelines() {
        let metrics = Metrics::new().unwrap();
        metrics.reconciled("success", Duration::from_millis(20));
        metrics.error("kafka");
        metrics.kafka_clients(1);
        let pipeline = EventPipeline::new("a", crate::crd::EventPipelineSpec::default());
        metrics.record_conditions(&pipeline, &[condition("Ready", "True")]);
        let names: Vec<String> = metrics
            .registry()
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "eventflow_lag_poll_delay_seconds",
                "eventflow_operator_errors_total",
                "eventflow_operator_kafka_clients",
                "eventflow_operator_pipelines",
                "eventflow_operator_reconcile_duration_seconds",
                "eventflow_operator_reconciles_total",
                "eventflow_pipeline_condition",
            ]
        );
    }

    #[test]
    fn pipelines_gauge_moves_with_condition_changes_and_deletion() {
        let metrics = Metrics::new().unwrap();
        let mut pipeline = EventPipeline::new("a", crate::crd::EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("ns".to_owned());
        metrics.record_conditions(&pipeline, &[condition("Ready", "False")]);
        assert_eq!(gauge(&metrics, "Ready", "False"), 1);
        assert_eq!(series(&metrics), [("Ready".to_owned(), "False".to_owned())]);
        metrics.record_conditions(&pipeline, &[condition("Ready", "True")]);
        assert_eq!(gauge(&metrics, "Ready", "False"), 0);
        assert_eq!(gauge(&metrics, "Ready", "True"), 1);
        assert_eq!(series(&metrics), [("Ready".to_owned(), "True".to_owned())]);
        metrics.forget(&pipeline);
        assert_eq!(gauge(&metrics, "Ready", "True"), 0);
        assert!(series(&metrics).is_empty());
    }
}
