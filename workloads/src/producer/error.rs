//! `ApiError`: every way an API request fails, as a status and a machine-readable body.
//!
//! Body: `{"error": {"code", "message", "details": [{"path", "message"}]}}`. Messages describe
//! what the client can act on; internal causes go to the log, never into the response.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::kafka::PublishError;
use crate::event::FieldError;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// A failed API request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is not the JSON the route expects, or a parameter is unusable (400).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No or a wrong bearer token (401).
    #[error("a valid bearer token is required{}", .problem.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    Unauthorized {
        /// What was wrong with the token given (`None`: no token was given). It becomes the
        /// challenge's `error_description`, so it names no secret.
        problem: Option<String>,
    },
    /// Nothing at this id or path (404).
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than allowed, in bytes or in events (413).
    #[error("{message}")]
    PayloadTooLarge { code: &'static str, message: String },
    /// The body did not arrive within the body read timeout (408; the connection is closed).
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// The client's rate limit is spent (429, with `Retry-After`).
    #[error("rate limit exceeded; retry after {retry_after_seconds} s")]
    RateLimited {
        /// Whole seconds until the bucket holds the request's events again.
        retry_after_seconds: u64,
    },
    /// The body is not `application/json` (415).
    #[error("the content type must be application/json")]
    UnsupportedMediaType,
    /// One or more events break the pipeline's rules (422).
    #[error("{} field(s) failed validation", .0.len())]
    Invalid(Vec<FieldError>),
    /// Kafka, MongoDB or the local queue cannot take the request now (503).
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
}

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 503 with a code and message.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// The 503 of events Kafka did not acknowledge (logged by the sink's outage log).
    pub fn not_acknowledged(error: &PublishError) -> Self {
        match error {
            PublishError::QueueFull => {
                Self::unavailable("queue_full", "the producer queue is full; retry later")
            }
            PublishError::TimedOut | PublishError::Failed(_) => Self::unavailable(
                "kafka_unavailable",
                "Kafka did not acknowledge the events; retry later",
            ),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The machine-readable code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::PayloadTooLarge { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Unauthorized { .. } => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RequestTimeout => "body_timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Invalid(_) => "validation_failed",
        }
    }

    fn details(&self) -> &[FieldError] {
        match self {
            Self::Invalid(details) => details,
            _ => &[],
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`, `details`) and for people (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable reason, e.g. `validation_failed`, `malformed_json`, `queue_full`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// What the client can do about it.
    pub message: String,
    /// Every failing field of a 422 (JSON pointers into the request body); empty otherwise.
    pub details: Vec<FieldError>,
}

impl ApiError {
    /// The body of the answer.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                details: self.details().to_vec(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Self::RateLimited {
                retry_after_seconds,
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            }
            Self::RequestTimeout => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Self::Unauthorized { problem } => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(problem.as_deref()));
            }
            _ => {}
        }
        response
    }
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): with a token given, `invalid_token`
/// and what was wrong with it, in the characters `error_description` allows.
fn challenge(problem: Option<&str>) -> HeaderValue {
    let Some(problem) = problem else {
        return HeaderValue::from_static(r#"Bearer realm="eventflow""#);
    };
    let description: String = problem
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect();
    let value = format!(
        r#"Bearer realm="eventflow", error="invalid_token", error_description="{description}""#
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| {
        HeaderValue::from_static(r#"Bearer realm="eventflow", error="invalid_token""#)
    })
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;

    async fn body(response: Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_errors_list_every_field() {
        let error = ApiError::Invalid(vec![FieldError {
            path: "/0/type".into(),
            message: "is required".into(),
        }]);
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body(response).await;
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["details"][0]["path"], "/0/type");
    }

    #[tokio::test]
    async fn unavailable_says_when_to_retry() {
        let response = ApiError::unavailable("queue_full", "busy").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            body(response).await["error"]["details"],
            Value::Array(vec![])
        );
    }

    #[tokio::test]
    async fn rate_limited_says_how_long_to_wait() {
        let response = ApiError::RateLimited {
            retry_after_seconds: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        assert_eq!(body(response).await["error"]["code"], "rate_limited");
    }

    #[tokio::test]
    async fn unauthorized_challenges_for_a_bearer_token() {
        let response = ApiError::Unauthorized {
            problem: Some("the token has \"expired\"".into()),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert_eq!(
            challenge,
            r#"Bearer realm="eventflow", error="invalid_token", error_description="the token has ?expired?""#
        );
        let response = ApiError::Unauthorized { problem: None }.into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="eventflow""#
        );
    }
}
