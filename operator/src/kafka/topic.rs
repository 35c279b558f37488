//! The pipeline's topic on the broker: create, adopt, reconfigure, grow, delete.
//!
//! A change the topic cannot take (fewer partitions, another replication factor) is refused
//! before anything is touched; a change the broker refuses for good (an invalid config value, a
//! policy, a broker without the request) is reported as a refusal too, so the condition says what
//! is wrong instead of the operator retrying forever.

use std::{collections::BTreeMap, sync::Arc};

mod calls;
mod cleanup;
mod report_cache;

pub use calls::describe;
use calls::{alter_config, config_differences, create, grow};
pub use cleanup::{GroupDeletion, delete, delete_group};
pub use report_cache::TopicReportCache;

use super::KafkaAdmin;
use crate::{Error, Result, crd::EventPipeline};

/// The topic as the pipeline wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTopic {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: u32,
    /// Replication factor.
    pub replication_factor: u16,
    /// Topic config overrides; the full set (other overrides are removed).
    pub config: BTreeMap<String, String>,
}

impl DesiredTopic {
    /// The topic of a pipeline's spec.
    pub fn of(pipeline: &EventPipeline) -> Self {
        let topic = &pipeline.spec.topic;
        Self {
            name: pipeline.topic_name(),
            partitions: topic.partitions,
            replication_factor: topic.replication_factor,
            config: topic.config.clone(),
        }
    }

    /// The consumer's dead-letter topic: one partition (poison is rare and order does not
    /// matter), the topic's replication factor, broker-default config.
    pub fn dead_letter_of(pipeline: &EventPipeline) -> Self {
        Self {
            name: pipeline.dead_letter_topic_name(),
            partitions: 1,
            replication_factor: pipeline.spec.topic.replication_factor,
            config: BTreeMap::new(),
        }
    }

    /// A pipeline's topics in the order [`ensure_with_dead_letter`] ensures them: the topic,
    /// then its dead-letter topic.
    pub fn with_dead_letter(pipeline: &EventPipeline) -> [Self; 2] {
        [Self::of(pipeline), Self::dead_letter_of(pipeline)]
    }
}

/// The topic as the broker has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservedTopic {
    /// Partition count.
    pub partitions: u32,
    /// Replicas of the first partition.
    pub replication_factor: u16,
}

/// What `ensure` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicChange {
    /// The topic did not exist and was created.
    Created,
    /// Config overrides were set to the spec's (the keys that differed).
    ConfigUpdated(Vec<String>),
    /// Partitions were added.
    PartitionsGrown {
        /// Count before.
        from: u32,
        /// Count after.
        to: u32,
    },
}

/// A spec the topic cannot follow; nothing was changed because of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRefusal {
    /// Kafka cannot remove partitions.
    PartitionDecrease {
        /// Count on the broker.
        current: u32,
        /// Count in the spec.
        desired: u32,
    },
    /// The replication factor of an existing topic is not changed by the operator.
    ReplicationFactorChange {
        /// Factor on the broker.
        current: u16,
        /// Factor in the spec.
        desired: u16,
    },
    /// The broker refused the spec's topic config (an invalid value, a policy, no
    /// `AlterConfigs`); the topic keeps its old config.
    ConfigRejected {
        /// Keys that differ from the spec.
        keys: Vec<String>,
        /// What the broker answered.
        message: String,
    },
    /// The broker refused to add partitions (a policy, a partition limit, no `CreatePartitions`).
    PartitionGrowthRejected {
        /// Count on the broker.
        current: u32,
        /// Count in the spec.
        desired: u32,
        /// What the broker answered.
        message: String,
    },
}

impl TopicRefusal {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PartitionDecrease { .. } => "PartitionDecreaseRefused",
            Self::ReplicationFactorChange { .. } => "ReplicationFactorChangeRefused",
            Self::ConfigRejected { .. } => "ConfigRejected",
            Self::PartitionGrowthRejected { .. } => "PartitionGrowthRejected",
        }
    }

    /// The condition message.
    pub fn message(&self, topic: &str) -> String {
        match self {
            Self::PartitionDecrease { current, desired } => format!(
                "topic {topic} has {current} partitions; Kafka cannot shrink it to {desired} (nothing changed)"
            ),
            Self::ReplicationFactorChange { current, desired } => format!(
                "topic {topic} has replication factor {current}; changing it to {desired} needs a partition reassignment, which the operator does not do (nothing changed)"
            ),
            Self::ConfigRejected { keys, message } => format!(
                "the broker refused the config of topic {topic} ({}): {message}",
                keys.join(", ")
            ),
            Self::PartitionGrowthRejected {
                current,
                desired,
                message,
            } => format!(
                "the broker refused to grow topic {topic} from {current} to {desired} partitions: {message}"
            ),
        }
    }
}

/// The outcome of [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicReport {
    /// Topic name.
    pub name: String,
    /// Whether the topic was already on the broker (adopted when the pipeline is new).
    pub existed: bool,
    /// Partition count on the broker afterwards.
    pub partitions: u32,
    /// What was changed.
    pub changes: Vec<TopicChange>,
    /// What was refused, if anything.
    pub refusal: Option<TopicRefusal>,
}

