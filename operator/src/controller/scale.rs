//! The scaling phase of reconcile: measure the consumer group's lag, decide the consumer
//! replicas, and hand the decision to the builders (the Deployment's replicas) and the status.
//!
//! Every pipeline's lag is measured, for `status.lag`; only pipelines with `autoscaling.enabled`
//! (and not suspended) are also sized (`Scaler::conclude`): the others keep the spec's replicas
//! (`Scaler::observe`). Each is measured at most once per `pollInterval` (and at once after a
//! spec change): a reconcile triggered in between — e.g. by the status this phase just wrote —
//! reuses the remembered outcome, so a status write never causes another poll; and a poll that
//! finds the same figures writes nothing (`status::unchanged` ignores a `measuredAt` that alone
//! moved).
//! The remembered outcome, not the possibly stale cached object, also carries the replicas into
//! such reconciles, so a lagging watch cache never flips the Deployment back.
//!
//! A failed measurement never scales ([`scaling::hold`]): the replicas stay, `Scaling=False`
//! says why, and the previous lag figures stay with their `measuredAt`.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff};
use kube::{Resource, ResourceExt, runtime::reflector::ObjectRef};
// tokio's clock, so that a test with paused time can say exactly when the next poll is due.
use tokio::time::Instant;

use super::status::{DesiredCondition, SCALING};
use crate::{
    Result,
    crd::{ConsumerStatus, EventPipeline, EventPipelineStatus, LagStatus},
    kafka::{
        KafkaAdmins, KafkaConnection,
        lag::{LagError, LagReader, LagTarget},
        topic::TopicReport,
    },
    resources::{
        consumer,
        meta::{self, Component},
    },
    scaling::{self, Decision, History, Input, LagSample, Policy, Rule, ScalingMetrics},
};

/// A poll this close to due is taken now (requeue timers are not exact); at most a tenth of the
/// interval, so that frequent reconciles never poll faster than that.
const DUE_TOLERANCE: Duration = Duration::from_millis(500);

/// What the scaling phase hands to the rest of reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The `Scaling` condition (autoscaled pipelines only).
    pub condition: Option<DesiredCondition>,
    /// `status.lag` (the last successful measurement).
    pub lag: Option<LagStatus>,
    /// `status.consumer.{desiredReplicas,lastScaleTime,lastScaleReason}` (`replicas` unset).
    pub consumer: ConsumerStatus,
    /// The Event message when this poll changed the replicas (`None` when reused).
    pub scaled: Option<String>,
    /// When the next poll is due.
    pub next_poll: Duration,
}

impl Outcome {
    /// Sets the scaler's part of `status` (lag and the decision; `consumer.replicas` is kept).
    pub fn write_into(&self, status: &mut EventPipelineStatus) {
        status.lag.clone_from(&self.lag);
        let consumer = status.consumer.get_or_insert_with(Default::default);
        consumer.desired_replicas = self.consumer.desired_replicas;
        consumer
            .last_scale_time
            .clone_from(&self.consumer.last_scale_time);
        consumer
            .last_scale_reason
            .clone_from(&self.consumer.last_scale_reason);
        consumer.assigned_partitions = self.consumer.assigned_partitions;
        consumer.consumers_holding_none = self.consumer.consumers_holding_none;
    }
}

/// What the scaler remembers about one pipeline.
#[derive(Default)]
struct Tracked {
    history: History,
    /// The consumer Deployment's replicas this process applied last.
    applied: Option<u32>,
    polled_at: Option<Instant>,
    generation: Option<i64>,
    last: Option<Outcome>,
}

impl Tracked {
    /// Remembers a poll's outcome (without its one-off scale event) until the next poll is due.
    fn remember(&mut self, pipeline: &EventPipeline, poll: &Poll<'_>, outcome: &Outcome) {
        self.last = Some(Outcome {
            scaled: None,
            ..outcome.clone()
        });
        self.polled_at = Some(poll.started);
        self.generation = pipeline.meta().generation;
    }
}

/// The shared lag reader, the per-pipeline history and the scaler's metrics.
pub struct Scaler {
    reader: LagReader,
    metrics: ScalingMetrics,
    pipelines: Mutex<HashMap<String, Tracked>>,
}

