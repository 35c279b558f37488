//! The producer's Prometheus metrics and the middleware that counts HTTP requests.

use std::{collections::HashMap, ops::Deref, sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use crate::Result;

/// Every metric of the producer; cloning shares them at the cost of one reference count (each
/// request's middleware and handlers hold a clone).
#[derive(Debug, Clone)]
pub struct Metrics(Arc<Families>);

impl Deref for Metrics {
    type Target = Families;

    fn deref(&self) -> &Families {
        &self.0
    }
}

/// The producer's metric families, registered once by [`Metrics::register`].
#[derive(Debug)]
pub struct Families {
    /// Requests by route, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route and method.
    pub request_duration: HistogramVec,
    /// Events acknowledged by Kafka.
    pub events_accepted: IntCounter,
    /// Events refused, by reason (`validation`, `unavailable`, ...).
    pub events_rejected: IntCounterVec,
    /// Time from enqueue to Kafka acknowledgement, per event.
    pub delivery_duration: Histogram,
    /// Failed deliveries, by reason.
    pub delivery_errors: IntCounterVec,
    /// Messages in the local producer queue (not yet acknowledged).
    pub queue_size: IntGauge,
    /// Requests refused by the rate limit (429, or 413 above the burst), by client.
    pub rate_limited: IntCounterVec,
    /// Requests answered 503 at once because the most requests were in flight.
    pub shed: IntCounter,
    /// Requests being served.
    pub in_flight: IntGauge,
    /// Connections of slow clients ended, by phase (`headers`: closed; `body`: 408).
    pub client_timeouts: IntCounterVec,
    /// Requests refused 401, by reason (`missing_token`, `unknown_token`, `expired`, ...).
    pub auth_failures: IntCounterVec,
    /// Dead letters returned by `GET /v1/dead-letters`.
    pub dead_letters_listed: IntCounter,
    /// Dead letters a replay chose, by outcome (`replayed`, `refused`, `failed`).
    pub dead_letters_replayed: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self> {
        let metrics = Families {
            requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by route and status"),
                &["route", "method", "status"],
            )?,
            request_duration: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                &["route", "method"],
            )?,
            events_accepted: IntCounter::new(
                "events_accepted_total",
                "Events acknowledged by Kafka",
            )?,
            events_rejected: IntCounterVec::new(
                Opts::new("events_rejected_total", "Events refused, by reason"),
                &["reason"],
            )?,
            delivery_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "kafka_delivery_duration_seconds",
                    "Time from enqueue to Kafka acknowledgement",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            delivery_errors: IntCounterVec::new(
                Opts::new("kafka_delivery_errors_total", "Failed Kafka deliveries"),
                &["reason"],
            )?,
            queue_size: IntGauge::new(
                "kafka_queue_messages",
                "Messages in the local producer queue, not yet acknowledged",
            )?,
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "rate_limited_total",
                    "Requests refused by the rate limit, by client (producer or token-<n>)",
                ),
                &["client"],
            )?,
            shed: IntCounter::new(
                "requests_shed_total",
                "Requests answered 503 at once: the most requests were in flight",
            )?,
            in_flight: IntGauge::new("requests_in_flight", "Requests being served")?,
            client_timeouts: IntCounterVec::new(
                Opts::new(
                    "client_timeouts_total",
                    "Slow clients cut off, by phase (headers: connection closed; body: 408)",
                ),
                &["phase"],
            )?,
            auth_failures: IntCounterVec::new(
                Opts::new(
                    "auth_failures_total",
                    "Requests refused 401, by reason (missing_token, unknown_token, expired, issuer, audience, signature, algorithm, ...)",
                ),
                &["reason"],
            )?,
            dead_letters_listed: IntCounter::new(
                "dead_letters_listed_total",
                "Dead letters returned by GET /v1/dead-letters",
            )?,
            dead_letters_replayed: IntCounterVec::new(
                Opts::new(
                    "dead_letters_replayed_total",
                    "Dead letters a replay chose, by outcome (replayed; refused: still invalid or not found; failed: Kafka did not acknowledge)",
                ),
                &["outcome"],
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        registry.register(Box::new(metrics.events_accepted.clone()))?;
        registry.register(Box::new(metrics.events_rejected.clone()))?;
        registry.register(Box::new(metrics.delivery_duration.clone()))?;
        registry.register(Box::new(metrics.delivery_errors.clone()))?;
        registry.register(Box::new(metrics.queue_size.clone()))?;
        registry.register(Box::new(metrics.rate_limited.clone()))?;
        registry.register(Box::new(metrics.auth_failures.clone()))?;
        registry.register(Box::new(metrics.dead_letters_listed.clone()))?;
        registry.register(Box::new(metrics.dead_letters_replayed.clone()))?;
        registry.register(Box::new(metrics.shed.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.client_timeouts.clone()))?;
        Ok(Self(Arc::new(metrics)))
    }

    /// A registry whose metric names start with `eventflow_producer_` and carry the pipeline.
    pub fn registry(pipeline: &str) -> Result<Registry> {
        let labels = HashMap::from([("pipeline".to_owned(), pipeline.to_owned())]);
        Ok(Registry::new_custom(
            Some("eventflow_producer".to_owned()),
            Some(labels),
        )?)
    }
}

/// Middleware: counts each request by its route template (not the raw path) and status.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = method.as_str();
    metrics
        .request_duration
        .with_label_values(&[route, method])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route, method, response.status().as_str()])
        .inc();
    response
}