/// What [`ensure_with_dead_letter`] did to each of a pipeline's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTopicReports {
    /// The pipeline's topic.
    pub topic: TopicReport,
    /// Its dead-letter topic.
    pub dead_letter: TopicReport,
}

/// Ensures a pipeline's topic, then its dead-letter topic ([`DesiredTopic::with_dead_letter`]):
/// brokers often do not auto-create topics, and the consumer writes poison messages to the
/// second. Both are ensured even when the first reports a refusal.
pub async fn ensure_with_dead_letter(
    admin: &Arc<KafkaAdmin>,
    [topic, dead_letter]: &[DesiredTopic; 2],
) -> Result<PipelineTopicReports> {
    Ok(PipelineTopicReports {
        topic: ensure(admin, topic).await?,
        dead_letter: ensure(admin, dead_letter).await?,
    })
}

/// Makes the broker's topic match the desired one as far as Kafka allows. A failure after the
/// broker refused the connection's credentials or TLS is [`crate::Error::KafkaRefused`].
pub async fn ensure(admin: &Arc<KafkaAdmin>, desired: &DesiredTopic) -> Result<TopicReport> {
    let started = std::time::Instant::now();
    admin.checked(ensure_topic(admin, desired).await, started)
}

async fn ensure_topic(admin: &Arc<KafkaAdmin>, desired: &DesiredTopic) -> Result<TopicReport> {
    let Some(observed) = observe_or_create(admin, desired).await? else {
        let mut report = report(desired, false, desired.partitions);
        report.changes.push(TopicChange::Created);
        return Ok(report);
    };
    let mut report = report(desired, true, observed.partitions);
    if let Some(refusal) = refusal(observed, desired) {
        report.refusal = Some(refusal);
        return Ok(report);
    }
    reconfigure(admin, desired, &mut report).await?;
    if desired.partitions > observed.partitions {
        grow(admin, desired, observed, &mut report).await?;
    }
    Ok(report)
}

/// The existing topic, or `None` after creating it.
async fn observe_or_create(
    admin: &Arc<KafkaAdmin>,
    desired: &DesiredTopic,
) -> Result<Option<ObservedTopic>> {
    if let Some(observed) = describe(admin, &desired.name).await? {
        return Ok(Some(observed));
    }
    if create(admin, desired).await? {
        return Ok(None);
    }
    // Created meanwhile, or not yet in the metadata we were given: look again.
    let observed = describe(admin, &desired.name).await?;
    observed.map(Some).ok_or_else(|| Error::KafkaResource {
        operation: "describe",
        resource: desired.name.clone(),
        message: "the broker says the topic exists but returns no metadata for it".to_owned(),
    })
}

fn report(desired: &DesiredTopic, existed: bool, partitions: u32) -> TopicReport {
    TopicReport {
        name: desired.name.clone(),
        existed,
        partitions,
        changes: Vec::new(),
        refusal: None,
    }
}

/// Brings the topic's config overrides to the spec's, or reports that the broker refused.
async fn reconfigure(
    admin: &KafkaAdmin,
    desired: &DesiredTopic,
    report: &mut TopicReport,
) -> Result<()> {
    let differing = config_differences(admin, desired).await?;
    if differing.is_empty() {
        return Ok(());
    }
    if let Some(message) = alter_config(admin, desired).await? {
        report.refusal = Some(TopicRefusal::ConfigRejected {
            keys: differing,
            message,
        });
        return Ok(());
    }
    let kept = read_back(admin, desired).await?;
    if kept.is_empty() {
        report.changes.push(TopicChange::ConfigUpdated(differing));
    } else {
        report.refusal = Some(TopicRefusal::ConfigRejected {
            keys: kept,
            message: "the broker kept its values (an invalid value: its log says which)".to_owned(),
        });
    }
    Ok(())
}

/// How long an applied config may take to show in `DescribeConfigs` (the broker applies the
/// controller's record asynchronously), and how often it is read meanwhile.
const CONFIG_READ_BACK: (std::time::Duration, u32) = (std::time::Duration::from_millis(200), 15);

/// The keys still differing once the change had time to apply. rust-rdkafka's `alter_configs`
/// reports no per-topic error (the broker refuses an invalid value, the result says success),
/// so reading the config back is how a refusal shows.
async fn read_back(admin: &KafkaAdmin, desired: &DesiredTopic) -> Result<Vec<String>> {
    let (pause, reads) = CONFIG_READ_BACK;
    let mut differing = Vec::new();
    for _ in 0..reads {
        tokio::time::sleep(pause).await;
        differing = config_differences(admin, desired).await?;
        if differing.is_empty() {
            break;
        }
    }
    Ok(differing)
}

/// A change of the spec that the existing topic cannot take.
pub fn refusal(observed: ObservedTopic, desired: &DesiredTopic) -> Option<TopicRefusal> {
    if observed.replication_factor != desired.replication_factor {
        return Some(TopicRefusal::ReplicationFactorChange {
            current: observed.replication_factor,
            desired: desired.replication_factor,
        });
    }
    (desired.partitions < observed.partitions).then_some(TopicRefusal::PartitionDecrease {
        current: observed.partitions,
        desired: desired.partitions,
    })
}
