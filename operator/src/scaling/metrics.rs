//! Prometheus figures of the scaler, per pipeline: lag, current, desired and most consumers, the
//! rule behind the latest decision, and scale events by direction. The controller and the local
//! runtime register the same set.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::{Decision, Direction, Rule};
use crate::scaling::LagSample;

/// The label values of the scale-events counter.
const DIRECTIONS: [Direction; 2] = [Direction::Up, Direction::Down];

/// The scaler's metrics, labelled by `pipeline` (`namespace/name`).
#[derive(Debug, Clone)]
pub struct ScalingMetrics {
    lag: IntGaugeVec,
    partitions_with_lag: IntGaugeVec,
    replicas: IntGaugeVec,
    desired_replicas: IntGaugeVec,
    max_replicas: IntGaugeVec,
    rule: IntGaugeVec,
    scale_events: IntCounterVec,
    measurement_errors: IntCounterVec,
    poll_delay: Histogram,
}

impl ScalingMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help).namespace("eventflow"), &["pipeline"])
        };
        let metrics = Self {
            lag: gauge(
                "consumer_group_lag",
                "Total consumer-group lag (records), as the scaler measured it.",
            )?,
            partitions_with_lag: gauge("partitions_with_lag", "Partitions whose lag is above 0.")?,
            replicas: gauge("consumer_replicas", "Consumer replicas running now.")?,
            desired_replicas: gauge(
                "consumer_desired_replicas",
                "Consumer replicas the scaler wants.",
            )?,
            max_replicas: gauge(
                "consumer_max_replicas",
                "Most consumer replicas the scaler may run: min(maxReplicas, partitions).",
            )?,
            rule: IntGaugeVec::new(
                Opts::new(
                    "scaling_rule",
                    "1 for the rule behind the latest scaling decision (the reason's kind).",
                )
                .namespace("eventflow"),
                &["pipeline", "rule"],
            )?,
            scale_events: IntCounterVec::new(
                Opts::new("scale_events_total", "Consumer scale events by direction.")
                    .namespace("eventflow"),
                &["pipeline", "direction"],
            )?,
            measurement_errors: IntCounterVec::new(
                Opts::new(
                    "lag_measurement_errors_total",
                    "Lag measurements that failed.",
                )
                .namespace("eventflow"),
                &["pipeline"],
            )?,
            poll_delay: Histogram::with_opts(
                HistogramOpts::new(
                    "lag_poll_delay_seconds",
                    "How late each lag poll started behind its schedule (previous poll + pollInterval).",
                )
                .namespace("eventflow")
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
            )?,
        };
        registry.register(Box::new(metrics.poll_delay.clone()))?;
        registry.register(Box::new(metrics.lag.clone()))?;
        registry.register(Box::new(metrics.partitions_with_lag.clone()))?;
        registry.register(Box::new(metrics.replicas.clone()))?;
        registry.register(Box::new(metrics.desired_replicas.clone()))?;
        registry.register(Box::new(metrics.max_replicas.clone()))?;
        registry.register(Box::new(metrics.rule.clone()))?;
        registry.register(Box::new(metrics.scale_events.clone()))?;
        registry.register(Box::new(metrics.measurement_errors.clone()))?;
        Ok(metrics)
    }

    /// Records one measurement and the decision taken on it.
    pub fn observe(&self, pipeline: &str, sample: &LagSample, decision: &Decision) {
        self.lag
            .with_label_values(&[pipeline])
            .set(i64::try_from(sample.total).unwrap_or(i64::MAX));
        self.partitions_with_lag
            .with_label_values(&[pipeline])
            .set(i64::from(sample.partitions_with_lag));
        self.record(pipeline, decision);
    }

    /// Records how late a poll started behind its schedule.
    pub fn poll_delayed(&self, delay: Duration) {
        self.poll_delay.observe(delay.as_secs_f64());
    }

    /// Records a failed measurement and the hold decision.
    pub fn observe_failure(&self, pipeline: &str, decision: &Decision) {
        self.measurement_errors.with_label_values(&[pipeline]).inc();
        self.record(pipeline, decision);
    }

    /// Sets the running replicas (after a scale took effect).
    pub fn set_replicas(&self, pipeline: &str, replicas: u32) {
        self.replicas
            .with_label_values(&[pipeline])
            .set(i64::from(replicas));
    }

    /// Drops every series of a pipeline that is gone.
    pub fn forget(&self, pipeline: &str) {
        for gauge in [
            &self.lag,
            &self.partitions_with_lag,
            &self.replicas,
            &self.desired_replicas,
            &self.max_replicas,
        ] {
            let _ = gauge.remove_label_values(&[pipeline]);
        }
        self.clear_rule(pipeline);
        let _ = self.measurement_errors.remove_label_values(&[pipeline]);
        for direction in DIRECTIONS {
            let _ = self
                .scale_events
                .remove_label_values(&[pipeline, direction.as_str()]);
        }
    }

    fn record(&self, pipeline: &str, decision: &Decision) {
        self.replicas
            .with_label_values(&[pipeline])
            .set(i64::from(decision.current));
        self.desired_replicas
            .with_label_values(&[pipeline])
            .set(i64::from(decision.desired));
        if let Some(cap) = decision.cap {
            self.max_replicas
                .with_label_values(&[pipeline])
                .set(i64::from(cap));
        }
        self.clear_rule(pipeline);
        self.rule
            .with_label_values(&[pipeline, decision.rule.as_str()])
            .set(1);
        // Both directions exist from the first decision on, at 0 until a scale: `increase()`
        // then reads 0 rather than nothing.
        for direction in DIRECTIONS {
            let events = self
                .scale_events
                .with_label_values(&[pipeline, direction.as_str()]);
            if decision.direction() == Some(direction) {
                events.inc();
            }
        }
    }

    /// Removes the rule series of a pipeline (one rule at a time carries the 1).
    fn clear_rule(&self, pipeline: &str) {
        for rule in Rule::ALL {
            let _ = self.rule.remove_label_values(&[pipeline, rule.as_str()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use prometheus::{Encoder, TextEncoder};

    use super::*;
    use crate::scaling::{History, Input, Policy, decide, hold};

    fn exposition(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_scale_up_is_counted_and_gauges_follow_the_decision() {
        let registry = Registry::new();
        let metrics = ScalingMetrics::register(&registry).unwrap();
        let sample = LagSample {
            per_partition: Vec::new(),
            total: 5400,
            partitions_with_lag: 6,
            measured_at: Utc::now(),
            assignment: None,
        };
        let input = Input {
            sample: &sample,
            partitions: 6,
            current_replicas: 2,
            ready_replicas: 2,
        };
        let decision = decide(&Policy::new(1, 10, 1000), &input, &mut History::default());
        metrics.observe("default/orders", &sample, &decision);
        metrics.observe_failure("default/orders", &hold(6, &"broker down"));
        let text = exposition(&registry);
        assert!(
            !text.contains("rule=\"LagThreshold\""),
            "one rule at a time:\n{text}"
        );
        for line in [
            "eventflow_consumer_group_lag{pipeline=\"default/orders\"} 5400",
            "eventflow_consumer_desired_replicas{pipeline=\"default/orders\"} 6",
            "eventflow_consumer_max_replicas{pipeline=\"default/orders\"} 6",
            "eventflow_scaling_rule{pipeline=\"default/orders\",rule=\"Hold\"} 1",
            "eventflow_scale_events_total{direction=\"up\",pipeline=\"default/orders\"} 1",
            "eventflow_scale_events_total{direction=\"down\",pipeline=\"default/orders\"} 0",
            "eventflow_lag_measurement_errors_total{pipeline=\"default/orders\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        metrics.forget("default/orders");
        assert!(!exposition(&registry).contains("default/orders"));
    }
}
