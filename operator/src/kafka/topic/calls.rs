//! The broker calls behind [`super::ensure`]: describe, create, read and alter configs, grow.

use std::sync::Arc;

use rdkafka::{
    admin::{
        AlterConfig, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
    },
    types::RDKafkaErrorCode,
};

use super::{DesiredTopic, ObservedTopic, TopicChange, TopicRefusal, TopicReport};
use crate::{Error, Result, kafka::KafkaAdmin};

/// The topic's partition count and replication factor, `None` when it does not exist.
///
/// Metadata is eventually consistent (a broker may learn of a topic the controller created a
/// moment ago a little later), so "missing" is asked twice more.
pub async fn describe(admin: &Arc<KafkaAdmin>, name: &str) -> Result<Option<ObservedTopic>> {
    for _ in 0..2 {
        if let Some(observed) = describe_once(admin, name).await? {
            return Ok(Some(observed));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    describe_once(admin, name).await
}

async fn describe_once(admin: &Arc<KafkaAdmin>, name: &str) -> Result<Option<ObservedTopic>> {
    let admin = Arc::clone(admin);
    let topic = name.to_owned();
    let metadata = tokio::task::spawn_blocking(move || {
        admin
            .client()
            .inner()
            .fetch_metadata(Some(&topic), admin.timeout())
    })
    .await
    .map_err(|e| Error::KafkaResource {
        operation: "describe",
        resource: name.to_owned(),
        message: e.to_string(),
    })??;
    let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else {
        return Ok(None);
    };
    match topic.error().map(RDKafkaErrorCode::from) {
        None => {}
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => return Ok(None),
        Some(code) => return Err(resource_error("describe", name, code)),
    }
    if topic.partitions().is_empty() {
        return Ok(None);
    }
    let replicas = topic.partitions().first().map_or(0, |p| p.replicas().len());
    Ok(Some(ObservedTopic {
        partitions: u32::try_from(topic.partitions().len()).unwrap_or(u32::MAX),
        replication_factor: u16::try_from(replicas).unwrap_or(u16::MAX),
    }))
}

/// Creates the topic; `false` when it already existed.
pub(super) async fn create(admin: &KafkaAdmin, desired: &DesiredTopic) -> Result<bool> {
    let partitions = i32::try_from(desired.partitions).unwrap_or(i32::MAX);
    let replication = TopicReplication::Fixed(i32::from(desired.replication_factor));
    let mut topic = NewTopic::new(&desired.name, partitions, replication);
    for (key, value) in &desired.config {
        topic = topic.set(key, value);
    }
    let results = admin
        .client()
        .create_topics([&topic], &admin.options())
        .await?;
    match results.into_iter().find_map(Result::err) {
        None => Ok(true),
        Some((_, RDKafkaErrorCode::TopicAlreadyExists)) => Ok(false),
        Some((name, code)) => Err(resource_error("create", &name, code)),
    }
}

/// Keys whose value on the broker differs from the spec, plus overrides the spec no longer has.
pub(super) async fn config_differences(
    admin: &KafkaAdmin,
    desired: &DesiredTopic,
) -> Result<Vec<String>> {
    let specifier = ResourceSpecifier::Topic(&desired.name);
    let results = admin
        .client()
        .describe_configs([&specifier], &admin.options())
        .await?;
    let mut differing = Vec::new();
    for result in results {
        let resource =
            result.map_err(|code| resource_error("describe configs", &desired.name, code))?;
        for (key, value) in &desired.config {
            let current = resource.get(key).and_then(|entry| entry.value.as_deref());
            if current != Some(value.as_str()) {
                differing.push(key.clone());
            }
        }
        let stale = resource.entries.iter().filter(|entry| {
            entry.source == ConfigSource::DynamicTopic && !desired.config.contains_key(&entry.name)
        });
        differing.extend(stale.map(|entry| entry.name.clone()));
    }
    Ok(differing)
}

/// The first per-resource error code of an admin call, or the call's own error code.
pub(super) fn first_error<T>(
    outcome: rdkafka::error::KafkaResult<Vec<Result<T, (T, RDKafkaErrorCode)>>>,
) -> Result<Option<RDKafkaErrorCode>> {
    match outcome {
        Ok(results) => Ok(results
            .into_iter()
            .find_map(Result::err)
            .map(|(_, code)| code)),
        Err(error) => Ok(Some(crate::kafka::error_code(&error).ok_or(error)?)),
    }
}

/// Sets the topic's overrides to the spec's; `Some(answer)` when the broker refused them.
pub(super) async fn alter_config(
    admin: &KafkaAdmin,
    desired: &DesiredTopic,
) -> Result<Option<String>> {
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(&desired.name));
    for (key, value) in &desired.config {
        alter = alter.set(key, value);
    }
    let code = first_error(
        admin
            .client()
            .alter_configs([&alter], &admin.options())
            .await,
    )?;
    match code {
        None => Ok(None),
        Some(code) if refused(code) || code == RDKafkaErrorCode::InvalidConfig => {
            Ok(Some(code.to_string()))
        }
        Some(code) => Err(resource_error("alter configs", &desired.name, code)),
    }
}

pub(super) async fn grow(
    admin: &KafkaAdmin,
    desired: &DesiredTopic,
    observed: ObservedTopic,
    report: &mut TopicReport,
) -> Result<()> {
    let count = usize::try_from(desired.partitions).unwrap_or(usize::MAX);
    let partitions = NewPartitions::new(&desired.name, count);
    let outcome = first_error(
        admin
            .client()
            .create_partitions([&partitions], &admin.options())
            .await,
    )?;
    match outcome {
        None => {
            report.partitions = desired.partitions;
            report.changes.push(TopicChange::PartitionsGrown {
                from: observed.partitions,
                to: desired.partitions,
            });
            Ok(())
        }
        Some(code) if refused(code) || invalid_growth(code) => {
            report.refusal = Some(TopicRefusal::PartitionGrowthRejected {
                current: observed.partitions,
                desired: desired.partitions,
                message: code.to_string(),
            });
            Ok(())
        }
        Some(code) => Err(resource_error("create partitions", &desired.name, code)),
    }
}

/// Answers meaning "this broker will not do that request", not "try again".
fn refused(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnsupportedFeature
            | RDKafkaErrorCode::UnsupportedVersion
            | RDKafkaErrorCode::InvalidRequest
            | RDKafkaErrorCode::PolicyViolation
    )
}

/// Answers meaning "this broker will not add these partitions".
fn invalid_growth(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::InvalidPartitions | RDKafkaErrorCode::InvalidReplicationFactor
    )
}

pub(super) fn resource_error(
    operation: &'static str,
    resource: &str,
    code: RDKafkaErrorCode,
) -> Error {
    Error::KafkaResource {
        operation,
        resource: resource.to_owned(),
        message: code.to_string(),
    }
}
