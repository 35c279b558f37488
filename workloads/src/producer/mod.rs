//! `eventflow producer`: HTTP ingest into Kafka and the query API over MongoDB.
//!
//! `routes` is the HTTP surface, `ingest` the write path's handler over `write_path`
//! (validation, then `kafka`, shared with the dead-letter replay), `query` and `store` the read
//! path, `auth`, `error` and `metrics` the cross-cutting parts;
//! `rate_limit`, `in_flight`, `body` and `server` keep overload and slow clients out; this
//! module wires them from the command line and runs the servers until SIGTERM/SIGINT.

pub mod auth;
pub mod body;
pub mod dead_letters;
pub mod error;
pub mod in_flight;
pub mod ingest;
pub mod kafka;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod query;
pub mod rate_limit;
pub mod readiness;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod write_path;

use std::{
    net::SocketAddr,
    num::{NonZeroU32, NonZeroUsize},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use clap::Args;
use prometheus::Registry;
use tokio::net::TcpListener;

use self::{
    body::DEFAULT_MAX_EVENTS_PER_REQUEST,
    in_flight::InFlight,
    kafka::KafkaSink,
    metrics::Metrics,
    rate_limit::{Rate, RateLimiter},
    store::Store,
    write_path::{Ingest, Validation},
};
pub use self::{body::Limits, routes::router, state::AppState};
use eventflow_contract::{
    self as contract,
    admin::{self, Readiness},
    duration::parse as parse_duration,
};

use crate::{
    Error, Result,
    config::{KafkaArgs, MongoArgs, TelemetryArgs},
    event::{EventRules, PartitionKey},
};

/// Configuration of the producer.
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Kafka topic the events are written to.
    #[arg(long, env = contract::TOPIC)]
    pub topic: String,
    /// Event field whose value keys the Kafka message (`subject`, `type`, `data.userId`, ...).
    #[arg(long, env = contract::PARTITION_KEY, default_value = "subject")]
    pub partition_key: PartitionKey,
    /// JSON Schema file that every event's `data` must satisfy.
    #[arg(long, env = contract::SCHEMA_FILE, value_name = "PATH")]
    pub schema_file: Option<PathBuf>,
    /// Allowed event types, comma separated (empty: any).
    #[arg(long, env = contract::ALLOWED_TYPES, value_delimiter = ',')]
    pub allowed_types: Vec<String>,
    /// File of accepted static bearer tokens, one per line; when set (or `--jwt-key-file`),
    /// every /v1 route requires a bearer token.
    #[arg(long, env = contract::AUTH_TOKENS_FILE, value_name = "PATH")]
    pub auth_tokens_file: Option<PathBuf>,
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Dead-letter topic the consumer writes (default `<topic>.dlq`), read by
    /// `/v1/dead-letters`.
    #[arg(long, env = crate::consumer::DLQ_TOPIC_ENV)]
    pub dlq_topic: Option<String>,
    /// Port of the HTTP API.
    #[arg(long, env = contract::HTTP_PORT, default_value_t = contract::DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// Largest request body, in bytes (larger: 413).
    #[arg(long, env = "EVENTFLOW_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most events in one request (more: 413).
    #[arg(long, env = "EVENTFLOW_MAX_EVENTS_PER_REQUEST", default_value_t = DEFAULT_MAX_EVENTS_PER_REQUEST)]
    pub max_events_per_request: usize,
    /// Longest wait for Kafka to acknowledge an event (then 503).
    #[arg(long, env = "EVENTFLOW_DELIVERY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,
    /// Longest time to answer a request (then 503); must exceed the delivery timeout.
    #[arg(long, env = "EVENTFLOW_REQUEST_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Most messages waiting in the local producer queue (more: 503).
    #[arg(long, env = "EVENTFLOW_QUEUE_MAX_MESSAGES", default_value_t = 100_000)]
    pub queue_max_messages: usize,
    /// How long the Kafka client waits to fill a batch (`linger.ms`).
    #[arg(long, env = "EVENTFLOW_KAFKA_LINGER", default_value = "5ms", value_parser = parse_duration)]
    pub linger: Duration,
    /// `source` of events that name none (default `/eventflow/<pipeline>`).
    #[arg(long, env = "EVENTFLOW_DEFAULT_SOURCE")]
    pub default_source: Option<String>,
    /// Rate limit: events per second each client may send, per bearer token when auth is on,
    /// else for this producer process as a whole (unset: no limit). Over it: 429 with
    /// Retry-After; a request with more events than the burst: 413.
    #[arg(long, env = contract::RATE_LIMIT_EVENTS_PER_SECOND, value_name = "EVENTS")]
    pub rate_limit_events_per_second: Option<NonZeroU32>,
    /// Rate limit: most events accepted at once from a client that sent nothing for a while
    /// (default: the events per second).
    #[arg(
        long,
        env = contract::RATE_LIMIT_BURST,
        value_name = "EVENTS",
        requires = "rate_limit_events_per_second"
    )]
    pub rate_limit_burst: Option<NonZeroU32>,
    /// Most API requests served at once; one more is answered 503 with Retry-After at once.
    #[arg(long, env = "EVENTFLOW_MAX_IN_FLIGHT", default_value = "256")]
    pub max_in_flight: NonZeroUsize,
    /// Longest wait for a request's line and headers, and for the next request on an idle
    /// keep-alive connection (then the connection is closed).
    #[arg(long, env = "EVENTFLOW_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// Longest wait for a whole request body (then 408 and the connection is closed); the
    /// request timeout still bounds the whole request, so set this below it.
    #[arg(long, env = "EVENTFLOW_BODY_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,
}

