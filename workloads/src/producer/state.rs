//! The producer's shared state, below every module that uses it.

use std::sync::Arc;

use axum::extract::FromRef;
use bytes::Bytes;

use super::{
    auth, body::Limits, dead_letters::reader::DeadLetterReader, in_flight::InFlight,
    metrics::Metrics, store::Store, write_path::Ingest,
};

/// Shared state of the producer; cloning is cheap.
///
/// Handlers extract the parts they use (`State<Metrics>`, `State<Store>`...) through
/// [`FromRef`], so the modules this state is made of do not import it back.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    /// The write path.
    pub ingest: Arc<Ingest>,
    /// The read path.
    pub store: Store,
    /// The dead-letter topic, read for `/v1/dead-letters`.
    pub dead_letters: Arc<DeadLetterReader>,
    /// Static bearer tokens and JWT validation; none configured turns auth off.
    pub credentials: auth::Credentials,
    /// Metrics.
    pub metrics: Metrics,
    /// Limits of every request.
    pub limits: Limits,
    /// The concurrency limit, shared by every route.
    pub in_flight: InFlight,
    /// This producer's OpenAPI document (JSON), served at [`super::openapi::PATH`].
    pub openapi: Bytes,
}
