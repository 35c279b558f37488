//! The workload figures of the Grafana dashboard (charts/eventflow/dashboards/eventflow.json),
//! computed from two scrapes of the producer's and the consumers' `/metrics` the way its `PromQL`
//! computes them, for the local runtime's status line and `--json`.

use serde::Serialize;

use super::scrape::{Matcher, Scrape, per_second, quantile};

/// The producer's and consumers' metrics the figures read (names as exported, with prefixes).
pub mod names {
    /// Events acknowledged by Kafka (counter).
    pub const ACCEPTED: &str = "eventflow_producer_events_accepted_total";
    /// HTTP requests by route, method and status (counter).
    pub const REQUESTS: &str = "eventflow_producer_http_requests_total";
    /// HTTP request latency by route and method (histogram).
    pub const REQUEST_SECONDS: &str = "eventflow_producer_http_request_duration_seconds";
    /// Events newly inserted into MongoDB (counter).
    pub const WRITTEN: &str = "eventflow_consumer_events_written_total";
    /// First message read to batch written (histogram).
    pub const BATCH_SECONDS: &str = "eventflow_consumer_batch_duration_seconds";
    /// Messages sent to the dead-letter topic (counter).
    pub const DEAD_LETTERED: &str = "eventflow_consumer_events_dead_lettered_total";
    /// 1 while the producer's `/readyz` answers ready (gauge).
    pub const PRODUCER_READY: &str = "eventflow_producer_ready";
    /// 1 while a consumer's `/readyz` answers ready (gauge).
    pub const CONSUMER_READY: &str = "eventflow_consumer_ready";
}

/// The route and method of ingest, whose latency is the dashboard's "ingest p99".
pub const INGEST_ROUTE: (&str, &str) = ("/v1/events", "POST");

/// The dashboard's workload figures between two scrapes; rates per second, latencies in seconds
/// (`None` when nothing was observed in between).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadFigures {
    /// Events acknowledged by Kafka per second (the dashboard's ingest rate).
    pub ingest_per_second: f64,
    /// 99th percentile of `POST /v1/events`.
    pub ingest_p99_seconds: Option<f64>,
    /// Producer answers 4xx per second.
    pub http_4xx_per_second: f64,
    /// Producer answers 5xx per second.
    pub http_5xx_per_second: f64,
    /// Events newly inserted into MongoDB per second.
    pub written_per_second: f64,
    /// 99th percentile of a batch: first message read to written.
    pub batch_p99_seconds: Option<f64>,
    /// Messages sent to the dead-letter topic per second.
    pub dead_letters_per_second: f64,
    /// Producer processes whose `/readyz` answers ready.
    pub producers_ready: u32,
    /// Consumer processes whose `/readyz` answers ready.
    pub consumers_ready: u32,
}

impl WorkloadFigures {
    /// The figures between scrape `before` and scrape `after`, `seconds` apart.
    pub fn between(before: &Scrape, after: &Scrape, seconds: f64) -> Self {
        let status_4xx: &dyn Fn(&str) -> bool = &|s: &str| s.starts_with('4');
        let status_5xx: &dyn Fn(&str) -> bool = &|s: &str| s.starts_with('5');
        let route: &dyn Fn(&str) -> bool = &|r: &str| r == INGEST_ROUTE.0;
        let method: &dyn Fn(&str) -> bool = &|m: &str| m == INGEST_ROUTE.1;
        let rate = |name: &str, matchers: &[Matcher<'_>]| {
            per_second(
                before.sum(name, matchers),
                after.sum(name, matchers),
                seconds,
            )
        };
        let p99 = |name: &str, matchers: &[Matcher<'_>]| {
            quantile(
                0.99,
                &before.buckets(name, matchers),
                &after.buckets(name, matchers),
            )
        };
        let ingest = [("route", route), ("method", method)];
        Self {
            ingest_per_second: rate(names::ACCEPTED, &[]),
            ingest_p99_seconds: p99(names::REQUEST_SECONDS, &ingest),
            http_4xx_per_second: rate(names::REQUESTS, &[("status", status_4xx)]),
            http_5xx_per_second: rate(names::REQUESTS, &[("status", status_5xx)]),
            written_per_second: rate(names::WRITTEN, &[]),
            batch_p99_seconds: p99(names::BATCH_SECONDS, &[]),
            dead_letters_per_second: rate(names::DEAD_LETTERED, &[]),
            producers_ready: ready(after, names::PRODUCER_READY),
            consumers_ready: ready(after, names::CONSUMER_READY),
        }
    }

