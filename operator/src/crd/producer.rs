//! The producer: HTTP ingest into Kafka, the query API, its rate limit and its auth.

use eventflow_contract::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use eventflow_contract::schemas;

use super::{
    Resources, SecretKeySelector, one,
    schemas::{Compatibility, SchemaVersion},
};

/// The producer: HTTP ingest into Kafka and the query API.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.schema) || !has(self.schemas)",
    "message": "producer.schema and producer.schemas are exclusive: list the single schema in schemas as version 1"
}]))]
pub struct ProducerSpec {
    /// Number of producer pods. Default: `1`.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The event field whose value keys the Kafka message: `id`, `type`, `source`, `subject` or
    /// `data.<field>` (nested: `data.user.id`). Default: `subject`.
    #[serde(default = "default_partition_key")]
    #[schemars(regex(pattern = r"^(id|type|source|subject|data\..+)$"))]
    pub partition_key: String,
    /// Event types the producer accepts; empty (the default): any type. At most 256 types of 1 to 253
    /// characters, without a comma (the producer reads the list comma separated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 256),
        inner(length(min = 1, max = 253), regex(pattern = r"^[^,]+$"))
    )]
    pub allowed_types: Vec<String>,
    /// JSON Schema that every event's `data` must satisfy; the consumer sends others to
    /// `<topic>.dlq`. The single-version form of `schemas`: it is version 1 (to evolve it, move
    /// it to `schemas` as version 1 and add version 2). Exclusive with `schemas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "eventflow_contract::schemas::free_form_object")]
    pub schema: Option<serde_json::Value>,
    /// The versions of the event schema (at most 100), each checked against the previous ones
    /// by `compatibility`; a version already served may not change, new versions come above
    /// the served ones. An event names its version in its CloudEvents `dataschema` (`2`, or a URI
    /// ending in `/2`); without it, the highest version applies. The producer answers 422 for a
    /// version not listed; the stored event records its `schemaversion`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.all(a, self.exists_one(b, b.version == a.version))",
        "message": "producer.schemas: each version number may be listed only once"
    }]))]
    pub schemas: Vec<SchemaVersion>,
    /// How each schema version must relate to the earlier ones: `BACKWARD` (default), `FORWARD`,
    /// `FULL`, their `_TRANSITIVE` forms, or `NONE`, as Confluent Schema Registry defines them
    /// for JSON Schema. A pipeline whose versions break it is refused (`Ready=False`, reason
    /// `IncompatibleSchema`, and an Event), and keeps serving what it served.
    #[serde(default)]
    pub compatibility: Compatibility,
    /// Authentication of the ingest and query API: static bearer tokens and/or JWTs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ProducerAuth>,
    /// Rate limit of the ingest (`POST /v1/events`; queries are not limited); unset: no limit.
    /// A token bucket of `burst` events refilled at `eventsPerSecond`: one per bearer token when
    /// `auth` is set, else one per producer pod (the pipeline's total is then `replicas` times
    /// it). An event array counts as its number of events, after validation (refused events cost
    /// nothing). Over the limit: 429 with `Retry-After`, the whole seconds until the request's
    /// events fit (at least 1). An array larger than `burst` can never fit: 413
    /// `exceeds_rate_limit_burst` (split it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// CPU and memory of each producer pod; default: none set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

impl Default for ProducerSpec {
    fn default() -> Self {
        Self {
            replicas: one(),
            partition_key: default_partition_key(),
            allowed_types: Vec::new(),
            schema: None,
            schemas: Vec::new(),
            compatibility: Compatibility::default(),
            auth: None,
            rate_limit: None,
            resources: None,
        }
    }
}

/// The ingest rate limit (documented on `ProducerSpec::rate_limit`, which `kubectl explain` shows).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.burst) || self.burst >= self.eventsPerSecond",
    "message": "producer.rateLimit.burst must be at least producer.rateLimit.eventsPerSecond"
}]))]
pub struct RateLimitSpec {
    /// Events per second each client may send on average: the bucket's refill rate (at least 1).
    #[schemars(range(min = 1))]
    pub events_per_second: u32,
    /// Most events a client may send at once after a quiet spell: the bucket's size, and the
    /// largest event array accepted; default: `eventsPerSecond`. At least `eventsPerSecond`:
    /// `Retry-After` is at least one second, so a client that waits it must find a whole
    /// second's events in the bucket, else obeying `Retry-After` could never reach the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub burst: Option<u32>,
}

