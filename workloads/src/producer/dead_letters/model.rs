//! The shapes of the dead-letter API: what a list or a replay answers and takes.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::reader::DeadLetter;
use crate::consumer::dlq::{
    ERROR_CODE_HEADER, ERROR_HEADER, SOURCE_OFFSET_HEADER, SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
};

/// A dead letter as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    /// `<partition>-<offset>` in the dead-letter topic: what `replay` takes in `ids`.
    pub id: String,
    /// When the consumer dead-lettered it.
    pub dead_lettered_at: Option<DateTime<Utc>>,
    /// Why.
    pub reason: Reason,
    /// Where the consumer read it.
    pub source: SourcePosition,
    /// The original Kafka key (UTF-8, lossy).
    pub key: Option<String>,
    /// The event's `id`, when the value is JSON with a string `id`.
    pub event_id: Option<String>,
    /// The original value, when it is JSON.
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    /// The original value as base64, when it is not JSON.
    pub raw: Option<String>,
}

/// Why the consumer dead-lettered a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    /// `not_json`, `not_an_event`, `schema_violation` or `rejected_by_mongodb`.
    pub code: String,
    /// What was wrong, e.g. every failing field of a schema violation.
    pub message: String,
}

/// Where the consumer read a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourcePosition {
    /// The pipeline's topic.
    pub topic: String,
    /// Its partition.
    pub partition: Option<i32>,
    /// Its offset.
    pub offset: Option<i64>,
}

impl DeadLetterView {
    pub(super) fn of(letter: &DeadLetter) -> Self {
        let json = letter
            .value
            .as_deref()
            .and_then(|value| serde_json::from_slice::<Value>(value).ok());
        let raw = match (&json, &letter.value) {
            (None, Some(value)) => Some(STANDARD.encode(value)),
            _ => None,
        };
        Self {
            id: letter.position.id(),
            dead_lettered_at: letter.time,
            reason: Reason {
                code: letter.header(ERROR_CODE_HEADER).unwrap_or_default(),
                message: letter.header(ERROR_HEADER).unwrap_or_default(),
            },
            source: SourcePosition {
                topic: letter.header(SOURCE_TOPIC_HEADER).unwrap_or_default(),
                partition: letter
                    .header(SOURCE_PARTITION_HEADER)
                    .and_then(|p| p.parse().ok()),
                offset: letter
                    .header(SOURCE_OFFSET_HEADER)
                    .and_then(|o| o.parse().ok()),
            },
            key: letter
                .key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            event_id: json
                .as_ref()
                .and_then(|event| event.get("id")?.as_str().map(str::to_owned)),
            event: json,
            raw,
        }
    }
}

/// Which dead letters a list or a replay selects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Only this reason code (`schema_violation`, ...).
    pub reason: Option<String>,
    /// Only dead-lettered at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only dead-lettered before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

impl Selection {
    pub(super) fn keeps(&self, letter: &DeadLetter) -> bool {
        let code = letter.header(ERROR_CODE_HEADER);
        self.reason
            .as_ref()
            .is_none_or(|r| code.as_ref() == Some(r))
            && self
                .from
                .is_none_or(|from| letter.time.is_some_and(|t| t >= from))
            && self.to.is_none_or(|to| letter.time.is_some_and(|t| t < to))
    }
}

/// The query parameters of `GET /v1/dead-letters`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this reason code.
    pub reason: Option<String>,
    /// Only dead-lettered at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only dead-lettered before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Dead letters per page (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of `GET /v1/dead-letters`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterPage {
    /// Dead letters in the dead-letter topic's order (partition, then offset).
    pub dead_letters: Vec<DeadLetterView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The body of `POST /v1/dead-letters/replay`: `ids`, or a selection (`reason`, `from`, `to`)
/// with a `limit`; not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Dead letters by id (`<partition>-<offset>` of the list).
    #[serde(default)]
    pub ids: Vec<String>,
    /// Only this reason code.
    pub reason: Option<String>,
    /// Only dead-lettered at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only dead-lettered before this time.
    pub to: Option<DateTime<Utc>>,
    /// Most dead letters replayed by a selection (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// What a replay did, one entry per dead letter chosen.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOutcome {
    /// Re-published to the pipeline's topic.
    pub replayed: Vec<Replayed>,
    /// Left where they are: still invalid under today's rules, or not found.
    pub refused: Vec<Refused>,
}

/// A dead letter re-published.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    /// The dead letter's id.
    pub id: String,
    /// The event's id (kept from the original).
    pub event_id: String,
    /// Partition of the pipeline's topic it was written to.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

/// A dead letter not replayed, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    /// The dead letter's id.
    pub id: String,
    /// `not_found`, or the reason code the consumer would give it again (`schema_violation`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
}
