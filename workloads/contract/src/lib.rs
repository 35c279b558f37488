//! The contract between the eventflow operator and the workloads it runs, and nothing else: the
//! operator binary links this crate, not the workloads (no MongoDB driver, no HTTP API in it).
//!
//! - the environment variables below: the operator configures every workload only through them
//!   (and the files of mounted Secrets they point at); the workloads' clap definitions read the
//!   same constants, so the two sides cannot drift (a test in the operator feeds its generated
//!   env to the workloads' CLI to prove it);
//! - [`backoff`]: the one retry-delay shape (exponential, capped; `backon`);
//! - [`duration`]: the one duration grammar of the CRD, the env and the command lines;
//! - [`naming`]: the names derived from a pipeline (dead-letter topic);
//! - [`schemas`]: the schema versions file and how an event names its version;
//! - [`secret`]: credentials that redact themselves in `Debug` and `Display`;
//! - [`write_concern`]: how durable a consumer's write to MongoDB is;
//! - [`properties`]: the format of `kafka.secretRef`'s librdkafka properties;
//! - [`admin`], [`logs`] and [`outage`]: what every eventflow process serves (`/healthz`,
//!   `/readyz`, `/metrics`), how it logs, and how it logs a failing dependency; [`exposition`]:
//!   its `/metrics` text read back into samples.

pub mod admin;
pub mod backoff;
pub mod duration;
mod error;
pub mod exposition;
pub mod logs;
pub mod naming;
pub mod outage;
pub mod properties;
pub mod schemas;
pub mod secret;
pub mod write_concern;

pub use duration::Duration;
pub use error::{Error, Result};

/// Kafka bootstrap servers, comma separated (`host:port,...`).
pub const KAFKA_BOOTSTRAP: &str = "EVENTFLOW_KAFKA_BOOTSTRAP";
/// Path of a file of extra librdkafka properties (`key=value` per line; from `kafka.secretRef`).
pub const KAFKA_PROPERTIES_FILE: &str = "EVENTFLOW_KAFKA_PROPERTIES_FILE";
/// The pipeline's Kafka topic.
pub const TOPIC: &str = "EVENTFLOW_TOPIC";
/// The consumer group id of the pipeline's consumers.
pub const GROUP_ID: &str = "EVENTFLOW_GROUP_ID";
/// Where a consumer group without committed offsets starts: `earliest` or `latest`.
pub const AUTO_OFFSET_RESET: &str = "EVENTFLOW_AUTO_OFFSET_RESET";

/// MongoDB connection string (from `sink.mongodb.uriSecretRef`).
pub const MONGODB_URI: &str = "EVENTFLOW_MONGODB_URI";
/// MongoDB database of the read model.
pub const MONGODB_DATABASE: &str = "EVENTFLOW_MONGODB_DATABASE";
/// MongoDB collection of the read model.
pub const MONGODB_COLLECTION: &str = "EVENTFLOW_MONGODB_COLLECTION";
/// How long the read model keeps an event after storing it (`sink.mongodb.ttl`, e.g. `10080m`;
/// unset: for ever). The consumer keeps a TTL index on `ingestedAt` to match.
pub const MONGODB_TTL: &str = "EVENTFLOW_MONGODB_TTL";
/// Members that acknowledge each write before the consumer commits its offsets: `majority`
/// (default) or a number ([`write_concern::Acknowledgment`]; `sink.mongodb.writeConcern.w`).
pub const MONGODB_WRITE_CONCERN: &str = "EVENTFLOW_MONGODB_WRITE_CONCERN";
/// `true` (default): a write is acknowledged only once it is in the on-disk journal
/// (`sink.mongodb.writeConcern.journal`).
pub const MONGODB_JOURNAL: &str = "EVENTFLOW_MONGODB_JOURNAL";

/// Path of the file of the JSON Schema versions that event `data` must satisfy ([`schemas`]).
pub const SCHEMA_FILE: &str = "EVENTFLOW_SCHEMA_FILE";
/// The event field that keys Kafka messages, e.g. `subject` or `data.userId`.
pub const PARTITION_KEY: &str = "EVENTFLOW_PARTITION_KEY";
/// Comma-separated list of allowed event types (empty: any type).
pub const ALLOWED_TYPES: &str = "EVENTFLOW_ALLOWED_TYPES";
/// Path of a file of bearer tokens, one per line (from `producer.auth.secretRef`).
pub const AUTH_TOKENS_FILE: &str = "EVENTFLOW_AUTH_TOKENS_FILE";
/// Path of the JWT verification key: an HS256 secret, PEM public keys or a JWKS document (from
/// `producer.auth.jwt.keySecretRef`); when set, the producer accepts JWTs.
pub const JWT_KEY_FILE: &str = "EVENTFLOW_JWT_KEY_FILE";
/// The one JWT algorithm accepted: `HS256`, `RS256` or `ES256`.
pub const JWT_ALGORITHM: &str = "EVENTFLOW_JWT_ALGORITHM";
/// The `iss` every JWT must carry (unset: not checked).
pub const JWT_ISSUER: &str = "EVENTFLOW_JWT_ISSUER";
/// A value every JWT's `aud` must contain (unset: tokens with an `aud` are refused).
pub const JWT_AUDIENCE: &str = "EVENTFLOW_JWT_AUDIENCE";
/// Clock skew allowed on `exp` and `nbf` (e.g. `60s`).
pub const JWT_LEEWAY: &str = "EVENTFLOW_JWT_LEEWAY";

/// Events per second each client may send (the rate limit's refill rate; from
/// `producer.rateLimit.eventsPerSecond`; unset: no rate limit).
pub const RATE_LIMIT_EVENTS_PER_SECOND: &str = "EVENTFLOW_RATE_LIMIT_EVENTS_PER_SECOND";
/// Most events a client may send at once (the rate limit's bucket; from
/// `producer.rateLimit.burst`; unset: the events per second).
pub const RATE_LIMIT_BURST: &str = "EVENTFLOW_RATE_LIMIT_BURST";

/// Events per consumer batch.
pub const BATCH_SIZE: &str = "EVENTFLOW_BATCH_SIZE";
/// Longest wait since a batch's first event before it is written (e.g. `5s`, `500ms`).
pub const BATCH_TIMEOUT: &str = "EVENTFLOW_BATCH_TIMEOUT";

/// Port of the producer's API (`/v1/...`).
pub const HTTP_PORT: &str = "EVENTFLOW_HTTP_PORT";
/// Port of the admin server (`/healthz`, `/readyz`, `/metrics`).
pub const ADMIN_PORT: &str = "EVENTFLOW_ADMIN_PORT";
/// Address the servers bind to.
pub const BIND_ADDRESS: &str = "EVENTFLOW_BIND_ADDRESS";
/// Log format: `plain` or `json`.
pub const LOG_FORMAT: &str = "EVENTFLOW_LOG_FORMAT";
/// Name of the pipeline, attached to logs and metrics.
pub const PIPELINE: &str = "EVENTFLOW_PIPELINE";
/// Namespace of the pipeline (with the name, the `pipeline` label of the metrics).
pub const NAMESPACE: &str = "EVENTFLOW_NAMESPACE";

/// The `pipeline` label of every process's metrics, and the key of per-pipeline state:
/// `<namespace>/<name>`, so the operator's, the producer's and the consumer's series of one
/// pipeline join on it.
pub fn pipeline_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Default port of the producer's API.
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// Default port of the admin server.
pub const DEFAULT_ADMIN_PORT: u16 = 9090;
