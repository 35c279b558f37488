//! `eventflow consumer`: Kafka into MongoDB in batches, offsets committed only after the write.
//!
//! One thread polls Kafka ([`poll_loop`]) and decodes messages into a [`batch::Batch`]. A due
//! batch (size or timeout) is written in the background ([`writer`]: one unordered
//! `insert_many` into MongoDB via [`sink`], poison messages to `<topic>.dlq` via [`dlq`]) while
//! the next one fills; a few writes may be in flight, settled in order ([`flush`]). Only the
//! offsets of a batch written along with every batch before it are recorded and committed
//! ([`offsets`]). A failing write pauses fetching, also on partitions assigned meanwhile
//! ([`pause`]), and is retried with capped backoff; librdkafka's prefetch is sized from the
//! batch ([`prefetch`]), so memory stays bounded through an outage; partitions being revoked
//! are flushed first ([`rebalance`]); SIGTERM stops fetching, flushes, commits and leaves the
//! group. The admin server reports readiness ([`health`]) and [`metrics`].

pub mod batch;
pub mod decode;
pub mod dlq;
pub mod flush;
pub mod health;
pub mod membership;
pub mod metrics;
pub mod offsets;
pub mod pause;
pub mod poll_loop;
pub mod prefetch;
pub mod rebalance;
pub mod sink;
pub mod writer;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use clap::Args;
use mongodb::{
    Client, Database,
    options::{Acknowledgment, ClientOptions, CollectionOptions, WriteConcern},
};
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer},
};
use tokio_util::sync::CancellationToken;

use self::{
    flush::{FlushSettings, Flusher},
    health::{Check, Health},
    membership::Membership,
    metrics::ConsumerMetrics,
    prefetch::Prefetch,
    rebalance::RebalanceContext,
    sink::Sink,
    writer::Writer,
};
use eventflow_contract::{
    self as contract, admin, duration::parse as parse_duration, naming,
    write_concern::Acknowledgment as WriteAcknowledgment,
};

use crate::{
    Result,
    config::{KafkaArgs, MongoArgs, TelemetryArgs},
    event::EventRules,
};

/// Environment variable of `--dlq-topic` (a consumer tuning knob, not set by the operator).
pub const DLQ_TOPIC_ENV: &str = "EVENTFLOW_DLQ_TOPIC";

