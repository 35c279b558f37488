//! Retention in the read model (`sink.mongodb.ttl`): a TTL index on `ingestedAt`, the time the
//! consumer stored each event, so MongoDB deletes an event once it has been stored that long.
//!
//! The index has a fixed name ([`TTL_INDEX`]) so a changed or removed TTL finds it: a different
//! `expireAfterSeconds` drops and re-creates it (`collMod` would change it in place on MongoDB,
//! but the dev server, FerretDB 1.24, has no `collMod` of indexes), no TTL drops it.
//!
//! FerretDB 1.24 (the dev server) refuses the index (`NotImplemented`: "Index option
//! `expireAfterSeconds` is not implemented yet"): [`ensure_ttl`] says so
//! ([`TtlIndex::Unsupported`]) and the consumer logs it and goes on, storing events that will
//! not expire. A real MongoDB deletes expired events within about a minute of their expiry (its
//! TTL monitor runs every 60 s).

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::{
    Collection, IndexModel,
    bson::{Document, doc},
    options::IndexOptions,
};

use crate::{Error, Result};

/// Name of the TTL index.
pub const TTL_INDEX: &str = "ingestedAt_ttl";

/// The stored-time field the TTL counts from.
pub const TTL_FIELD: &str = "ingestedAt";

/// `expireAfterSeconds` of a TTL: whole seconds, rounded up (MongoDB counts in seconds), at
/// least 1 and at most `i32::MAX` (MongoDB's bound).
pub fn expire_after_seconds(ttl: Duration) -> Result<u64> {
    let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    if seconds == 0 || seconds > i32::MAX.unsigned_abs().into() {
        return Err(Error::Config(format!(
            "the MongoDB TTL must be between 1 s and {} s, not {ttl:?}",
            i32::MAX
        )));
    }
    Ok(seconds)
}

/// The TTL index for `ttl`.
pub fn ttl_index(ttl: Duration) -> Result<IndexModel> {
    let seconds = expire_after_seconds(ttl)?;
    let options = IndexOptions::builder()
        .name(TTL_INDEX.to_owned())
        .expire_after(Duration::from_secs(seconds))
        .build();
    Ok(IndexModel::builder()
        .keys(doc! { TTL_FIELD: 1 })
        .options(options)
        .build())
}

/// What [`ensure_ttl`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtlIndex {
    /// No TTL wanted, none there.
    Absent,
    /// The index was there with the wanted `expireAfterSeconds`.
    Kept(u64),
    /// The index was created (or replaced) with this `expireAfterSeconds`.
    Created(u64),
    /// No TTL wanted: the index was dropped.
    Dropped,
    /// The server refused a TTL index (FerretDB 1.24: `NotImplemented`): stored events will
    /// not expire. The consumer logs it and goes on.
    Unsupported(String),
}

/// MongoDB's `NotImplemented` error code (FerretDB's answer to `expireAfterSeconds`).
const NOT_IMPLEMENTED: i32 = 238;

/// Makes the collection's TTL index match `ttl` (`None`: no TTL index).
pub async fn ensure_ttl(
    collection: &Collection<Document>,
    ttl: Option<Duration>,
) -> Result<TtlIndex> {
    let wanted = ttl.map(expire_after_seconds).transpose()?;
    let current = current_ttl(collection).await?;
    match (wanted, current) {
        (None, None) => return Ok(TtlIndex::Absent),
        (Some(seconds), Some(Some(now))) if now == seconds => return Ok(TtlIndex::Kept(seconds)),
        (_, Some(now)) => {
            tracing::info!(index = TTL_INDEX, from = ?now, to = ?wanted, "replacing the TTL index");
            collection.drop_index(TTL_INDEX).await?;
        }
        (Some(_), None) => {}
    }
    let (Some(seconds), Some(ttl)) = (wanted, ttl) else {
        return Ok(TtlIndex::Dropped);
    };
    match collection.create_index(ttl_index(ttl)?).await {
        Ok(_) => Ok(TtlIndex::Created(seconds)),
        Err(error) if command_code(&error) == Some(NOT_IMPLEMENTED) => {
            Ok(TtlIndex::Unsupported(error.to_string()))
        }
        Err(error) => Err(error.into()),
    }
}

/// `None`: no index named [`TTL_INDEX`]; `Some(seconds)`: its `expireAfterSeconds` (`None` if
/// it has none).
async fn current_ttl(collection: &Collection<Document>) -> Result<Option<Option<u64>>> {
    let indexes: Vec<IndexModel> = match collection.list_indexes().await {
        Ok(cursor) => cursor.try_collect().await?,
        // A collection that does not exist yet has no index (NamespaceNotFound).
        Err(error) if is_namespace_not_found(&error) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    Ok(indexes
        .into_iter()
        .filter_map(|index| index.options)
        .find(|options| options.name.as_deref() == Some(TTL_INDEX))
        .map(|options| options.expire_after.map(|after| after.as_secs())))
}

fn is_namespace_not_found(error: &mongodb::error::Error) -> bool {
    command_code(error) == Some(26)
}

fn command_code(error: &mongodb::error::Error) -> Option<i32> {
    match &*error.kind {
        mongodb::error::ErrorKind::Command(command) => Some(command.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_counts_in_whole_seconds_rounded_up_within_mongodb_bounds() {
        assert_eq!(expire_after_seconds(Duration::from_secs(90)).unwrap(), 90);
        assert_eq!(
            expire_after_seconds(Duration::from_millis(1500)).unwrap(),
            2
        );
        assert_eq!(expire_after_seconds(Duration::from_millis(1)).unwrap(), 1);
        assert!(expire_after_seconds(Duration::ZERO).is_err());
        assert!(expire_after_seconds(Duration::from_secs(1 << 31)).is_err());
        let index = ttl_index(Duration::from_secs(600)).unwrap();
        let options = index.options.unwrap();
        assert_eq!(index.keys, doc! { "ingestedAt": 1 });
        assert_eq!(
            (options.name.as_deref(), options.expire_after),
            (Some(TTL_INDEX), Some(Duration::from_secs(600)))
        );
    }
}