    /// The figures with the rates and latencies cleared (what stays when only they change).
    #[must_use]
    pub fn without_rates(&self) -> Self {
        Self {
            producers_ready: self.producers_ready,
            consumers_ready: self.consumers_ready,
            ..Self::default()
        }
    }
}

fn ready(scrape: &Scrape, name: &str) -> u32 {
    // Each process exports one 0/1 series.
    count(scrape.sum(name, &[]))
}

/// A summed gauge of processes or partitions as a count (0 when absent or not a number).
pub(super) fn count(value: f64) -> u32 {
    if value.is_finite() && value >= 0.0 {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a small non-negative count"
        )]
        let count = value.round() as u32;
        count
    } else {
        0
    }
}

/// `12ms`, `1.5s`, or `-` when there is no figure.
pub fn millis(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        Some(s) => format!("{s:.1}s"),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(accepted: u32, bad: u32, failed: u32, fast: u32, dead: u32) -> Scrape {
        let producer = format!(
            r#"eventflow_producer_events_accepted_total{{pipeline="default/q"}} {accepted}
eventflow_producer_http_requests_total{{method="POST",pipeline="default/q",route="/v1/events",status="202"}} {accepted}
eventflow_producer_http_requests_total{{method="POST",pipeline="default/q",route="/v1/events",status="422"}} {bad}
eventflow_producer_http_requests_total{{method="POST",pipeline="default/q",route="/v1/events",status="503"}} {failed}
eventflow_producer_http_request_duration_seconds_bucket{{method="POST",pipeline="default/q",route="/v1/events",le="0.01"}} {fast}
eventflow_producer_http_request_duration_seconds_bucket{{method="POST",pipeline="default/q",route="/v1/events",le="+Inf"}} {fast}
eventflow_producer_http_request_duration_seconds_bucket{{method="GET",pipeline="default/q",route="/v1/events",le="0.01"}} 0
eventflow_producer_http_request_duration_seconds_bucket{{method="GET",pipeline="default/q",route="/v1/events",le="+Inf"}} {fast}
eventflow_producer_ready{{pipeline="default/q"}} 1
"#
        );
        let consumer = format!(
            r#"eventflow_consumer_events_written_total{{pipeline="default/q"}} {accepted}
eventflow_consumer_events_dead_lettered_total{{pipeline="default/q",reason="invalid_json"}} {dead}
eventflow_consumer_ready{{pipeline="default/q"}} 0
"#
        );
        Scrape::of([producer.as_str(), consumer.as_str(), consumer.as_str()])
    }

    #[test]
    fn rates_latency_and_readiness_follow_the_dashboard_queries() {
        let figures =
            WorkloadFigures::between(&scrape(10, 0, 0, 10, 0), &scrape(30, 4, 2, 30, 1), 2.0);
        assert!((figures.ingest_per_second - 10.0).abs() < 1e-9);
        assert!((figures.http_4xx_per_second - 2.0).abs() < 1e-9);
        assert!((figures.http_5xx_per_second - 1.0).abs() < 1e-9);
        // Two consumers wrote 20 each.
        assert!((figures.written_per_second - 20.0).abs() < 1e-9);
        assert!((figures.dead_letters_per_second - 1.0).abs() < 1e-9);
        // Only POST counts: every POST took under 10 ms (the slow GETs are left out).
        let p99 = figures.ingest_p99_seconds.unwrap();
        assert!(p99 <= 0.01, "{p99}");
        assert_eq!(figures.batch_p99_seconds, None);
        assert_eq!((figures.producers_ready, figures.consumers_ready), (1, 0));
    }

    #[test]
    fn latencies_print_in_milliseconds_or_seconds() {
        assert_eq!(millis(Some(0.0123)), "12ms");
        assert_eq!(millis(Some(1.5)), "1.5s");
        assert_eq!(millis(None), "-");
    }
}
