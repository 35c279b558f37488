//! Dead letters a person can inspect and replay: `GET /v1/dead-letters` lists what the consumer
//! put in `<topic>.dlq` (the original event or raw bytes, the reason, where it came from, when),
//! paged like the event queries; `POST /v1/dead-letters/replay` re-publishes chosen ones to the
//! pipeline's topic once they pass today's rules (after a schema fix, say). A replayed event
//! keeps its id, so the consumer's idempotent write stores it once however often it is
//! replayed. The dead-letter topic itself is only read ([`reader`]): nothing is committed or
//! removed, so a dead letter stays listed after its replay.

mod model;
pub mod reader;

use std::sync::Arc;

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

pub use self::model::{
    DeadLetterPage, DeadLetterView, ListParams, Reason, Refused, ReplayOutcome, ReplayRequest,
    Replayed, Selection, SourcePosition,
};
use self::reader::{DeadLetter, DeadLetterReader, Position};
use super::{
    error::ApiError,
    metrics::Metrics,
    page::{DEFAULT_LIMIT, MAX_LIMIT},
    write_path::Ingest,
};

/// The pipeline's dead letters: what the consumer sent to the dead-letter topic, paged.
#[utoipa::path(
    get, path = "/v1/dead-letters", operation_id = "listDeadLetters", tag = "dead-letters",
    params(ListParams),
    responses((status = 200, description = "A page of dead letters", body = DeadLetterPage)),
)]
pub async fn list(
    State(reader): State<Arc<DeadLetterReader>>,
    State(metrics): State<Metrics>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let params = params
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?
        .0;
    let limit = checked_limit(params.limit)?;
    let from = params
        .cursor
        .as_deref()
        .map(|cursor| {
            Position::parse(cursor).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    "`cursor`: not a cursor from a previous page",
                )
            })
        })
        .transpose()?;
    let selection = Selection {
        reason: params.reason,
        from: params.from,
        to: params.to,
    };
    let mut letters = scan(&reader, from, limit + 1, selection).await?;
    let next_cursor = (letters.len() > limit).then(|| letters[limit].position.id());
    letters.truncate(limit);
    metrics.dead_letters_listed.inc_by(letters.len() as u64);
    Ok(Json(DeadLetterPage {
        dead_letters: letters.iter().map(DeadLetterView::of).collect(),
        next_cursor,
    }))
}

/// Re-publishes dead letters to the pipeline's topic, those that pass the pipeline's rules now;
/// each keeps its event id, so the consumer stores it once however often it is replayed.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/replay",
    operation_id = "replayDeadLetters",
    tag = "dead-letters",
    request_body(content = ReplayRequest, content_type = "application/json"),
    responses((status = 200, description = "What was replayed and what was not", body = ReplayOutcome)),
)]
pub async fn replay(
    State(reader): State<Arc<DeadLetterReader>>,
    State(ingest): State<Arc<Ingest>>,
    State(metrics): State<Metrics>,
    request: Result<Json<ReplayRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ReplayOutcome>, ApiError> {
    let Json(request) =
        request.map_err(|e| ApiError::bad_request("invalid_replay", e.body_text()))?;
    let (letters, mut refused) = chosen(&reader, request).await?;
    let mut records = Vec::new();
    let mut sources = Vec::new();
    for letter in letters {
        let id = letter.position.id();
        match ingest
            .validation
            .rules
            .decode(letter.value.as_deref().unwrap_or_default())
        {
            Ok(event) => {
                sources.push(id);
                records.push(ingest.validation.record(event));
            }
            Err(error) => refused.push(Refused {
                id,
                code: error.code().to_owned(),
                message: error.to_string(),
            }),
        }
    }
    let acks = ingest.sink.publish(&records).await.map_err(|e| {
        count(&metrics, "failed", records.len());
        ApiError::not_acknowledged(&e)
    })?;
    count(&metrics, "replayed", records.len());
    count(&metrics, "refused", refused.len());
    let replayed = sources
        .into_iter()
        .zip(records)
        .zip(acks)
        .map(|((id, record), ack)| Replayed {
            id,
            event_id: record.id,
            partition: ack.partition,
            offset: ack.offset,
        })
        .collect();
    Ok(Json(ReplayOutcome { replayed, refused }))
}

fn count(metrics: &Metrics, outcome: &str, n: usize) {
    metrics
        .dead_letters_replayed
        .with_label_values(&[outcome])
        .inc_by(n as u64);
}

/// The dead letters a replay names, and the ids it names that are not there.
async fn chosen(
    reader: &Arc<DeadLetterReader>,
    request: ReplayRequest,
) -> Result<(Vec<DeadLetter>, Vec<Refused>), ApiError> {
    let selection = Selection {
        reason: request.reason,
        from: request.from,
        to: request.to,
    };
    if request.ids.is_empty() {
        let limit = checked_limit(request.limit)?;
        return Ok((scan(reader, None, limit, selection).await?, Vec::new()));
    }
    if selection != Selection::default() || request.limit.is_some() {
        return Err(ApiError::bad_request(
            "invalid_replay",
            "give either `ids` or a selection (`reason`, `from`, `to`, `limit`), not both",
        ));
    }
    let mut letters = Vec::new();
    let mut refused = Vec::new();
    for id in request.ids {
        let found = match Position::parse(&id) {
            Some(position) => read(reader, move |reader| reader.get(position)).await?,
            None => None,
        };
        match found {
            Some(letter) => letters.push(letter),
            None => refused.push(Refused {
                message: format!("no dead letter `{id}` (ids are `<partition>-<offset>`)"),
                id,
                code: "not_found".to_owned(),
            }),
        }
    }
    Ok((letters, refused))
}

fn checked_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "invalid_parameter",
            format!("`limit`: must be an integer from 1 to {MAX_LIMIT}"),
        ))
    }
}

async fn scan(
    reader: &Arc<DeadLetterReader>,
    from: Option<Position>,
    wanted: usize,
    selection: Selection,
) -> Result<Vec<DeadLetter>, ApiError> {
    read(reader, move |reader| {
        reader.scan(from, wanted, &|letter| selection.keeps(letter))
    })
    .await
}

/// Runs a blocking read of the dead-letter topic off the async runtime.
async fn read<T: Send + 'static>(
    reader: &Arc<DeadLetterReader>,
    job: impl FnOnce(&DeadLetterReader) -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = Arc::clone(reader);
    let outcome = tokio::task::spawn_blocking(move || job(&reader))
        .await
        .map_err(|e| e.to_string())
        .and_then(|outcome| outcome);
    outcome.map_err(|error| {
        tracing::warn!(%error, "reading the dead-letter topic failed");
        ApiError::unavailable(
            "kafka_unavailable",
            "the dead-letter topic cannot be read now; retry later",
        )
    })
}
