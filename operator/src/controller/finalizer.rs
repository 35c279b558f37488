//! Deletion through the finalizer (added and removed by `kube::runtime::finalizer`): honour
//! `deletionPolicy`, never wedge the namespace.
//!
//! With `Delete`, the topic (and the consumer group's offsets, where the broker supports it)
//! is removed before the finalizer is. When Kafka cannot be reached, each failed attempt is
//! counted in the [`CLEANUP_ATTEMPTS_ANNOTATION`] and the next one is due after
//! [`retry_delay`] (`--backoff-base` doubling up to 5 min), recorded in
//! [`CLEANUP_NEXT_ATTEMPT_ANNOTATION`]: a reconcile before then (the annotation patch's own watch
//! event, an operator restart) attempts nothing and requeues for the due time. After the
//! configured number of attempts the finalizer is removed anyway and a Warning Event says what
//! was left behind.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde_json::json;

use super::{
    Context,
    events::{self, Reason},
};
use crate::{
    Error, Result,
    crd::{DeletionPolicy, EventPipeline},
    kafka::topic::{self, GroupDeletion},
};

/// The operator's finalizer on every pipeline.
pub const FINALIZER: &str = "eventflow.dev/cleanup";
/// Failed cleanup attempts so far.
pub const CLEANUP_ATTEMPTS_ANNOTATION: &str = "eventflow.dev/cleanup-attempts";
/// When the next cleanup attempt is due (RFC 3339), after a failed one.
pub const CLEANUP_NEXT_ATTEMPT_ANNOTATION: &str = "eventflow.dev/cleanup-next-attempt";

/// Cleans up after a deleted pipeline; on `Ok`, kube's finalizer helper removes the finalizer.
/// Only the topics the pipeline owns ([`super::claims`]) are deleted, and their owner records
/// go with the pipeline, which releases the topics.
pub async fn cleanup(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
) -> Result<Action> {
    let owned: Vec<String> = ctx
        .claims
        .owned_topics(pipeline)
        .await?
        .into_iter()
        .map(|owner| owner.topic)
        .collect();
    if pipeline.spec.topic.deletion_policy == DeletionPolicy::Retain {
        let note = format!(
            "topic {} kept (deletionPolicy Retain)",
            topics(pipeline, &owned)
        );
        events::normal(&ctx.recorder, pipeline, Reason::TopicRetained, note).await;
    } else {
        let wait = wait_before_attempt(pipeline, Utc::now());
        if !wait.is_zero() {
            let attempts = attempts(pipeline);
            return Err(Error::CleanupWaiting { attempts, wait });
        }
        let reason = if owned.is_empty() {
            Reason::TopicRetained
        } else {
            Reason::TopicDeleted
        };
        match delete_topic_and_group(pipeline, ctx, &owned).await {
            Ok(note) => events::normal(&ctx.recorder, pipeline, reason, note).await,
            Err(error) => give_up_or_retry(api, pipeline, ctx, error).await?,
        }
    }
    ctx.claims.release(pipeline).await?;
    Ok(Action::await_change())
}

/// The topics named in a note: those owned, else the one the pipeline names.
fn topics(pipeline: &EventPipeline, owned: &[String]) -> String {
    if owned.is_empty() {
        pipeline.topic_name()
    } else {
        owned.join(", ")
    }
}

async fn delete_topic_and_group(
    pipeline: &EventPipeline,
    ctx: &Context,
    owned: &[String],
) -> Result<String> {
    let admin = ctx.kafka.for_pipeline(&ctx.client, pipeline).await?;
    let mut notes = Vec::new();
    if owned.is_empty() {
        let name = pipeline.topic_name();
        notes.push(format!("topic {name} kept: this pipeline does not own it"));
    }
    for topic in owned {
        for name in [
            topic.clone(),
            eventflow_contract::naming::dead_letter_topic(topic),
        ] {
            let outcome = if topic::delete(&admin, &name).await? {
                "deleted"
            } else {
                "was already gone"
            };
            notes.push(format!("topic {name} {outcome}"));
        }
    }
    let group = pipeline.group_id();
    notes.push(match topic::delete_group(&admin, &group).await? {
        GroupDeletion::Deleted => format!("consumer group {group} deleted"),
        GroupDeletion::NotFound => format!("consumer group {group} had no offsets"),
        GroupDeletion::NotDeleted(why) => format!("consumer group {group} kept: {why}"),
    });
    Ok(notes.join("; "))
}