/// How often MongoDB is pinged for readiness.
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// Extra time for leaving the group after the shutdown flush; with the default shutdown
/// timeout the process is gone well within Kubernetes' default 30 s grace period.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Configuration of the consumer.
#[derive(Debug, Clone, Args)]
pub struct ConsumerArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub membership: Membership,
    /// Kafka topic to consume.
    #[arg(long, env = contract::TOPIC)]
    pub topic: String,
    /// Consumer group id.
    #[arg(long, env = contract::GROUP_ID)]
    pub group_id: String,
    /// Where a group without committed offsets starts.
    #[arg(long, env = contract::AUTO_OFFSET_RESET, default_value = "earliest")]
    pub auto_offset_reset: String,
    /// Events per batch written to MongoDB. Memory: the consumer holds at most (writes in
    /// flight + 1) batches of events, also while MongoDB is down (fetching pauses), plus
    /// librdkafka's prefetch (see --event-bytes).
    #[arg(long, env = contract::BATCH_SIZE, default_value_t = 100)]
    pub batch_size: usize,
    /// Expected size of one event in Kafka, in bytes: sizes librdkafka's prefetch to about a
    /// batch (fetch.max.bytes = batch size x this, 1 to 16 MiB; the queue stops fetching at
    /// that many bytes or two batches of messages), so
    /// librdkafka holds at most two fetches (2 MiB with the defaults). A librdkafka property
    /// in the Kafka properties file wins. The resulting bound: docs/consumer-memory.md.
    #[arg(long, env = "EVENTFLOW_EVENT_BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub event_bytes: u64,
    /// Most batch writes in flight at once; offsets are still committed in order, only for
    /// batches written along with every batch before them.
    #[arg(long, env = "EVENTFLOW_MAX_WRITES_IN_FLIGHT", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub max_writes_in_flight: u16,
    /// Longest wait since a batch's first event before it is written.
    #[arg(long, env = contract::BATCH_TIMEOUT, default_value = "5s", value_parser = parse_duration)]
    pub batch_timeout: Duration,
    /// JSON Schema file that every event's `data` must satisfy (others go to the DLQ).
    #[arg(long, env = contract::SCHEMA_FILE, value_name = "PATH")]
    pub schema_file: Option<PathBuf>,
    /// Allowed event types, comma separated (empty: any); others go to the DLQ.
    #[arg(long, env = contract::ALLOWED_TYPES, value_delimiter = ',')]
    pub allowed_types: Vec<String>,
    /// Delete stored events this long after they were stored: a TTL index on `ingestedAt`
    /// (whole seconds, rounded up; unset: the TTL index is dropped if there is one).
    #[arg(long, env = contract::MONGODB_TTL, value_parser = parse_duration)]
    pub mongodb_ttl: Option<Duration>,
    /// Members that acknowledge each write before its offsets are committed: `majority` or a
    /// number (1: the primary alone, whose acknowledged writes a failover can roll back).
    #[arg(long, env = contract::MONGODB_WRITE_CONCERN, default_value = "majority")]
    pub mongodb_write_concern: WriteAcknowledgment,
    /// Acknowledge a write only once it is in the on-disk journal.
    #[arg(long, env = contract::MONGODB_JOURNAL, default_value_t = true, action = clap::ArgAction::Set)]
    pub mongodb_journal: bool,
    /// Dead-letter topic for poison messages (default `<topic>.dlq`).
    #[arg(long, env = DLQ_TOPIC_ENV)]
    pub dlq_topic: Option<String>,
    /// First retry delay after a failed batch write; doubles per failure.
    #[arg(long, env = "EVENTFLOW_RETRY_BACKOFF_INITIAL", default_value = "200ms", value_parser = parse_duration)]
    pub retry_backoff_initial: Duration,
    /// Cap of the retry delay.
    #[arg(long, env = "EVENTFLOW_RETRY_BACKOFF_MAX", default_value = "30s", value_parser = parse_duration)]
    pub retry_backoff_max: Duration,
    /// Longest one MongoDB write or DLQ acknowledgement may take before it counts as failed.
    #[arg(long, env = "EVENTFLOW_WRITE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub write_timeout: Duration,
    /// librdkafka `max.poll.interval.ms`: longest pause between polls before the group
    /// considers this member dead (also the rebalance timeout).
    #[arg(long, env = "EVENTFLOW_MAX_POLL_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub max_poll_interval: Duration,
    /// Longest time between offset commits while batches are written (0: after every batch);
    /// offsets are committed only for batches already written, and always on revocation and
    /// shutdown.
    #[arg(long, env = "EVENTFLOW_COMMIT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub commit_interval: Duration,
    /// Longest a shutdown (or a revocation) waits for a failing write before giving the batch
    /// up uncommitted.
    #[arg(long, env = "EVENTFLOW_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

impl ConsumerArgs {
    /// The dead-letter topic.
    pub fn dlq_topic(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| naming::dead_letter_topic(&self.topic))
    }

    /// The librdkafka consumer configuration: no automatic offset store or commit (offsets are
    /// committed explicitly after each handled batch), the prefetch sized for the batch.
    pub fn consumer_config(&self) -> Result<ClientConfig> {
        let mut config = self.kafka.client_config()?;
        Prefetch::new(self.batch_size, self.event_bytes).apply(&mut config);
        self.membership.apply(&mut config);
        config
            .set("group.id", &self.group_id)
            .set("auto.offset.reset", &self.auto_offset_reset)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set(
                "max.poll.interval.ms",
                crate::config::millis(self.max_poll_interval),
            )
            .set("statistics.interval.ms", "5000");
        Ok(config)
    }

    fn flush_settings(&self) -> FlushSettings {
        FlushSettings {
            batch_size: self.batch_size.max(1),
            max_in_flight: usize::from(self.max_writes_in_flight),
            batch_timeout: self.batch_timeout,
            backoff_initial: self.retry_backoff_initial,
            backoff_max: self.retry_backoff_max,
            commit_interval: self.commit_interval,
            give_up_after: self.shutdown_timeout,
        }
    }
}