/// JWT validation of the /v1 routes (`producer.auth.jwt`).
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// JWT verification key: the HS256 secret (its bytes as stored, at least 32), or for RS256
    /// and ES256 PEM public keys or a JWKS document (keys matched on the token's `kid`). When
    /// set, every /v1 route accepts a JWT as its bearer token.
    #[arg(long, env = contract::JWT_KEY_FILE, value_name = "PATH", requires = "jwt_algorithm")]
    pub jwt_key_file: Option<PathBuf>,
    /// The one JWT algorithm accepted: HS256, RS256 or ES256 (a token naming another, or
    /// `none`, is refused).
    #[arg(long, env = contract::JWT_ALGORITHM, value_name = "ALG")]
    pub jwt_algorithm: Option<auth::jwt::JwtAlgorithm>,
    /// The `iss` every JWT must carry (unset: not checked).
    #[arg(long, env = contract::JWT_ISSUER)]
    pub jwt_issuer: Option<String>,
    /// A value every JWT's `aud` must contain (unset: a JWT carrying an `aud` is refused).
    #[arg(long, env = contract::JWT_AUDIENCE)]
    pub jwt_audience: Option<String>,
    /// Clock skew allowed when checking `exp` and `nbf` (whole seconds count).
    #[arg(long, env = contract::JWT_LEEWAY, default_value = "60s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,
}

impl JwtArgs {
    /// The verifier, when a key file is configured.
    pub fn verifier(&self) -> Result<Option<Arc<auth::jwt::JwtVerifier>>> {
        let (Some(path), Some(algorithm)) = (&self.jwt_key_file, self.jwt_algorithm) else {
            return Ok(None);
        };
        let claims = auth::jwt::Claims {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            leeway: self.jwt_leeway,
        };
        auth::jwt::JwtVerifier::from_file(algorithm, path, &claims).map(|v| Some(Arc::new(v)))
    }
}

impl ProducerArgs {
    /// The configured rate limit, if any.
    pub fn rate_limit(&self) -> Option<Rate> {
        self.rate_limit_events_per_second
            .map(|events_per_second| Rate {
                events_per_second,
                burst: self.rate_limit_burst.unwrap_or(events_per_second),
            })
    }
}

