//! The read side: events the consumer stored in MongoDB (shape in [`crate::document`]).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{
    Client, Collection,
    bson::{Bson, Document, doc},
    options::FindOptions,
};

use crate::{Result, document};

/// What a list query selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Partition key value.
    pub key: Option<String>,
    /// Event type.
    pub kind: Option<String>,
    /// Schema version.
    pub schema_version: Option<u32>,
    /// Earliest time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Latest time, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

/// A position in the newest-first order: the last event a client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Its time (millisecond precision, as stored).
    pub time: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.time.timestamp_millis(), self.id))
    }

    /// Parses the text form; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (millis, id) = text.split_once(':')?;
        Some(Self {
            time: DateTime::from_timestamp_millis(millis.parse().ok()?)?,
            id: id.to_owned(),
        })
    }

    /// The position of a stored event document.
    pub fn of(document: &Document) -> Option<Self> {
        Some(Self {
            time: DateTime::from_timestamp_millis(
                document.get_datetime("time").ok()?.timestamp_millis(),
            )?,
            id: document.get_str("id").ok()?.to_owned(),
        })
    }
}

/// The pipeline's event collection.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    collection: Collection<Document>,
}

impl Store {
    /// A store over `uri` (the driver connects lazily).
    pub async fn connect(uri: &str, database: &str, collection: &str) -> Result<Self> {
        let client = Client::with_uri_str(uri).await?;
        let collection = client.database(database).collection(collection);
        Ok(Self { client, collection })
    }

    /// Creates the query indexes (idempotent).
    pub async fn ensure_indexes(&self) -> Result<()> {
        document::ensure_indexes(&self.collection).await
    }

    /// Whether the server answers.
    pub async fn ping(&self) -> Result<()> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await?;
        Ok(())
    }

    /// The document with this event id.
    pub async fn get(&self, id: &str) -> Result<Option<Document>> {
        Ok(self.collection.find_one(doc! { "_id": id }).await?)
    }

    /// Up to `limit` documents matching `filter`, newest first (time, then `_id`, descending).
    pub async fn list(&self, filter: &Filter, limit: usize) -> Result<Vec<Document>> {
        let options = FindOptions::builder()
            .sort(doc! { "time": -1, "_id": -1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .build();
        let cursor = self
            .collection
            .find(to_query(filter))
            .with_options(options)
            .await?;
        Ok(cursor.try_collect().await?)
    }
}

/// The MongoDB filter of a query; the cursor continues strictly after the last (time, id).
pub fn to_query(filter: &Filter) -> Document {
    let mut clauses = Vec::new();
    if let Some(key) = &filter.key {
        clauses.push(doc! { "key": key });
    }
    if let Some(kind) = &filter.kind {
        clauses.push(doc! { "type": kind });
    }
    if let Some(version) = filter.schema_version {
        clauses.push(doc! { "schemaversion": i64::from(version) });
    }
    if let Some(from) = filter.from {
        clauses.push(doc! { "time": { "$gte": bson_time(from) } });
    }
    if let Some(to) = filter.to {
        clauses.push(doc! { "time": { "$lt": bson_time(to) } });
    }
    if let Some(Cursor { time, id }) = &filter.after {
        let time = bson_time(*time);
        clauses.push(doc! { "$or": [
            { "time": { "$lt": time } },
            { "time": time, "_id": { "$lt": id } },
        ] });
    }
    match clauses.len() {
        0 => Document::new(),
        1 => clauses.remove(0),
        _ => doc! { "$and": clauses.into_iter().map(Bson::Document).collect::<Vec<_>>() },
    }
}

fn bson_time(time: chrono::DateTime<chrono::Utc>) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(time.timestamp_millis())
}
