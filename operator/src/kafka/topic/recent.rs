//! The last report of each pipeline's topics, so that the reconciles between two checks (a lag
//! poll, a child's status change, the status write) do not ask the broker again.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use super::{DesiredTopic, TopicReport};
use crate::kafka::KafkaConnection;

/// Reports of [`super::ensure`] per pipeline, each reused while the connection and the desired
/// topics are the same and the report is younger than the freshness: a spec change (another
/// cluster included) ensures at once, a change made
/// on the broker behind the operator's back (a deleted topic, altered configs) is seen within
/// the freshness (the controller's resync).
#[derive(Debug)]
pub struct RecentTopics {
    fresh_for: Duration,
    reports: Mutex<HashMap<String, Kept>>,
}

#[derive(Debug)]
struct Kept {
    connection: KafkaConnection,
    desired: Vec<DesiredTopic>,
    at: Instant,
    report: TopicReport,
}

impl RecentTopics {
    /// Reports are reused for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            reports: Mutex::new(HashMap::new()),
        }
    }

    /// The report of `pipeline` (`namespace/name`) when its `desired` topics were ensured over
    /// `connection` less than the freshness ago: the topic exists, and nothing was changed by
    /// this reconcile.
    pub fn get(
        &self,
        pipeline: &str,
        connection: &KafkaConnection,
        desired: &[DesiredTopic],
    ) -> Option<TopicReport> {
        let reports = self.lock();
        let kept = reports.get(pipeline)?;
        if kept.connection != *connection
            || kept.desired != desired
            || kept.at.elapsed() >= self.fresh_for
        {
            return None;
        }
        Some(TopicReport {
            existed: true,
            changes: Vec::new(),
            ..kept.report.clone()
        })
    }

    /// Keeps the report of `pipeline`'s `desired` topics, just ensured over `connection`.
    pub fn keep(
        &self,
        pipeline: &str,
        connection: &KafkaConnection,
        desired: Vec<DesiredTopic>,
        report: &TopicReport,
    ) {
        let kept = Kept {
            connection: connection.clone(),
            desired,
            at: Instant::now(),
            report: report.clone(),
        };
        self.lock().insert(pipeline.to_owned(), kept);
    }

    /// Forgets `pipeline` (deleted).
    pub fn forget(&self, pipeline: &str) {
        self.lock().remove(pipeline);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Kept>> {
        // Single inserts and removes: a poisoned map is still consistent.
        self.reports.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kafka::topic::TopicChange;

    fn desired(partitions: u32) -> Vec<DesiredTopic> {
        vec![DesiredTopic {
            name: "t".to_owned(),
            partitions,
            replication_factor: 1,
            config: BTreeMap::new(),
        }]
    }

    fn created() -> TopicReport {
        TopicReport {
            name: "t".to_owned(),
            existed: false,
            partitions: 3,
            changes: vec![TopicChange::Created],
            refusal: None,
        }
    }

    #[test]
    fn a_report_is_reused_while_fresh_without_its_changes() {
        let recent = RecentTopics::new(Duration::from_secs(60));
        let kafka = KafkaConnection::plain("kafka:9092");
        assert_eq!(recent.get("ns/p", &kafka, &desired(3)), None);
        recent.keep("ns/p", &kafka, desired(3), &created());
        let reused = recent.get("ns/p", &kafka, &desired(3));
        assert_eq!(
            reused,
            Some(TopicReport {
                existed: true,
                changes: Vec::new(),
                ..created()
            })
        );
        assert_eq!(recent.get("ns/other", &kafka, &desired(3)), None);
        assert_eq!(
            recent.get("ns/p", &kafka, &desired(4)),
            None,
            "a spec change"
        );
        let elsewhere = KafkaConnection::plain("other:9092");
        assert_eq!(
            recent.get("ns/p", &elsewhere, &desired(3)),
            None,
            "another cluster"
        );
        recent.forget("ns/p");
        assert_eq!(recent.get("ns/p", &kafka, &desired(3)), None);
    }

    #[test]
    fn a_stale_report_is_not_reused() {
        let recent = RecentTopics::new(Duration::ZERO);
        let kafka = KafkaConnection::plain("kafka:9092");
        recent.keep("ns/p", &kafka, desired(3), &created());
        assert_eq!(recent.get("ns/p", &kafka, &desired(3)), None);
    }
}
