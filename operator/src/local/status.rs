//! The local runtime's live status: one line per change for people (like
//! `kubectl get eventpipeline -w`), or one JSON object per line with `--json` for scripts.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    assignment::Assignment,
    figures::{WorkloadFigures, millis},
};

/// Everything the status line shows: the figures of the Grafana dashboard for this pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalStatus {
    /// Pipeline name.
    pub pipeline: String,
    /// Kafka topic.
    pub topic: String,
    /// Partitions of the topic.
    pub partitions: i32,
    /// URL that takes `POST /v1/events`.
    pub producer_url: String,
    /// Whether the producer answers `/readyz`.
    pub producer_ready: bool,
    /// Consumer processes running now (one between restarts is not).
    pub consumers: u32,
    /// PIDs of the running consumer processes.
    pub consumer_pids: Vec<u32>,
    /// Who holds the partitions among the running consumers.
    #[serde(flatten)]
    pub assignment: Assignment,
    /// Consumer processes the scaler wants.
    pub desired_consumers: u32,
    /// Most consumer processes the scaler may run, `min(maxReplicas, partitions)` (autoscaling).
    pub max_consumers: Option<u32>,
    /// The rule behind the latest scaling decision, e.g. `LagThreshold` (autoscaling).
    pub scaling_rule: Option<String>,
    /// Total consumer-group lag, `None` before the first measurement or when it failed.
    pub lag: Option<i64>,
    /// How fast the lag grows (positive) or drains, records per second since the last status.
    pub lag_trend_per_second: Option<f64>,
    /// Events written to the topic per second (from high watermarks).
    pub produced_per_second: f64,
    /// Events committed by the consumers per second (from committed offsets).
    pub consumed_per_second: f64,
    /// Why the consumer count is what it is.
    pub last_scale_reason: String,
    /// Why the last lag measurement failed, if it did.
    pub measurement_error: Option<String>,
    /// Ingest, sink, dead letters, HTTP errors and readiness from the workloads' `/metrics`.
    #[serde(flatten)]
    pub workloads: WorkloadFigures,
    /// The `/metrics` of the producer and of each running consumer, which those figures read.
    pub workload_metrics: Vec<String>,
    /// When this status was taken.
    pub at: DateTime<Utc>,
}