/// Runs the consumer until SIGTERM/SIGINT.
pub async fn run(args: ConsumerArgs) -> Result<()> {
    eventflow_contract::logs::init(args.telemetry.log_format);
    run_until(args, admin::shutdown_on_signal()).await
}

/// Runs the consumer until `shutdown` is cancelled, then flushes, commits and leaves the group.
pub async fn run_until(args: ConsumerArgs, shutdown: CancellationToken) -> Result<()> {
    let metrics = ConsumerMetrics::new(&args.telemetry.metrics_label())?;
    let readiness = admin::Readiness::new("starting");
    readiness.register(&metrics.registry)?;
    let health = Health::new(readiness.clone());
    let background = CancellationToken::new();
    let admin_addr = SocketAddr::new(args.telemetry.bind_address, args.telemetry.admin_port);
    let admin_server = admin::serve(
        admin_addr,
        metrics.registry.clone(),
        readiness,
        background.clone(),
    )
    .await?;

    let database = connect_mongodb(&args).await?;
    let sink = Sink::new(sink_collection(&database, &args), args.write_timeout);
    tokio::spawn(health::ping_mongodb(
        database,
        health.clone(),
        PING_INTERVAL,
        background.clone(),
    ));
    ensure_indexes(&sink, &health, &args, &shutdown).await;

    let flusher = Arc::new(build_flusher(&args, sink, metrics, health)?);
    let consumer: BaseConsumer<RebalanceContext> =
        args.consumer_config()?
            .create_with_context(RebalanceContext::new(
                Arc::clone(&flusher),
                crate::kafka_log::outage(&args.kafka.bootstrap),
            ))?;
    consumer.subscribe(&[&args.topic])?;
    tracing::info!(topic = %args.topic, group = %args.group_id, dlq = %args.dlq_topic(), "consuming");

    let token = shutdown.clone();
    let drained = Arc::new(AtomicBool::new(false));
    let drain_done = Arc::clone(&drained);
    let mut worker = tokio::task::spawn_blocking(move || {
        poll_loop::run(&consumer, &flusher, &token);
        drain_done.store(true, Ordering::SeqCst);
        // Closing leaves the group; librdkafka waits for the broker's answer.
        drop(consumer);
    });
    let limit = args.shutdown_timeout + CLOSE_GRACE;
    let mut outcome = Ok(());
    tokio::select! {
        joined = &mut worker => log_worker_end(joined),
        () = async { shutdown.cancelled().await; tokio::time::sleep(limit).await } => {
            if drained.load(Ordering::SeqCst) {
                // Everything was written and committed; the group evicts this member after its
                // session timeout instead.
                tracing::warn!(?limit, "leaving the consumer group did not finish in time; exiting");
            } else {
                tracing::error!(?limit, "the consumer did not flush and commit in time; exiting");
                outcome = Err(crate::Error::ShutdownTimeout(limit));
            }
        }
    }
    background.cancel();
    drop(admin_server.await);
    outcome
}

fn log_worker_end(joined: std::result::Result<(), tokio::task::JoinError>) {
    match joined {
        Ok(()) => tracing::info!("consumer stopped"),
        Err(error) => tracing::error!(%error, "the consumer thread failed"),
    }
}

