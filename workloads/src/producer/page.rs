//! Page sizes of the list endpoints (`GET /v1/events`, `GET /v1/dead-letters`).

/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;
