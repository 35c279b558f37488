//! Warning Events for the trouble a person must act on: every reason for which a condition is
//! `False` (a missing Secret, an unreachable or refusing Kafka, a refused topic change, an
//! incompatible schema, a stuck rollout, …) except the ones that pass by themselves
//! ([`PASSING`]). A reason seen for the first time is one Warning Event; while it lasts, its
//! sightings are counted into that Event's series, patched at most every [`REPEAT_EVERY`] (the
//! `EventSeries` way); when it is gone, a Normal `Recovered` Event says so. A new generation
//! of the spec refused for the same reason with another message (another invalid value) is a
//! new Warning.
//!
//! What was published lives in this memory, not in the pipeline's status: a reconcile may read
//! a pipeline from the watch cache before the cache has the status the previous reconcile wrote.
//! A restarted operator starts with an empty memory: a trouble it finds continues the Warning
//! an earlier operator wrote for it within [`INHERIT_WITHIN`] (its series counts on) instead of
//! publishing another.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use k8s_openapi::{api::events::v1::Event, jiff::Timestamp};
use kube::Resource;

use super::{
    events::{self, EventAction, Publisher, Reason, Severity},
    status::DesiredCondition,
};
use crate::crd::EventPipeline;

/// The shortest time between two updates of a continuing trouble's Event.
pub const REPEAT_EVERY: Duration = Duration::from_secs(5 * 60);

/// How recently an earlier operator must have written a trouble's Warning for a restarted one
/// to continue it: a trouble still there was written at most [`REPEAT_EVERY`] before that
/// operator stopped.
const INHERIT_WITHIN: Duration = Duration::from_secs(2 * REPEAT_EVERY.as_secs());

/// Condition reasons that are no trouble: a rollout under way, a pipeline suspended on purpose,
/// and a lag measurement that failed once (its cause, if lasting, has a reason of its own).
const PASSING: [&str; 3] = ["Progressing", "Suspended", "MeasurementFailed"];

/// The Warning Events published for troubles, per pipeline (`namespace/name`) and condition
/// reason, with each one's series; Normal `Recovered` Events when a trouble is gone.
#[derive(Debug)]
pub struct WarningEvents {
    open: Mutex<HashMap<String, BTreeMap<String, Series>>>,
    /// When this memory began: Warnings written before were an earlier operator's.
    started: Timestamp,
}

impl Default for WarningEvents {
    fn default() -> Self {
        Self {
            open: Mutex::default(),
            started: Timestamp::now(),
        }
    }
}

/// One trouble's Event: its name (none until created), the generation and note it was
/// published for, how often it was seen, since when, and when the Event was last written.
#[derive(Debug)]
struct Series {
    event: Option<String>,
    generation: Option<i64>,
    note: String,
    count: i32,
    since: Instant,
    written: Instant,
}

/// Where and when troubles were seen: the pipeline (`namespace/name`), its generation, the time.
#[derive(Debug, Clone)]
struct Sighting {
    key: String,
    generation: Option<i64>,
    at: Instant,
}

impl Sighting {
    fn now(pipeline: &EventPipeline) -> Self {
        Self {
            key: pipeline.object_key(),
            generation: pipeline.meta().generation,
            at: Instant::now(),
        }
    }
}

/// What to publish about one reason.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Start { reason: String, note: String },
    Repeat { name: String, count: i32 },
    Recover { reason: String, lasted: Duration },
}

impl WarningEvents {
    /// Publishes what a reconcile's `conditions` (every condition it decided) say: a Warning per
    /// new trouble, a repeat of continuing ones, `Recovered` for the ones gone.
    pub async fn observe(
        &self,
        publisher: &Publisher,
        pipeline: &EventPipeline,
        conditions: &[DesiredCondition],
    ) {
        let seen = troubles(conditions);
        let steps = self.plan(&Sighting::now(pipeline), &seen, true);
        self.publish(publisher, pipeline, steps).await;
    }

    /// Publishes one sighting of `reason` by a phase that ended the reconcile early, so says
    /// nothing of the other troubles.
    pub async fn raise(
        &self,
        publisher: &Publisher,
        pipeline: &EventPipeline,
        reason: &str,
        note: &str,
    ) {
        let seen = BTreeMap::from([(reason.to_owned(), note.to_owned())]);
        let steps = self.plan(&Sighting::now(pipeline), &seen, false);
        self.publish(publisher, pipeline, steps).await;
    }