/// Authentication of the ingest and query API (`/v1/...`): static bearer tokens, JWTs, or both
/// (a request passes with either). Failures are answered 401 with a `WWW-Authenticate: Bearer`
/// challenge whose `error_description` says what was wrong with the token.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.secretRef) || has(self.jwt)",
    "message": "producer.auth needs secretRef (static tokens), jwt, or both"
}]))]
pub struct ProducerAuth {
    /// Secret key holding the accepted static bearer tokens, one per line (blank lines and `#`
    /// comments skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// JSON Web Token validation: signature, `exp` (required), `nbf`, and `iss`/`aud` when set.
    /// The token's `sub` is recorded on each event it sends as the CloudEvents auth-context
    /// extension attributes `authtype` (`app_user`) and `authid` (the subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtSpec>,
}

/// How JWTs are validated (documented on `ProducerAuth::jwt`, which `kubectl explain` shows).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtSpec {
    /// The one signing algorithm accepted (a token naming another, or `none`, is refused):
    /// `HS256` (shared secret), `RS256` (RSA public keys) or `ES256` (P-256 public keys).
    pub algorithm: JwtAlgorithm,
    /// Secret key holding the verification key. `HS256`: the shared secret, its bytes as stored.
    /// `RS256`/`ES256`: one or more PEM public keys (`-----BEGIN PUBLIC KEY-----`), or a JWKS
    /// document (`{"keys": [...]}`) whose keys are matched on the token's `kid`.
    pub key_secret_ref: SecretKeySelector,
    /// The `iss` every token must carry; unset: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub issuer: Option<String>,
    /// A value the token's `aud` must contain; unset: tokens carrying an `aud` are refused
    /// (RFC 7519: a recipient not named in `aud` must reject the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub audience: Option<String>,
    /// Clock skew allowed when checking `exp` and `nbf`, e.g. `30s` (0s to 5m, whole seconds
    /// count; default `60s`).
    #[serde(default = "default_jwt_leeway")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "duration(self) <= duration('5m')",
        "message": "producer.auth.jwt.leeway must be at most 5m"
    }]))]
    pub leeway: Duration,
}

/// A JWT signing algorithm the producer verifies.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[default]
    #[serde(rename = "HS256")]
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
}

impl JwtAlgorithm {
    /// The name in a token's header and in the producer's `--jwt-algorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl ProducerSpec {
    /// Whether the pipeline has an event schema (`schema` or `schemas`).
    pub fn has_schema(&self) -> bool {
        self.schema.is_some() || !self.schemas.is_empty()
    }

    /// The event schema's versions, sorted: `schemas`, or `schema` as version 1.
    pub fn schema_versions(&self) -> Vec<SchemaVersion> {
        let mut versions = match &self.schema {
            Some(schema) if self.schemas.is_empty() => vec![SchemaVersion {
                version: schemas::SINGLE_SCHEMA_VERSION,
                schema: schema.clone(),
            }],
            _ => self.schemas.clone(),
        };
        versions.sort_by_key(|v| v.version);
        versions
    }

    /// The text of the workloads' schema file ([`eventflow_contract::schemas`]): `schema` as it
    /// always was, or the list of `schemas`; `None` without a schema.
    pub fn schema_file_text(&self) -> Option<String> {
        match &self.schema {
            Some(schema) if self.schemas.is_empty() => Some(schema.to_string()),
            _ if self.schemas.is_empty() => None,
            _ => Some(schemas::file_text(&self.schema_versions())),
        }
    }
}

fn default_partition_key() -> String {
    "subject".to_owned()
}
fn default_jwt_leeway() -> Duration {
    Duration::from_secs(60)
}