/// Longest wait for one Kafka answer while reading the dead-letter topic (then 503).
const DEAD_LETTER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the API state (no network I/O: Kafka and MongoDB clients connect lazily).
pub async fn build(args: &ProducerArgs, registry: &Registry) -> Result<AppState> {
    if args.request_timeout <= args.delivery_timeout {
        return Err(Error::Config(
            "the request timeout must exceed the delivery timeout".into(),
        ));
    }
    let metrics = Metrics::register(registry)?;
    let settings = kafka::Settings {
        delivery_timeout: args.delivery_timeout,
        queue_max_messages: args.queue_max_messages,
        linger: args.linger,
    };
    let dead_letters = dead_letters::reader::DeadLetterReader::new(
        args.kafka.client_config()?,
        args.dlq_topic
            .clone()
            .unwrap_or_else(|| contract::naming::dead_letter_topic(&args.topic)),
        DEAD_LETTER_READ_TIMEOUT,
    );
    let sink = KafkaSink::new(
        args.kafka.client_config()?,
        args.topic.clone(),
        settings,
        metrics.clone(),
    )?;
    let credentials = auth::Credentials {
        tokens: args
            .auth_tokens_file
            .as_deref()
            .map(auth::Tokens::from_file)
            .transpose()?,
        jwt: args.jwt.verifier()?,
    };
    let clients = credentials.clients();
    let validation = Validation {
        rules: EventRules::from_file(args.allowed_types.clone(), args.schema_file.as_deref())?,
        partition_key: args.partition_key.clone(),
        default_source: args
            .default_source
            .clone()
            .unwrap_or_else(|| format!("/eventflow/{}", args.telemetry.pipeline)),
        max_events: args.max_events_per_request,
    };
    let ingest = Ingest {
        sink,
        validation,
        rate_limit: args
            .rate_limit()
            .map(|rate| RateLimiter::new(rate, clients)),
    };
    let store = Store::connect(
        args.mongo.uri.expose(),
        &args.mongo.database,
        &args.mongo.collection,
    )
    .await?;
    let document = openapi::document(&openapi::Contract {
        rules: &ingest.validation.rules,
        max_events: ingest.validation.max_events,
        auth: credentials.is_on(),
    });
    Ok(AppState {
        ingest: Arc::new(ingest),
        store,
        dead_letters: Arc::new(dead_letters),
        credentials,
        in_flight: InFlight::new(args.max_in_flight.get(), metrics.clone()),
        metrics,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            request_timeout: args.request_timeout,
            body_read_timeout: args.body_read_timeout,
        },
        openapi: openapi::to_text(&document).into(),
    })
}

/// Runs the producer until SIGTERM/SIGINT: stops accepting, finishes in-flight requests,
/// flushes the Kafka producer.
pub async fn run(args: ProducerArgs) -> Result<()> {
    eventflow_contract::logs::init(args.telemetry.log_format);
    let registry = Metrics::registry(&args.telemetry.metrics_label())?;
    let state = build(&args, &registry).await?;
    let shutdown = admin::shutdown_on_signal();
    let readiness = Readiness::new("checking Kafka and MongoDB");
    readiness.register(&registry)?;
    let bind = |port| SocketAddr::new(args.telemetry.bind_address, port);
    let admin = admin::serve(
        bind(args.telemetry.admin_port),
        registry,
        readiness.clone(),
        shutdown.clone(),
    )
    .await?;
    let watcher = tokio::spawn(readiness::watch_readiness(
        state.clone(),
        readiness.clone(),
        shutdown.clone(),
    ));
    let listener = TcpListener::bind(bind(args.http_port)).await?;
    tracing::info!(address = %listener.local_addr()?, topic = %args.topic, "producer API listening");
    server::serve(
        listener,
        router(state.clone()),
        args.header_read_timeout,
        state.metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    readiness.set_not_ready("shutting down");
    tracing::info!(
        queued = state.ingest.sink.queued(),
        "flushing the Kafka producer"
    );
    state.ingest.sink.flush(args.delivery_timeout).await?;
    shutdown.cancel();
    drop(tokio::join!(admin, watcher));
    tracing::info!("producer stopped");
    Ok(())
}