    /// Forgets `pipeline` (deleted).
    pub fn forget(&self, pipeline: &EventPipeline) {
        self.lock().remove(&pipeline.object_key());
    }

    /// The steps for the troubles `seen` now (by reason, with a note); `complete` when `seen`
    /// is every trouble of the pipeline, so that the others are over.
    fn plan(
        &self,
        sighting: &Sighting,
        seen: &BTreeMap<String, String>,
        complete: bool,
    ) -> Vec<Step> {
        let (key, now) = (&sighting.key, sighting.at);
        let mut open = self.lock();
        let series = open.entry(key.clone()).or_default();
        let mut steps: Vec<Step> = seen
            .iter()
            .filter_map(|(reason, note)| sight(series, sighting, reason, note))
            .collect();
        if complete {
            series.retain(|reason, known| {
                let lasting = seen.contains_key(reason);
                if !lasting {
                    let lasted = now - known.since;
                    steps.push(Step::Recover {
                        reason: reason.clone(),
                        lasted,
                    });
                }
                lasting
            });
        }
        if series.is_empty() {
            open.remove(key);
        }
        steps
    }

    async fn publish(&self, publisher: &Publisher, pipeline: &EventPipeline, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Start { reason, note } => {
                    if let Some((name, count)) = self.inherited(publisher, pipeline, &reason).await
                    {
                        self.created(pipeline, &reason, name.clone(), count);
                        if let Err(error) = publisher.repeat(pipeline, &name, count).await {
                            tracing::warn!(%error, event = name, "could not update event");
                        }
                        continue;
                    }
                    let created = publisher
                        .create(
                            pipeline,
                            Severity::Warning,
                            (&reason, EventAction::Reconcile.as_str()),
                            &note,
                        )
                        .await;
                    match created {
                        Ok(name) => self.created(pipeline, &reason, name, 1),
                        Err(error) => tracing::warn!(%error, reason, "could not publish event"),
                    }
                }
                Step::Repeat { name, count } => {
                    if let Err(error) = publisher.repeat(pipeline, &name, count).await {
                        tracing::warn!(%error, event = name, "could not update event");
                    }
                }
                Step::Recover { reason, lasted } => {
                    let note = format!("{reason} resolved after {}s", lasted.as_secs());
                    events::normal(publisher, pipeline, Reason::Recovered, note).await;
                }
            }
        }
    }

    /// The Warning an earlier operator wrote for `reason` on `pipeline`, to continue: its name
    /// and the count with this sighting ([`inheritable`]). A failed lookup inherits nothing.
    async fn inherited(
        &self,
        publisher: &Publisher,
        pipeline: &EventPipeline,
        reason: &str,
    ) -> Option<(String, i32)> {
        let warnings = publisher
            .warnings(pipeline, reason)
            .await
            .inspect_err(|error| tracing::debug!(%error, reason, "could not list warnings"))
            .ok()?;
        inheritable(&warnings, self.started, Timestamp::now())
    }

    /// Records the name of a trouble's Event and its count, so that its repeats update it.
    fn created(&self, pipeline: &EventPipeline, reason: &str, name: String, count: i32) {
        let mut open = self.lock();
        if let Some(series) = open
            .get_mut(&pipeline.object_key())
            .and_then(|s| s.get_mut(reason))
        {
            series.event = Some(name);
            series.count = series.count.max(count);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, Series>>> {
        // Each change is one insert or remove, so a poisoned lock is still consistent.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One more sighting of `reason`: a new trouble starts (as does a known one seen with another
/// note for another generation); a known one is counted, and repeated when its Event was
/// written [`REPEAT_EVERY`] ago.
fn sight(
    series: &mut BTreeMap<String, Series>,
    sighting: &Sighting,
    reason: &str,
    note: &str,
) -> Option<Step> {
    let now = sighting.at;
    let renewed = series
        .get(reason)
        .is_some_and(|known| known.generation != sighting.generation && known.note != note);
    if renewed {
        series.remove(reason);
    }
    let Some(known) = series.get_mut(reason) else {
        let started = Series {
            event: None,
            generation: sighting.generation,
            note: note.to_owned(),
            count: 1,
            since: now,
            written: now,
        };
        series.insert(reason.to_owned(), started);
        return Some(Step::Start {
            reason: reason.to_owned(),
            note: note.to_owned(),
        });
    };
    known.count = known.count.saturating_add(1);
    let name = known.event.clone()?;
    if now - known.written < REPEAT_EVERY {
        return None;
    }
    known.written = now;
    Some(Step::Repeat {
        name,
        count: known.count,
    })
}

/// Of the Warnings of one trouble, the one to continue: the last written, if before `started`
/// (an earlier operator's) and within [`INHERIT_WITHIN`] of `now`; its name and count with one
/// more sighting.
fn inheritable(warnings: &[Event], started: Timestamp, now: Timestamp) -> Option<(String, i32)> {
    let last_written = |event: &Event| {
        event
            .series
            .as_ref()
            .map(|series| series.last_observed_time.0)
            .or_else(|| event.event_time.as_ref().map(|time| time.0))
    };
    let (written, event) = warnings
        .iter()
        .filter_map(|event| Some((last_written(event)?, event)))
        .max_by_key(|(written, _)| *written)?;
    let age = now.duration_since(written);
    let recent = written < started && age.unsigned_abs() < INHERIT_WITHIN && age.is_positive();
    if !recent {
        return None;
    }
    let count = event.series.as_ref().map_or(1, |series| series.count);
    Some((event.metadata.name.clone()?, count.saturating_add(1)))
}

/// The troubles among `conditions`, by reason, with the first message of each.
fn troubles(conditions: &[DesiredCondition]) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for condition in conditions
        .iter()
        .filter(|v| !v.ok && !PASSING.contains(&v.reason.as_str()))
    {
        found
            .entry(condition.reason.clone())
            .or_insert_with(|| condition.message.clone());
    }
    found
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::events::v1::EventSeries, apimachinery::pkg::apis::meta::v1::MicroTime};

    use super::*;
    use crate::controller::status::{PRODUCER_READY, READY, TOPIC_READY};

    fn seen(reasons: &[&str]) -> BTreeMap<String, String> {
        reasons
            .iter()
            .map(|r| ((*r).to_owned(), format!("{r} note")))
            .collect()
    }

    /// The steps as (kind, reason or event, count) for a short comparison.
    fn kinds(steps: &[Step]) -> Vec<(&'static str, String, i32)> {
        steps
            .iter()
            .map(|step| match step {
                Step::Start { reason, .. } => ("start", reason.clone(), 1),
                Step::Repeat { name, count } => ("repeat", name.clone(), *count),
                Step::Recover { reason, .. } => ("recover", reason.clone(), 0),
            })
            .collect()
    }

    /// A sighting of `ns/p` at generation 1, `secs` after `t0`.
    fn at(t0: Instant, secs: u64) -> Sighting {
        Sighting {
            key: "ns/p".to_owned(),
            generation: Some(1),
            at: t0 + Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_trouble_starts_once_repeats_at_most_every_interval_and_recovers_once() {
        let warnings = WarningEvents::default();
        let t0 = Instant::now();
        let every = REPEAT_EVERY.as_secs();
        let kafka = seen(&["KafkaUnavailable"]);
        let first = warnings.plan(&at(t0, 0), &kafka, true);
        assert_eq!(kinds(&first), [("start", "KafkaUnavailable".into(), 1)]);
        let mut open = warnings.lock();
        open.get_mut("ns/p")
            .unwrap()
            .get_mut("KafkaUnavailable")
            .unwrap()
            .event = Some("p.1".to_owned());
        drop(open);
        let soon = warnings.plan(&at(t0, 15), &kafka, true);
        assert!(
            soon.is_empty(),
            "a sighting within the interval is counted: {soon:?}"
        );
        let later = warnings.plan(&at(t0, every), &kafka, true);
        assert_eq!(kinds(&later), [("repeat", "p.1".into(), 3)]);
        let again = warnings.plan(&at(t0, every * 3 / 2), &kafka, true);
        assert!(again.is_empty(), "{again:?}");
        let over = warnings.plan(&at(t0, every * 2), &seen(&[]), true);
        assert_eq!(kinds(&over), [("recover", "KafkaUnavailable".into(), 0)]);
        assert!(
            warnings
                .plan(&at(t0, every * 3), &seen(&[]), true)
                .is_empty()
        );
        assert!(
            warnings.lock().is_empty(),
            "nothing kept for a pipeline without trouble"
        );
    }

    #[test]
    fn a_restarted_operator_continues_the_last_recent_warning_of_an_earlier_one() {
        let now = Timestamp::now();
        let ago = |secs: i64| MicroTime(now - k8s_openapi::jiff::SignedDuration::from_secs(secs));
        let warning = |name: &str, created: i64, series: Option<(i32, i64)>| Event {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            event_time: Some(ago(created)),
            series: series.map(|(count, written)| EventSeries {
                count,
                last_observed_time: ago(written),
            }),
            ..Event::default()
        };
        let started = now - k8s_openapi::jiff::SignedDuration::from_secs(30);
        let within = INHERIT_WITHIN.as_secs().cast_signed();
        let cases = [
            (vec![warning("a", 900, Some((4, 200)))], Some(("a", 5))),
            (vec![warning("a", 60, None)], Some(("a", 2))),
            (
                vec![
                    warning("old", 5000, Some((9, 400))),
                    warning("new", 300, None),
                ],
                Some(("new", 2)),
            ),
            (vec![warning("stale", 5000, Some((9, within + 60)))], None),
            (vec![warning("mine", 10, None)], None),
            (vec![], None),
        ];
        for (warnings, expected) in cases {
            let names: Vec<_> = warnings.iter().map(|w| w.metadata.name.clone()).collect();
            assert_eq!(
                inheritable(&warnings, started, now),
                expected.map(|(name, count)| (name.to_owned(), count)),
                "{names:?}"
            );
        }
    }

    #[test]
    fn a_partial_sighting_starts_its_reason_and_ends_no_other() {
        let warnings = WarningEvents::default();
        let t0 = Instant::now();
        warnings.plan(&at(t0, 0), &seen(&["SecretMissing"]), true);
        let partial = warnings.plan(&at(t0, 1), &seen(&["InvalidSpec"]), false);
        assert_eq!(kinds(&partial), [("start", "InvalidSpec".into(), 1)]);
        let complete = warnings.plan(&at(t0, 2), &seen(&["SecretMissing"]), true);
        assert_eq!(kinds(&complete), [("recover", "InvalidSpec".into(), 0)]);
        let other = Sighting {
            key: "ns/q".to_owned(),
            ..at(t0, 3)
        };
        let other = warnings.plan(&other, &seen(&["SecretMissing"]), true);
        assert_eq!(
            kinds(&other),
            [("start", "SecretMissing".into(), 1)],
            "per pipeline"
        );
    }

    #[test]
    fn another_refusal_of_a_new_generation_is_a_new_warning() {
        let warnings = WarningEvents::default();
        let t0 = Instant::now();
        let refused = |note: &str| BTreeMap::from([("InvalidSpec".to_owned(), note.to_owned())]);
        warnings.plan(&at(t0, 0), &refused("maxReplicas 0"), false);
        let same = warnings.plan(&at(t0, 1), &refused("maxReplicas 0 (again)"), false);
        assert!(same.is_empty(), "same generation: {same:?}");
        let next = Sighting {
            generation: Some(2),
            ..at(t0, 2)
        };
        assert!(
            warnings
                .plan(&next, &refused("maxReplicas 0"), false)
                .is_empty(),
            "same note"
        );
        let other = warnings.plan(&next, &refused("batchSize 0"), false);
        assert_eq!(kinds(&other), [("start", "InvalidSpec".into(), 1)]);
    }

    #[test]
    fn every_failing_reason_but_the_passing_ones_is_a_trouble_once() {
        let conditions = [
            DesiredCondition::not_ok(READY, "SecretMissing", "secret m is missing"),
            DesiredCondition::ok(TOPIC_READY, "TopicReady", "fine"),
            DesiredCondition::not_ok(PRODUCER_READY, "SecretMissing", "secret m is missing"),
            DesiredCondition::not_ok(PRODUCER_READY, "Progressing", "1/2 pods"),
            DesiredCondition::not_ok(READY, "RolloutStuck", "stuck"),
        ];
        let found: Vec<String> = troubles(&conditions).into_keys().collect();
        assert_eq!(found, ["RolloutStuck", "SecretMissing"]);
    }
}
