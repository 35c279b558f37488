//! The request body of `POST /v1/events`: read whole within the body read timeout and the
//! body size limit, so a client trickling its body cannot hold a request (and its in-flight
//! permit) for longer than the timeout: it gets a 408 and the connection is closed.
//!
//! The timeout is kept by hand (one `tokio::time::timeout` over the whole read) rather than
//! tower-http's `RequestBodyTimeoutLayer`: that one restarts its timer on every chunk, so a
//! client sending a byte just inside each period holds the request forever; and it fails the
//! read with an error the handler would have to map back to a 408 anyway.

use std::time::Duration;

use axum::{
    body::Bytes,
    extract::{FromRef, FromRequest, Request},
    http::StatusCode,
};

use super::{error::ApiError, metrics::Metrics};

/// Most events in one request unless configured (`--max-events-per-request`; more: 413).
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 1000;

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
    /// Longest time to answer a request.
    pub request_timeout: Duration,
    /// Longest time to receive a whole body (then 408).
    pub body_read_timeout: Duration,
}

/// The whole body.
#[derive(Debug)]
pub struct Body(pub Bytes);

impl<S> FromRequest<S> for Body
where
    S: Send + Sync,
    Limits: FromRef<S>,
    Metrics: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let read = Bytes::from_request(request, state);
        match tokio::time::timeout(Limits::from_ref(state).body_read_timeout, read).await {
            Ok(Ok(bytes)) => Ok(Self(bytes)),
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge {
                    code: "body_too_large",
                    message: "the body is larger than allowed".into(),
                })
            }
            Ok(Err(_)) => Err(ApiError::bad_request(
                "unreadable_body",
                "the body could not be read",
            )),
            Err(_) => {
                Metrics::from_ref(state)
                    .client_timeouts
                    .with_label_values(&["body"])
                    .inc();
                Err(ApiError::RequestTimeout)
            }
        }
    }
}
