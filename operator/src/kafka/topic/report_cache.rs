//! The last report of each pipeline's topics, so that the reconciles of an unchanged pipeline
//! (a lag poll, a child's status change) do not ask the broker again.

use std::time::Duration;

use super::{DesiredTopic, TopicReport};
use crate::{crd::EventPipeline, kafka::KafkaConnection, resync_cache::ResyncCache};

/// Reports of [`super::ensure`] per pipeline, each reused under [`crate::resync_cache`]'s rule
/// (same pipeline object, younger than the freshness) while the connection and the desired
/// topics are the same too: a spec change, another cluster, an annotation or a status write
/// ensures at once; a change made on the broker behind the operator's back (a deleted topic,
/// altered configs) is seen within the freshness (the controller's resync).
#[derive(Debug)]
pub struct TopicReportCache {
    reports: ResyncCache<Kept>,
}

#[derive(Debug)]
struct Kept {
    connection: KafkaConnection,
    desired: Vec<DesiredTopic>,
    report: TopicReport,
}

impl TopicReportCache {
    /// Reports are reused for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            reports: ResyncCache::new(fresh_for),
        }
    }

    /// The report of `pipeline` when its `desired` topics were ensured over `connection` for
    /// this very object less than the freshness ago: the topic exists, and nothing was changed
    /// by this reconcile.
    pub fn get(
        &self,
        pipeline: &EventPipeline,
        connection: &KafkaConnection,
        desired: &[DesiredTopic],
    ) -> Option<TopicReport> {
        self.reports.find(pipeline, |kept| {
            (kept.connection == *connection && kept.desired == desired).then(|| TopicReport {
                existed: true,
                changes: Vec::new(),
                ..kept.report.clone()
            })
        })
    }

    /// Keeps the report of `pipeline`'s `desired` topics, just ensured over `connection`.
    pub fn keep(
        &self,
        pipeline: &EventPipeline,
        connection: &KafkaConnection,
        desired: Vec<DesiredTopic>,
        report: &TopicReport,
    ) {
        let kept = Kept {
            connection: connection.clone(),
            desired,
            report: report.clone(),
        };
        self.reports.keep(pipeline, kept);
    }

    /// Forgets `pipeline` (deleted).
    pub fn forget(&self, pipeline: &EventPipeline) {
        self.reports.forget(pipeline);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kafka::topic::TopicChange;

    fn pipeline(name: &str, version: &str) -> EventPipeline {
        let mut pipeline = EventPipeline::new(name, crate::crd::EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("ns".to_owned());
        pipeline.metadata.resource_version = Some(version.to_owned());
        pipeline
    }

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
        let recent = TopicReportCache::new(Duration::from_secs(60));
        let kafka = KafkaConnection::plain("kafka:9092");
        let p = pipeline("p", "7");
        assert_eq!(recent.get(&p, &kafka, &desired(3)), None);
        recent.keep(&p, &kafka, desired(3), &created());
        let reused = recent.get(&p, &kafka, &desired(3));
        assert_eq!(
            reused,
            Some(TopicReport {
                existed: true,
                changes: Vec::new(),
                ..created()
            })
        );
        let other = pipeline("other", "7");
        assert_eq!(recent.get(&other, &kafka, &desired(3)), None);
        assert_eq!(recent.get(&p, &kafka, &desired(4)), None, "a spec change");
        let elsewhere = KafkaConnection::plain("other:9092");
        assert_eq!(
            recent.get(&p, &elsewhere, &desired(3)),
            None,
            "another cluster"
        );
        let annotated = pipeline("p", "8");
        assert_eq!(
            recent.get(&annotated, &kafka, &desired(3)),
            None,
            "any change"
        );
        recent.forget(&p);
        assert_eq!(recent.get(&p, &kafka, &desired(3)), None);
    }

    #[test]
    fn a_stale_report_is_not_reused() {
        let recent = TopicReportCache::new(Duration::ZERO);
        let kafka = KafkaConnection::plain("kafka:9092");
        let p = pipeline("p", "7");
        recent.keep(&p, &kafka, desired(3), &created());
        assert_eq!(recent.get(&p, &kafka, &desired(3)), None);
    }
}
