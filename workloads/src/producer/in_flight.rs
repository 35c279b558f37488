//! The concurrency limit: at most `max` API requests served at once. One more is answered 503
//! with `Retry-After` at once (`overloaded`), never queued, so overload costs the producer a
//! bounded amount of memory and the clients a fast answer.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::IntGauge;
use tokio::sync::Semaphore;

use super::{error::ApiError, metrics::Metrics};

/// The permits of the requests in flight.
#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

impl InFlight {
    /// At most `max` requests at once.
    pub fn new(max: usize, metrics: Metrics) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            metrics,
        }
    }
}

/// Lowers the in-flight gauge when the request ends, answered or dropped.
struct Counted(IntGauge);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: serves the request with a permit, or answers 503 when none is left.
pub async fn limit(State(limit): State<InFlight>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limit.permits.clone().try_acquire_owned() else {
        limit.metrics.shed.inc();
        return ApiError::unavailable("overloaded", "too many requests in flight; retry later")
            .into_response();
    };
    limit.metrics.in_flight.inc();
    let _counted = Counted(limit.metrics.in_flight.clone());
    next.run(request).await
}
