//! The producer's readiness: Kafka metadata and a MongoDB ping, re-checked every few seconds.

use std::time::Duration;

use eventflow_contract::admin::Readiness;
use tokio_util::sync::CancellationToken;

use super::{kafka::KafkaNotReady, state::AppState};

/// How often `/readyz` re-checks Kafka and MongoDB while ready, and while not (at start and
/// during an outage, so that readiness follows a recovery closely).
const READINESS_INTERVAL: (Duration, Duration) =
    (Duration::from_secs(5), Duration::from_millis(250));

/// Why the producer is not ready to take events.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Kafka would not acknowledge an event promptly.
    #[error(transparent)]
    Kafka(#[from] KafkaNotReady),
    /// MongoDB did not answer the ping in time.
    #[error("mongodb ping timed out")]
    PingTimeout,
    /// MongoDB answered the ping with an error.
    #[error("mongodb ping: {0}")]
    Ping(crate::Error),
    /// The query indexes could not be created.
    #[error("mongodb indexes: {0}")]
    Indexes(crate::Error),
}

/// Re-checks Kafka metadata and a MongoDB ping every few seconds; ensures the indexes once.
pub async fn watch_readiness(state: AppState, readiness: Readiness, shutdown: CancellationToken) {
    let mut indexed = false;
    let mut pause = Duration::ZERO;
    let mut last_failure = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        state
            .metrics
            .queue_size
            .set(i64::from(state.ingest.sink.queued()));
        let (while_ready, while_not) = READINESS_INTERVAL;
        pause = match check(&state, &mut indexed).await {
            Ok(()) => {
                readiness.set_ready();
                last_failure = None;
                while_ready
            }
            Err(reason) => {
                let reason = reason.to_string();
                if last_failure.as_ref() != Some(&reason) {
                    tracing::warn!(%reason, "not ready");
                }
                readiness.set_not_ready(reason.clone());
                last_failure = Some(reason);
                while_not
            }
        };
    }
}

async fn check(state: &AppState, indexed: &mut bool) -> Result<(), NotReady> {
    let timeout = Duration::from_secs(3);
    state.ingest.sink.check(timeout).await?;
    let ping = tokio::time::timeout(timeout, state.store.ping()).await;
    ping.map_err(|_| NotReady::PingTimeout)?
        .map_err(NotReady::Ping)?;
    if !*indexed {
        state
            .store
            .ensure_indexes()
            .await
            .map_err(NotReady::Indexes)?;
        *indexed = true;
    }
    Ok(())
}
