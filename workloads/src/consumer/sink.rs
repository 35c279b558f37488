//! The MongoDB side: one unordered `insert_many` per batch, duplicate keys counted as duplicates,
//! and the capped exponential backoff between failed attempts.

use std::time::Duration;

use mongodb::{
    Collection,
    bson::Document,
    error::{ErrorKind, InsertManyError},
};

use crate::Result;

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// What one `insert_many` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// Documents newly inserted.
    pub inserted: u64,
    /// Documents whose `_id` was already there.
    pub duplicates: u64,
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

    /// Inserts the documents unordered. Duplicate keys are not errors; any other failure
    /// (including a timeout) is, and the caller retries the whole batch.
    pub async fn insert(&self, documents: &[Document]) -> Result<Written, String> {
        if documents.is_empty() {
            return Ok(Written::default());
        }
        let total = documents.len() as u64;
        let insert = self.collection.insert_many(documents).ordered(false);
        match tokio::time::timeout(self.timeout, insert).await {
            Err(_) => Err(format!("insert_many timed out after {:?}", self.timeout)),
            Ok(Ok(_)) => Ok(Written {
                inserted: total,
                duplicates: 0,
            }),
            Ok(Err(error)) => match *error.kind {
                ErrorKind::InsertMany(ref failure) => {
                    duplicates_only(failure, total).ok_or_else(|| error.to_string())
                }
                _ => Err(error.to_string()),
            },
        }
    }

    /// Creates the query indexes (idempotent).
    pub async fn ensure_indexes(&self) -> Result<()> {
        crate::document::ensure_indexes(&self.collection).await
    }
}

/// The outcome of a failed unordered insert whose every error is a duplicate key.
fn duplicates_only(failure: &InsertManyError, total: u64) -> Option<Written> {
    if failure.write_concern_error.is_some() {
        return None;
    }
    let errors = failure.write_errors.as_deref().unwrap_or_default();
    let all_duplicates = errors.iter().all(|e| e.code == DUPLICATE_KEY);
    let duplicates = errors.len() as u64;
    all_duplicates.then_some(Written {
        inserted: total.saturating_sub(duplicates),
        duplicates,
    })
}

/// Capped exponential backoff: `initial`, doubling per failure, never above `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.failures = self.failures.saturating_add(1);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.failures(), 6);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn backoff_never_overflows() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            assert!(backoff.next_delay() <= Duration::from_secs(30));
        }
    }
}
