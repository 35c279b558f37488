//! Deleting a pipeline's topic and its consumer group (the finalizer's cleanup).

use rdkafka::{error::KafkaError, types::RDKafkaErrorCode};

use super::calls::{first_error, resource_error};
use crate::{Result, kafka::KafkaAdmin};

/// Deletes the topic; `false` when it did not exist.
pub async fn delete(admin: &KafkaAdmin, name: &str) -> Result<bool> {
    let results = admin
        .client()
        .delete_topics(&[name], &admin.options())
        .await?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => return Ok(false),
            Err((topic, code)) => return Err(resource_error("delete", &topic, code)),
        }
    }
    Ok(true)
}

/// What happened to a consumer group's offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDeletion {
    /// The group and its offsets are gone.
    Deleted,
    /// There was no such group.
    NotFound,
    /// The broker could not delete it; the message says why.
    NotDeleted(String),
}

/// Deletes a consumer group (and so its committed offsets) where the broker supports it; an
/// answer that no broker or coordinator could be reached is an error, to be retried.
pub async fn delete_group(admin: &KafkaAdmin, group: &str) -> Result<GroupDeletion> {
    let outcome = admin
        .client()
        .delete_groups(&[group], &admin.options())
        .await;
    Ok(match first_error(outcome)? {
        None => GroupDeletion::Deleted,
        Some(code) if unreachable(code) => return Err(KafkaError::AdminOp(code).into()),
        Some(RDKafkaErrorCode::GroupIdNotFound) => GroupDeletion::NotFound,
        Some(code) => GroupDeletion::NotDeleted(code.to_string()),
    })
}

/// Answers meaning "no broker or coordinator answered", not "the broker will not".
fn unreachable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
    )
}