fn build_flusher(
    args: &ConsumerArgs,
    sink: Sink,
    metrics: ConsumerMetrics,
    health: Health,
) -> Result<Flusher> {
    let rules = EventRules::from_file(args.allowed_types.clone(), args.schema_file.as_deref())?;
    let dead_letters = dlq::DeadLetters::new(
        args.kafka.client_config()?,
        args.dlq_topic(),
        args.topic.clone(),
        args.write_timeout,
    )?;
    let writer = Writer {
        pipeline: args.telemetry.pipeline.clone(),
        sink,
        dead_letters,
        metrics,
    };
    Ok(Flusher::new(
        args.topic.clone(),
        args.flush_settings(),
        rules,
        writer,
        health,
    ))
}

/// The collection the consumer writes, with the pipeline's write concern (over the URI's).
fn sink_collection(
    database: &Database,
    args: &ConsumerArgs,
) -> mongodb::Collection<mongodb::bson::Document> {
    let w = match args.mongodb_write_concern {
        WriteAcknowledgment::Majority => Acknowledgment::Majority,
        WriteAcknowledgment::Members(members) => Acknowledgment::Nodes(members),
    };
    let concern = WriteConcern::builder()
        .w(w)
        .journal(args.mongodb_journal)
        .build();
    let options = CollectionOptions::builder().write_concern(concern).build();
    database.collection_with_options(&args.mongo.collection, options)
}

/// The pipeline's database; server selection gives up after the write timeout unless the URI
/// says otherwise, so an outage surfaces as a failed (and retried) write.
async fn connect_mongodb(args: &ConsumerArgs) -> Result<Database> {
    let mut options = ClientOptions::parse(args.mongo.uri.expose()).await?;
    options
        .server_selection_timeout
        .get_or_insert(args.write_timeout);
    options
        .app_name
        .get_or_insert_with(|| "eventflow-consumer".to_owned());
    Ok(Client::with_options(options)?.database(&args.mongo.database))
}

/// Creates the query indexes, retrying with backoff while MongoDB is unreachable.
async fn ensure_indexes(
    sink: &Sink,
    health: &Health,
    args: &ConsumerArgs,
    shutdown: &CancellationToken,
) {
    let mut backoff = eventflow_contract::backoff::Backoff::new(
        args.retry_backoff_initial,
        args.retry_backoff_max,
    );
    while let Err(error) = sink.ensure_indexes(args.mongodb_ttl).await {
        let delay = backoff.next_delay();
        tracing::warn!(%error, retry_in = ?delay, "cannot ensure the MongoDB indexes");
        health.fail(Check::Write, format!("ensuring indexes: {error}"));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
    health.pass(Check::Write);
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: ConsumerArgs,
    }

    async fn concern_of(extra: &[&str]) -> Option<WriteConcern> {
        let mut argv = vec![
            "consumer",
            "--kafka-bootstrap",
            "k:9092",
            "--mongodb-uri",
            "mongodb://m:27017",
            "--topic",
            "t",
            "--group-id",
            "g",
        ];
        argv.extend_from_slice(extra);
        let parsed = Command::try_parse_from(argv).unwrap().args;
        let client = Client::with_uri_str("mongodb://m:27017").await.unwrap();
        let database = client.database("d");
        sink_collection(&database, &parsed).write_concern().cloned()
    }

    #[tokio::test]
    async fn writes_wait_for_a_journaled_majority_unless_the_pipeline_says_otherwise() {
        let concern = concern_of(&[]).await.unwrap_or_default();
        assert_eq!(
            (concern.w, concern.journal),
            (Some(Acknowledgment::Majority), Some(true)),
            "the default write concern"
        );
        let concern = concern_of(&["--mongodb-write-concern", "1", "--mongodb-journal", "false"])
            .await
            .unwrap_or_default();
        assert_eq!(
            (concern.w, concern.journal),
            (Some(Acknowledgment::Nodes(1)), Some(false))
        );
    }
}