impl std::fmt::Debug for Scaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scaler")
            .field("reader", &self.reader)
            .field("pipelines", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Scaler {
    /// A scaler measuring through `reader` and recording into `metrics`.
    pub fn new(reader: LagReader, metrics: ScalingMetrics) -> Self {
        Self {
            reader,
            metrics,
            pipelines: Mutex::new(HashMap::new()),
        }
    }

    /// Drops what is remembered about a pipeline: history and metric series.
    pub fn forget(&self, pipeline: &EventPipeline) {
        let label = pipeline.object_key();
        self.lock().remove(&label);
        self.metrics.forget(&label);
    }

    /// Records the consumer replicas running now (after the Deployment was applied).
    pub fn running(&self, pipeline: &EventPipeline, replicas: u32) {
        self.metrics.set_replicas(&pipeline.object_key(), replicas);
    }

    /// Records the replicas just applied to the consumer Deployment: the next poll's current.
    pub fn applied(&self, pipeline: &EventPipeline, replicas: u32) {
        self.lock()
            .entry(pipeline.object_key())
            .or_default()
            .applied = Some(replicas);
    }

    /// The consumer replicas now: as this process last applied them, else (after a restart)
    /// where the builder starts.
    fn current(&self, pipeline: &EventPipeline) -> u32 {
        self.lock()
            .get(&pipeline.object_key())
            .and_then(|tracked| tracked.applied)
            .unwrap_or_else(|| consumer::replicas(pipeline))
    }

    /// The remembered outcome while the next poll of `pipeline` is not due yet.
    fn remembered(&self, pipeline: &EventPipeline, interval: Duration) -> Option<Outcome> {
        let pipelines = self.lock();
        let tracked = pipelines.get(&pipeline.object_key())?;
        let elapsed = tracked.polled_at?.elapsed();
        let tolerance = DUE_TOLERANCE.min(interval / 10);
        if tracked.generation != pipeline.meta().generation || elapsed + tolerance >= interval {
            return None;
        }
        let mut outcome = tracked.last.clone()?;
        outcome.next_poll = interval.saturating_sub(elapsed);
        Some(outcome)
    }

    /// Records one poll's measurement of a pipeline that is not sized (autoscaling off, or
    /// suspended): the lag for status, the replicas as the spec says, no `Scaling` condition.
    /// Its sizing history is dropped, so autoscaling turned on later starts afresh.
    fn observe(&self, pipeline: &EventPipeline, poll: &Poll<'_>) -> Outcome {
        let label = pipeline.object_key();
        self.metrics.forget(&label);
        let mut pipelines = self.lock();
        let tracked = pipelines.entry(label).or_default();
        tracked.history = History::default();
        let (previous_lag, before) = tracked
            .last
            .as_ref()
            .map_or_else(|| stored(pipeline), lag_and_consumer);
        let outcome = Outcome {
            condition: None,
            lag: poll.sample.as_ref().ok().map(lag_status).or(previous_lag),
            consumer: ConsumerStatus {
                desired_replicas: Some(consumer::replicas(pipeline)),
                ..held(poll.sample.as_ref().ok(), before)
            },
            scaled: None,
            next_poll: poll.interval.saturating_sub(poll.started.elapsed()),
        };
        tracked.remember(pipeline, poll, &outcome);
        outcome
    }

    /// Decides on one poll's measurement and remembers the outcome.
    fn conclude(&self, pipeline: &EventPipeline, poll: &Poll<'_>) -> Outcome {
        let label = pipeline.object_key();
        let mut pipelines = self.lock();
        let tracked = pipelines.entry(label.clone()).or_default();
        if let Some(delay) = lateness(tracked, pipeline, poll) {
            self.metrics.poll_delayed(delay);
        }
        let measured = match &poll.sample {
            Ok(sample) => Ok(Input {
                sample,
                partitions: poll.partitions,
                current_replicas: poll.current,
                ready_replicas: poll.ready,
            }),
            Err(error) => Err((poll.current, error)),
        };
        let policy = Policy::from_spec(&pipeline.spec.autoscaling);
        let decision = scaling::poll(
            &policy,
            &mut tracked.history,
            &self.metrics,
            &label,
            measured,
        );
        let previous = tracked
            .last
            .as_ref()
            .map_or_else(|| stored(pipeline), lag_and_consumer);
        let mut outcome = outcome(previous, &decision, poll.sample.as_ref().ok());
        outcome.next_poll = poll.interval.saturating_sub(poll.started.elapsed());
        tracked.remember(pipeline, poll, &outcome);
        outcome
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Tracked>> {
        self.pipelines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How late a scheduled poll started: after the previous poll of the same generation, the time
/// past `previous + interval` (zero when early: polls within [`DUE_TOLERANCE`] are taken).
fn lateness(tracked: &Tracked, pipeline: &EventPipeline, poll: &Poll<'_>) -> Option<Duration> {
    let previous = tracked.polled_at?;
    if tracked.generation != pipeline.meta().generation {
        return None; // a spec change polls at once, off the schedule
    }
    let since = poll.started.saturating_duration_since(previous);
    Some(since.saturating_sub(poll.interval))
}

/// One poll's inputs.
struct Poll<'a> {
    started: Instant,
    interval: Duration,
    partitions: u32,
    current: u32,
    /// Consumers ready (assigned) now, at most `current`.
    ready: u32,
    sample: Result<LagSample, LagUnavailable<'a>>,
}

/// Why a poll has no lag sample (the `Scaling=False` message).
#[derive(Debug, thiserror::Error)]
enum LagUnavailable<'a> {
    /// The pipeline's Kafka connection could not be read (the topic phase's error).
    #[error("{0}")]
    Connection(&'a crate::Error),
    /// No connection and no error saying why (the topic phase always has one).
    #[error("no Kafka connection")]
    NoConnection,
    /// The connection's client could not be created.
    #[error("{0}")]
    Client(crate::Error),
    /// The measurement failed.
    #[error("{0}")]
    Lag(#[from] LagError),
}

/// The scaling phase: the lag of every pipeline, and the decision of autoscaled ones.
pub async fn phase(
    ctx: &super::Context,
    pipeline: &EventPipeline,
    topic: &Result<TopicReport>,
    connection: Option<KafkaConnection>,
) -> Outcome {
    let scaler = &ctx.scaler;
    let interval = scaling::poll_interval(&pipeline.spec.autoscaling);
    if let Some(outcome) = scaler.remembered(pipeline, interval) {
        return outcome;
    }
    let started = Instant::now();
    let current = scaler.current(pipeline);
    let sample = measure(&scaler.reader, &ctx.kafka, pipeline, connection, topic).await;
    if let Err(LagUnavailable::Lag(LagError::TopicMissing { .. })) = &sample {
        // Deleted behind the operator's back: the next reconcile ensures the topic again.
        ctx.topics.forget(pipeline);
    }
    let autoscaled = autoscaled(pipeline);
    let poll = Poll {
        started,
        interval,
        partitions: partitions(pipeline, topic),
        current,
        // Only the scaling decision reads it: the cached Deployment is parsed for that alone.
        ready: if autoscaled {
            ready_consumers(ctx, pipeline, current, sample.as_ref().ok())
        } else {
            current
        },
        sample,
    };
    if !autoscaled {
        return scaler.observe(pipeline, &poll);
    }
    let outcome = scaler.conclude(pipeline, &poll);
    tracing::debug!(decision = ?outcome.condition, "scaling decided");
    outcome
}

/// Whether the scaler sizes the pipeline's consumers: autoscaling on and not suspended.
pub fn autoscaled(pipeline: &EventPipeline) -> bool {
    pipeline.spec.autoscaling.enabled && !pipeline.spec.suspend
}

/// Measures the pipeline's lag over the connection the topic phase used; without one, the
/// measurement fails with the reason the topic phase has.
async fn measure<'a>(
    reader: &LagReader,
    clients: &KafkaAdmins,
    pipeline: &EventPipeline,
    connection: Option<KafkaConnection>,
    topic: &'a Result<TopicReport>,
) -> Result<LagSample, LagUnavailable<'a>> {
    let Some(connection) = connection else {
        return Err(topic
            .as_ref()
            .err()
            .map_or(LagUnavailable::NoConnection, LagUnavailable::Connection));
    };
    let client = clients
        .get(pipeline, &connection)
        .map_err(LagUnavailable::Client)?;
    Ok(reader.measure(&client, &LagTarget::of(pipeline)).await?)
}

/// Consumers that consume now: the consumer Deployment's `readyReplicas` in the watch cache (a
/// consumer is ready once it is in the group), at most `current`, and at most the members that
/// hold partitions when the group's coordinator said (`sample`); `current` without the caches.
fn ready_consumers(
    ctx: &super::Context,
    pipeline: &EventPipeline,
    current: u32,
    sample: Option<&LagSample>,
) -> u32 {
    let holding = sample
        .and_then(|sample| sample.assignment)
        .map_or(current, |assignment| assignment.working_consumers);
    let Some(children) = &ctx.children else {
        return current.min(holding);
    };
    let name = meta::component_name(pipeline, Component::Consumer);
    let reference = ObjectRef::new(&name).within(&pipeline.namespace().unwrap_or_default());
    let ready = children
        .deployments
        .get(&reference)
        .and_then(|cached| cached.object().ok())
        .and_then(|deployment| deployment.status?.ready_replicas)
        .and_then(|ready| u32::try_from(ready).ok())
        .unwrap_or(0);
    ready.min(current).min(holding)
}

/// The topic's partitions: as just ensured, else as last seen, else as the spec asks.
fn partitions(pipeline: &EventPipeline, topic: &Result<TopicReport>) -> u32 {
    let seen = || {
        pipeline
            .status
            .as_ref()
            .and_then(|s| s.topic.as_ref())
            .map(|t| t.partitions)
    };
    topic
        .as_ref()
        .ok()
        .map(|report| report.partitions)
        .or_else(seen)
        .unwrap_or(pipeline.spec.topic.partitions)
}

/// The scaler's part of the stored status: lag and consumer (read after an operator restart).
fn stored(pipeline: &EventPipeline) -> (Option<LagStatus>, ConsumerStatus) {
    let status = pipeline.status.clone().unwrap_or_default();
    (status.lag, status.consumer.unwrap_or_default())
}

/// The scaler's part of a remembered outcome: lag and consumer.
fn lag_and_consumer(outcome: &Outcome) -> (Option<LagStatus>, ConsumerStatus) {
    (outcome.lag.clone(), outcome.consumer.clone())
}

/// The outcome of a decision, carrying over the lag and consumer fields it does not change.
fn outcome(
    (previous_lag, before): (Option<LagStatus>, ConsumerStatus),
    decision: &Decision,
    sample: Option<&LagSample>,
) -> Outcome {
    let lag = sample
        .map(|sample| LagStatus {
            excluded_partitions: decision.excluded_partitions.clone(),
            ..lag_status(sample)
        })
        .or(previous_lag);
    let before = held(sample, before);
    let (last_scale_time, last_scale_reason) = if decision.is_scale() {
        (Some(seconds(Utc::now())), Some(decision.reason.clone()))
    } else {
        (before.last_scale_time, before.last_scale_reason)
    };
    let condition = if decision.rule == Rule::Hold {
        DesiredCondition::not_ok(SCALING, "MeasurementFailed", decision.reason.clone())
    } else {
        DesiredCondition::ok(SCALING, decision.rule.as_str(), decision.reason.clone())
    };
    Outcome {
        condition: Some(condition),
        lag,
        consumer: ConsumerStatus {
            replicas: None,
            desired_replicas: Some(decision.desired),
            last_scale_time,
            last_scale_reason,
            ..before
        },
        scaled: decision.is_scale().then(|| decision.reason.clone()),
        next_poll: Duration::ZERO,
    }
}

/// `before` with who holds the partitions as `sample` found it: unknown when the group was not
/// settled; kept as it was without a sample (a failed measurement).
fn held(sample: Option<&LagSample>, before: ConsumerStatus) -> ConsumerStatus {
    let Some(sample) = sample else {
        return before;
    };
    ConsumerStatus {
        assigned_partitions: sample.assignment.map(|a| a.assigned_partitions),
        consumers_holding_none: sample.assignment.map(|a| a.consumers_holding_none),
        ..before
    }
}

/// `status.lag` of a measurement (no partition excluded).
fn lag_status(sample: &LagSample) -> LagStatus {
    LagStatus {
        total: sample.total,
        partitions_with_lag: sample.partitions_with_lag,
        measured_at: Some(seconds(sample.measured_at)),
        excluded_partitions: Vec::new(),
    }
}

/// A time at whole seconds, as the API stores it (so a stored value compares equal).
fn seconds(at: DateTime<Utc>) -> Time {
    let timestamp =
        jiff::Timestamp::from_second(at.timestamp()).unwrap_or_else(|_| jiff::Timestamp::now());
    Time(timestamp)
}

#[cfg(test)]
mod tests;