impl LocalStatus {
    /// One human-readable line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{time}  {pipeline}  topic={topic}/{partitions}  consumers={current}/{desired} {assigned}  lag={lag}  in={inr:.0}/s  out={outr:.0}/s  producer={ready}",
            time = self.at.format("%H:%M:%S"),
            pipeline = self.pipeline,
            topic = self.topic,
            partitions = self.partitions,
            current = self.consumers,
            desired = self.desired_consumers,
            assigned = self.assignment.describe(self.partitions),
            lag = self
                .lag
                .map_or_else(|| "?".to_owned(), |lag| lag.to_string()),
            inr = self.produced_per_second,
            outr = self.consumed_per_second,
            ready = if self.producer_ready {
                "ready"
            } else {
                "starting"
            },
        );
        let figures = &self.workloads;
        let _ = write!(
            line,
            "  trend={trend}  ingest={ingest:.0}/s p99={ingest_p99} 4xx={e4:.1}/s 5xx={e5:.1}/s  written={written:.0}/s batch p99={batch_p99}  dlq={dlq:.1}/s  ready={pr}p/{cr}c",
            trend = self
                .lag_trend_per_second
                .map_or_else(|| "?".to_owned(), |trend| format!("{trend:+.0}/s")),
            ingest = figures.ingest_per_second,
            ingest_p99 = millis(figures.ingest_p99_seconds),
            e4 = figures.http_4xx_per_second,
            e5 = figures.http_5xx_per_second,
            written = figures.written_per_second,
            batch_p99 = millis(figures.batch_p99_seconds),
            dlq = figures.dead_letters_per_second,
            pr = figures.producers_ready,
            cr = figures.consumers_ready,
        );
        if let Some(max) = self.max_consumers {
            let _ = write!(line, "  max={max}");
        }
        if let Some(rule) = &self.scaling_rule {
            let _ = write!(line, "  rule={rule}");
        }
        if let Some(error) = &self.measurement_error {
            let _ = write!(line, "  lag unknown: {error}");
        } else if !self.last_scale_reason.is_empty() {
            let _ = write!(line, "  ({})", self.last_scale_reason);
        }
        line
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the change from `previous` is worth a new line (rates alone are not).
    pub fn differs_from(&self, previous: &Self) -> bool {
        let mut a = self.clone();
        let mut b = previous.clone();
        for status in [&mut a, &mut b] {
            status.produced_per_second = 0.0;
            status.consumed_per_second = 0.0;
            status.lag_trend_per_second = None;
            status.workloads = status.workloads.without_rates();
            status.at = DateTime::<Utc>::default();
        }
        a != b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> LocalStatus {
        LocalStatus {
            pipeline: "quickstart".into(),
            topic: "quickstart".into(),
            partitions: 6,
            producer_url: "http://127.0.0.1:8080".into(),
            producer_ready: true,
            consumers: 2,
            desired_consumers: 4,
            lag: Some(5400),
            produced_per_second: 1200.4,
            lag_trend_per_second: Some(-250.0),
            max_consumers: Some(6),
            scaling_rule: Some("LagThreshold".into()),
            workloads: WorkloadFigures {
                ingest_per_second: 1180.0,
                ingest_p99_seconds: Some(0.012),
                http_4xx_per_second: 2.0,
                written_per_second: 1150.0,
                batch_p99_seconds: Some(0.35),
                dead_letters_per_second: 0.5,
                producers_ready: 1,
                consumers_ready: 2,
                ..WorkloadFigures::default()
            },
            last_scale_reason: "scaled 2→4: lag 5400 over threshold 1000 on 6 partitions".into(),
            ..LocalStatus::default()
        }
    }

    #[test]
    fn the_line_shows_consumers_lag_rates_and_reason() {
        let line = status().line();
        for part in [
            "topic=quickstart/6",
            "consumers=2/4",
            "lag=5400",
            "in=1200/s",
            "scaled 2→4",
            "trend=-250/s",
            "ingest=1180/s p99=12ms 4xx=2.0/s 5xx=0.0/s",
            "written=1150/s batch p99=350ms",
            "dlq=0.5/s",
            "ready=1p/2c",
            "max=6",
            "rule=LagThreshold",
        ] {
            assert!(line.contains(part), "{part} missing in {line}");
        }
    }

    #[test]
    fn json_uses_camel_case_fields() {
        let value: serde_json::Value = serde_json::from_str(&status().json()).unwrap();
        assert_eq!(value["desiredConsumers"], 4);
        assert_eq!(value["lag"], 5400);
        assert_eq!(value["lagTrendPerSecond"], -250.0);
        assert_eq!(value["maxConsumers"], 6);
        assert_eq!(value["scalingRule"], "LagThreshold");
        assert_eq!(value["ingestP99Seconds"], 0.012);
        assert_eq!(value["batchP99Seconds"], 0.35);
        assert_eq!(value["deadLettersPerSecond"], 0.5);
        assert_eq!(value["http5xxPerSecond"], 0.0);
        assert_eq!(value["consumersReady"], 2);
    }

    #[test]
    fn a_rate_change_alone_is_not_a_new_line() {
        let mut next = status();
        next.produced_per_second = 10.0;
        next.lag_trend_per_second = Some(3.0);
        next.workloads.ingest_p99_seconds = Some(0.5);
        assert!(!next.differs_from(&status()));
        next.workloads.consumers_ready = 1;
        assert!(next.differs_from(&status()));
        next.workloads.consumers_ready = 2;
        next.lag = Some(0);
        assert!(next.differs_from(&status()));
    }
}
