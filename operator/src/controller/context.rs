//! What every reconcile shares: the client, the builders' settings, the Kafka admin cache, the
//! Event publisher, the metrics, the scaler, the children's watch caches, and the tunables;
//! plus each pipeline's retry backoff.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use eventflow_contract::backoff::Backoff;
use kube::Client;

use super::{
    apply, changes::PublishedGenerations, claims::Claims, events, references::FoundSecrets, scale,
    tenancy::TopicPolicy, trouble::WarningEvents,
};
use crate::{
    crd::EventPipeline,
    kafka::{KafkaAdmins, lag, topic::TopicReportCache},
    metrics::Metrics,
    resources::{self, BuildContext, validate::SpecChecks},
    sink::SinkChecks,
};

/// Tunables of the reconciler.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cleanup attempts before the finalizer is removed with Kafka state left behind.
    pub cleanup_attempts: u32,
    /// First retry delay after a transient error; doubles per failure
    /// ([`eventflow_contract::backoff`]).
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Requeue of a pipeline that is ready (drift check).
    pub resync: Duration,
    /// Requeue of a pipeline that is not ready yet.
    pub progress_check: Duration,
    /// Bound of each broker round trip of a lag measurement.
    pub lag_timeout: Duration,
    /// Which topics a pipeline may name.
    pub topic_policy: TopicPolicy,
    /// Namespace of the topic owner records (the operator's own).
    pub claims_namespace: String,
    /// Whether reconciles ping the sinks' MongoDB (`SinkReady`, [`crate::sink`]).
    pub check_sinks: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cleanup_attempts: 5,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            resync: Duration::from_secs(300),
            progress_check: Duration::from_secs(15),
            lag_timeout: lag::DEFAULT_TIMEOUT,
            topic_policy: TopicPolicy::default(),
            claims_namespace: "default".to_owned(),
            check_sinks: true,
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Operator-wide settings of the builders.
    pub build: BuildContext,
    /// Cached Kafka admin clients.
    pub kafka: KafkaAdmins,
    /// Publishes Kubernetes Events.
    pub recorder: events::Publisher,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables.
    pub settings: Settings,
    /// Lag measurement, per-pipeline scaling history and the scaler's metrics.
    pub scaler: scale::Scaler,
    /// The controller's watch caches of the children (none: every reconcile applies them).
    pub children: Option<apply::Children>,
    /// The spec checks' result per pipeline and generation.
    pub spec_checks: SpecChecks,
    /// The last topic reports, reused until the resync (no broker call per lag poll).
    pub topics: TopicReportCache,
    /// Pipelines whose Secrets were all found, not read again until the resync.
    pub secrets: FoundSecrets,
    /// The MongoDB clients of the sink check, and the pings that succeeded.
    pub sinks: SinkChecks,
    /// The topic owner records.
    pub claims: Claims,
    /// The generation whose Events were published, per pipeline.
    pub published_generations: PublishedGenerations,
    /// The Warning Events published per pipeline for the troubles a person must act on.
    pub warnings: WarningEvents,
    failures: Mutex<HashMap<String, Backoff>>,
}

impl Context {
    /// A context over a client and the operator's settings.
    pub fn new(
        client: Client,
        build: BuildContext,
        kafka: KafkaAdmins,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let reporter = kube::runtime::events::Reporter {
            controller: resources::meta::FIELD_MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let reader = lag::LagReader::new(settings.lag_timeout);
        let topics = TopicReportCache::new(settings.resync);
        let secrets = FoundSecrets::new(settings.resync);
        let claims = Claims::new(client.clone(), &settings.claims_namespace);
        Self {
            claims,
            scaler: scale::Scaler::new(reader, metrics.scaling().clone()),
            recorder: events::Publisher::new(client.clone(), reporter),
            client,
            build,
            kafka,
            metrics,
            settings,
            children: None,
            spec_checks: SpecChecks::default(),
            topics,
            secrets,
            sinks: SinkChecks::default(),
            published_generations: PublishedGenerations::default(),
            warnings: WarningEvents::default(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// This context reading the children from the controller's watch caches.
    #[must_use]
    pub fn with_children(mut self, children: apply::Children) -> Self {
        self.children = Some(children);
        self
    }

    /// The retry delay after one more failure of `pipeline`.
    pub(super) fn next_backoff(&self, pipeline: &EventPipeline) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .entry(pipeline.object_key())
            .or_insert_with(|| Backoff::new(self.settings.backoff_base, self.settings.backoff_max))
            .next_delay()
    }

    /// Drops everything kept in memory about a deleted `pipeline`; the one place that does.
    ///
    /// That is its scaling history, Kafka and MongoDB clients (unless another pipeline uses
    /// them), spec checks, topic reports, found Secrets, sink check outcomes, published
    /// generation, Warning Events, confirmed topic claims, metric series and retry delay.
    /// Called once [`super::finalizer::cleanup`] succeeded, which deletes what the pipeline
    /// left in Kafka and its topic owner records.
    pub fn forget(&self, pipeline: &EventPipeline) {
        self.scaler.forget(pipeline);
        self.kafka.release(pipeline);
        self.spec_checks.forget(pipeline);
        self.topics.forget(pipeline);
        self.secrets.forget(pipeline);
        self.sinks.forget(pipeline);
        self.published_generations.forget(pipeline);
        self.warnings.forget(pipeline);
        self.claims.forget(pipeline);
        self.metrics.forget(pipeline);
        self.reset_backoff(pipeline);
    }

    pub(super) fn reset_backoff(&self, pipeline: &EventPipeline) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&pipeline.object_key());
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("build", &self.build)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