/// Counts a failed attempt and schedules the next; after the last one, warns and returns `Ok`
/// so the finalizer goes.
async fn give_up_or_retry(
    api: &Api<EventPipeline>,
    pipeline: &EventPipeline,
    ctx: &Context,
    error: Error,
) -> Result<()> {
    let attempts = attempts(pipeline) + 1;
    if attempts < ctx.settings.cleanup_attempts {
        ctx.metrics.error(error.kind());
        let wait = retry_delay(
            attempts,
            ctx.settings.backoff_base,
            ctx.settings.backoff_max,
        );
        let due = Utc::now() + wait;
        let patch = json!({ "metadata": { "annotations": {
            CLEANUP_ATTEMPTS_ANNOTATION: attempts.to_string(),
            CLEANUP_NEXT_ATTEMPT_ANNOTATION: due.to_rfc3339_opts(SecondsFormat::Millis, true),
        } } });
        api.patch(
            &pipeline.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        tracing::warn!(%error, attempts, retry_in = ?wait, "cleanup failed; will retry");
        return Err(Error::CleanupWaiting { attempts, wait });
    }
    let note = format!(
        "gave up deleting topics {} and {} and consumer group {} on {} after {attempts} attempts ({error}); all were left behind",
        pipeline.topic_name(),
        pipeline.dead_letter_topic_name(),
        pipeline.group_id(),
        pipeline.spec.kafka.bootstrap_servers,
    );
    events::warning(&ctx.recorder, pipeline, Reason::CleanupAbandoned, note).await;
    Ok(())
}

/// Failed cleanup attempts recorded on the pipeline.
pub fn attempts(pipeline: &EventPipeline) -> u32 {
    pipeline
        .annotations()
        .get(CLEANUP_ATTEMPTS_ANNOTATION)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The wait after `failed` failed attempts: the project's one backoff shape, `base` doubling per
/// further failure, at most `max`.
pub fn retry_delay(failed: u32, base: Duration, max: Duration) -> Duration {
    eventflow_contract::backoff::delay_after(failed, base, max)
}

/// How long until the next attempt is due at `now` (zero: due, or none recorded).
pub fn wait_before_attempt(pipeline: &EventPipeline, now: DateTime<Utc>) -> Duration {
    pipeline
        .annotations()
        .get(CLEANUP_NEXT_ATTEMPT_ANNOTATION)
        .and_then(|due| DateTime::parse_from_rfc3339(due).ok())
        .and_then(|due| (due.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn attempts_are_spaced_five_seconds_doubling_up_to_five_minutes() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(300));
        let waits: Vec<u64> = (1..=9)
            .map(|failed| retry_delay(failed, base, max).as_secs())
            .collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(u32::MAX, base, max), max, "no overflow");
        // The default 5 attempts span 75 s: a one-minute Kafka blip does not abandon the topic.
        let span: Duration = (1..5).map(|failed| retry_delay(failed, base, max)).sum();
        assert_eq!(span, Duration::from_secs(75));
    }

    #[test]
    fn an_attempt_waits_until_the_recorded_due_time() {
        let now = Utc::now();
        let with_due = |due: Option<String>| {
            let mut pipeline = EventPipeline::new("p", serde_json::from_value(json!({
                "kafka": {"bootstrapServers": "k:9092"},
                "sink": {"mongodb": {"uriSecretRef": {"name": "m", "key": "uri"}, "database": "d", "collection": "c"}},
            })).unwrap());
            if let Some(due) = due {
                pipeline
                    .annotations_mut()
                    .insert(CLEANUP_NEXT_ATTEMPT_ANNOTATION.to_owned(), due);
            }
            wait_before_attempt(&pipeline, now)
        };
        let at = |seconds| (now + TimeDelta::seconds(seconds)).to_rfc3339();
        // (what, annotation, wait)
        let cases = [
            ("no attempt failed yet: due now", None, Duration::ZERO),
            (
                "due in 10 s: wait 10 s",
                Some(at(10)),
                Duration::from_secs(10),
            ),
            ("due time passed: due now", Some(at(-3)), Duration::ZERO),
            (
                "unreadable: due now, never stuck",
                Some("soon".to_owned()),
                Duration::ZERO,
            ),
        ];
        for (what, due, expected) in cases {
            assert_eq!(with_due(due), expected, "{what}");
        }
    }
}
