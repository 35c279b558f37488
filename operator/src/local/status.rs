//! The local runtime's live status: one line per change for people (like
//! `kubectl get eventpipeline -w`), or one JSON object per line with `--json` for scripts.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Everything the status line shows.
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
    /// Consumer processes running now.
    pub consumers: u32,
    /// PIDs of the running consumer processes (0 for one between restarts).
    pub consumer_pids: Vec<u32>,
    /// Consumer processes the scaler wants.
    pub desired_consumers: u32,
    /// Total consumer-group lag, `None` before the first measurement or when it failed.
    pub lag: Option<i64>,
    /// Events written to the topic per second (from high watermarks).
    pub produced_per_second: f64,
    /// Events committed by the consumers per second (from committed offsets).
    pub consumed_per_second: f64,
    /// Why the consumer count is what it is.
    pub last_scale_reason: String,
    /// Why the last lag measurement failed, if it did.
    pub measurement_error: Option<String>,
    /// When this status was taken.
    pub at: DateTime<Utc>,
}

impl LocalStatus {
    /// One human-readable line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{time}  {pipeline}  topic={topic}/{partitions}  consumers={current}/{desired}  lag={lag}  in={inr:.0}/s  out={outr:.0}/s  producer={ready}",
            time = self.at.format("%H:%M:%S"),
            pipeline = self.pipeline,
            topic = self.topic,
            partitions = self.partitions,
            current = self.consumers,
            desired = self.desired_consumers,
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
        ] {
            assert!(line.contains(part), "{part} missing in {line}");
        }
    }

    #[test]
    fn json_uses_camel_case_fields() {
        let value: serde_json::Value = serde_json::from_str(&status().json()).unwrap();
        assert_eq!(value["desiredConsumers"], 4);
        assert_eq!(value["lag"], 5400);
    }

    #[test]
    fn a_rate_change_alone_is_not_a_new_line() {
        let mut next = status();
        next.produced_per_second = 10.0;
        assert!(!next.differs_from(&status()));
        next.lag = Some(0);
        assert!(next.differs_from(&status()));
    }
}
