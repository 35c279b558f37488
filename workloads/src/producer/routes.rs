//! The whole HTTP surface of the producer API, used by `run` and by tests (`oneshot`).

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use tower_http::trace::TraceLayer;

use super::{
    auth, dead_letters, error::ApiError, in_flight, ingest, metrics, openapi, query,
    state::AppState,
};

/// The API: `/v1/events` (POST, GET), `/v1/events/{id}`, `/v1/dead-letters` (GET) and
/// `/v1/dead-letters/replay` (POST), with auth, body limit, timeout,
/// concurrency limit, metrics and trace layers, and its OpenAPI document (no auth).
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    Router::new()
        .route(
            "/v1/events",
            post(ingest::post_events).get(query::list_events),
        )
        .route("/v1/events/{id}", get(query::get_event))
        .route("/v1/dead-letters", get(dead_letters::list))
        .route("/v1/dead-letters/replay", post(dead_letters::replay))
        .route_layer(middleware::from_fn_with_state(
            (state.credentials.clone(), state.metrics.clone()),
            auth::require_auth,
        ))
        .route(openapi::PATH, get(openapi::serve))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(timed_out))
                .layer(tower::timeout::TimeoutLayer::new(limits.request_timeout)),
        )
        .layer(middleware::from_fn_with_state(
            state.in_flight.clone(),
            in_flight::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A request not answered within the request timeout gets a 503 with Retry-After and the
/// API's error body.
///
/// tower's `TimeoutLayer` does the timing and axum's `HandleErrorLayer` turns its elapsed
/// error into this answer. tower-http's `TimeoutLayer` is not used: it answers with a bare
/// status (no `Retry-After`, no `{"error": ...}` body), while the OpenAPI document promises
/// both on every 503, and clients rely on `Retry-After` to back off.
async fn timed_out(_elapsed: tower::BoxError) -> ApiError {
    ApiError::unavailable("timeout", "the request took too long; retry later")
}
