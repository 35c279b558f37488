//! The MongoDB side: one unordered `insert_many` per batch, duplicate keys counted as duplicates,
//! documents the server refuses for good (e.g. a key it does not allow) handed back for the
//! dead-letter topic.

use std::time::Duration;

use mongodb::{
    Collection,
    bson::Document,
    error::{ErrorKind, InsertManyError},
};

use crate::Result;

/// Why a batch write failed; the whole batch (what is left of it) is written again.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// MongoDB did not answer the insert in time.
    #[error("insert_many timed out after {0:?}")]
    Timeout(Duration),
    /// MongoDB failed the insert in a way that a retry may fix.
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    /// The dead-letter topic did not acknowledge a poison message.
    #[error("dead-letter topic {topic}: {source}")]
    DeadLetter {
        /// The dead-letter topic.
        topic: String,
        /// Kafka's error.
        source: rdkafka::error::KafkaError,
    },
}

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// Per-document error codes that say "the server could not write now", not "never": the
/// drivers' retryable codes (shutdown, step-down, network, write conflict).
const RETRYABLE: [i32; 16] = [
    6, 7, 63, 89, 91, 112, 150, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134,
];

/// A document the server refused for good: written again it would be refused again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its position in the inserted slice.
    pub index: usize,
    /// The server's error code.
    pub code: i32,
    /// The server's message.
    pub message: String,
}

/// What one `insert_many` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// Documents newly inserted.
    pub inserted: u64,
    /// Documents whose `_id` was already there.
    pub duplicates: u64,
    /// Documents refused for good.
    pub rejected: Vec<Rejected>,
}

/// Writes batches of event documents into the pipeline's collection.
#[derive(Debug, Clone)]
pub struct Sink {
    collection: Collection<Document>,
    timeout: Duration,
}

impl Sink {
    /// A sink over `collection`; each write gives up after `timeout`.
    pub fn new(collection: Collection<Document>, timeout: Duration) -> Self {
        Self {
            collection,
            timeout,
        }
    }

    /// Inserts the documents unordered. Duplicate keys are not errors, and documents refused
    /// for good come back in [`Written::rejected`]; any other failure (a timeout, a write
    /// concern error, a retryable code) is, and the caller retries the whole batch.
    pub async fn insert(&self, documents: &[Document]) -> Result<Written, WriteError> {
        if documents.is_empty() {
            return Ok(Written::default());
        }
        let total = documents.len() as u64;
        let insert = self.collection.insert_many(documents).ordered(false);
        match tokio::time::timeout(self.timeout, insert).await {
            Err(_) => Err(WriteError::Timeout(self.timeout)),
            Ok(Ok(_)) => Ok(Written {
                inserted: total,
                ..Written::default()
            }),
            Ok(Err(error)) => match *error.kind {
                ErrorKind::InsertMany(ref failure) => {
                    settled(failure, total).ok_or(WriteError::Mongo(error))
                }
                _ => Err(WriteError::Mongo(error)),
            },
        }
    }

    /// Creates the query indexes and makes the TTL index match `ttl` (idempotent); a server
    /// without TTL indexes is logged, not an error.
    pub async fn ensure_indexes(&self, ttl: Option<Duration>) -> Result<()> {
        use crate::document::ttl::{TtlIndex, ensure_ttl};
        crate::document::ensure_indexes(&self.collection).await?;
        match ensure_ttl(&self.collection, ttl).await? {
            TtlIndex::Unsupported(reason) => tracing::warn!(
                %reason,
                "the MongoDB server refused the TTL index: stored events will not expire"
            ),
            outcome => tracing::info!(?outcome, "TTL index"),
        }
        Ok(())
    }
}

/// The outcome of an unordered insert with per-document errors, or `None` when it must be
/// retried (a write concern error, a retryable code).
fn settled(failure: &InsertManyError, total: u64) -> Option<Written> {
    let errors = failure.write_errors.as_deref().unwrap_or_default();
    if failure.write_concern_error.is_some() || errors.iter().any(|e| RETRYABLE.contains(&e.code)) {
        return None;
    }
    let duplicates = errors.iter().filter(|e| e.code == DUPLICATE_KEY).count() as u64;
    let rejected: Vec<Rejected> = errors
        .iter()
        .filter(|e| e.code != DUPLICATE_KEY)
        .map(|e| Rejected {
            index: e.index,
            code: e.code,
            message: e.message.clone(),
        })
        .collect();
    Some(Written {
        inserted: total.saturating_sub(errors.len() as u64),
        duplicates,
        rejected,
    })
}
