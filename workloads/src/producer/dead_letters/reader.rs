//! Reading the dead-letter topic (`<topic>.dlq`, written by the consumer) as it is: a consumer
//! that assigns partitions itself, joins no group and commits nothing, so listing dead letters
//! changes no offset and no one else's position. Order: partition, then offset; a dead letter's
//! id is `<partition>-<offset>` in the dead-letter topic, stable for as long as Kafka keeps it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
    message::BorrowedMessage,
};

use crate::{consumer::dlq::owned_headers, kafka_log::OutageLogContext};

/// One message of the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Where it is in the dead-letter topic.
    pub position: Position,
    /// When the consumer dead-lettered it (the message's timestamp).
    pub time: Option<DateTime<Utc>>,
    /// The original key.
    pub key: Option<Vec<u8>>,
    /// The original value.
    pub value: Option<Vec<u8>>,
    /// The original headers plus the consumer's `eventflow-*` headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl DeadLetter {
    fn of(message: &BorrowedMessage<'_>) -> Self {
        Self {
            position: Position {
                partition: message.partition(),
                offset: message.offset(),
            },
            time: message
                .timestamp()
                .to_millis()
                .and_then(DateTime::from_timestamp_millis),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: owned_headers(message.headers()),
        }
    }

    /// The (last) value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.as_deref())
            .map(|value| String::from_utf8_lossy(value).into_owned())
    }
}

/// A place in the dead-letter topic: a dead letter's id, or where a page continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in it.
    pub offset: i64,
}

impl Position {
    /// The id form, `<partition>-<offset>`.
    pub fn id(self) -> String {
        format!("{}-{}", self.partition, self.offset)
    }

    /// Parses the id form.
    pub fn parse(id: &str) -> Option<Self> {
        let (partition, offset) = id.split_once('-')?;
        Some(Self {
            partition: partition.parse().ok().filter(|p| *p >= 0)?,
            offset: offset.parse().ok().filter(|o| *o >= 0)?,
        })
    }
}

/// Reads the dead-letter topic.
#[derive(Clone)]
pub struct DeadLetterReader {
    config: ClientConfig,
    topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for DeadLetterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterReader")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl DeadLetterReader {
    /// A reader of `topic` with the producer's Kafka settings; each Kafka call gives up after
    /// `timeout`.
    pub fn new(mut config: ClientConfig, topic: String, timeout: Duration) -> Self {
        config
            .set("group.id", "eventflow-dead-letter-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest");
        Self {
            config,
            topic,
            timeout,
        }
    }

    /// The dead-letter topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Up to `wanted` dead letters that `keep` accepts, in order from `from` (inclusive;
    /// `None`: the beginning). Blocking: call it off the async runtime.
    pub fn scan(
        &self,
        from: Option<Position>,
        wanted: usize,
        keep: &dyn Fn(&DeadLetter) -> bool,
    ) -> Result<Vec<DeadLetter>, String> {
        let consumer = self.consumer()?;
        let mut found = Vec::new();
        for partition in self.partitions(&consumer)? {
            if from.is_some_and(|from| partition < from.partition) {
                continue;
            }
            let start = from
                .filter(|from| from.partition == partition)
                .map_or(0, |from| from.offset);
            self.read_partition(&consumer, partition, start, &mut |letter| {
                if keep(&letter) {
                    found.push(letter);
                }
                found.len() < wanted
            })?;
            if found.len() >= wanted {
                break;
            }
        }
        Ok(found)
    }

    /// The dead letter at `position`, if the topic holds one there.
    pub fn get(&self, position: Position) -> Result<Option<DeadLetter>, String> {
        let consumer = self.consumer()?;
        if !self.partitions(&consumer)?.contains(&position.partition) {
            return Ok(None);
        }
        let mut found = None;
        self.read_partition(
            &consumer,
            position.partition,
            position.offset,
            &mut |letter| {
                if letter.position == position {
                    found = Some(letter);
                }
                false
            },
        )?;
        Ok(found)
    }

    fn consumer(&self) -> Result<BaseConsumer<OutageLogContext>, String> {
        self.config
            .create_with_context(OutageLogContext::of(&self.config))
            .map_err(|e| format!("dead-letter reader: {e}"))
    }

    /// The topic's partitions, sorted; none when the topic does not exist (yet).
    fn partitions(&self, consumer: &BaseConsumer<OutageLogContext>) -> Result<Vec<i32>, String> {
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), self.timeout)
            .map_err(|e| format!("metadata of {}: {e}", self.topic))?;
        let mut partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|topic| topic.name() == self.topic && topic.error().is_none())
            .flat_map(|topic| {
                topic
                    .partitions()
                    .iter()
                    .map(rdkafka::metadata::MetadataPartition::id)
            })
            .collect();
        partitions.sort_unstable();
        Ok(partitions)
    }

    /// Feeds `visit` the partition's messages from `start` (or its low watermark) up to the
    /// high watermark as of now, while `visit` returns true.
    fn read_partition(
        &self,
        consumer: &BaseConsumer<OutageLogContext>,
        partition: i32,
        start: i64,
        visit: &mut dyn FnMut(DeadLetter) -> bool,
    ) -> Result<(), String> {
        let (low, high) = consumer
            .fetch_watermarks(&self.topic, partition, self.timeout)
            .map_err(|e| format!("watermarks of {}/{partition}: {e}", self.topic))?;
        let start = start.max(low);
        if start >= high {
            return Ok(());
        }
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.topic, partition, Offset::Offset(start))
            .map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        loop {
            match consumer.poll(self.timeout) {
                None => {
                    return Err(format!(
                        "no message of {}/{partition} within {:?}",
                        self.topic, self.timeout
                    ));
                }
                Some(Err(KafkaError::PartitionEOF(_))) => return Ok(()),
                Some(Err(error)) => return Err(format!("reading {}: {error}", self.topic)),
                Some(Ok(message)) if message.partition() == partition => {
                    let last = message.offset() + 1 >= high;
                    if !visit(DeadLetter::of(&message)) || last {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_partition_dash_offset() {
        let position = Position {
            partition: 2,
            offset: 41,
        };
        assert_eq!(position.id(), "2-41");
        assert_eq!(Position::parse("2-41"), Some(position));
        for bad in ["", "2", "2-", "-1-3", "a-1", "1-x", "1-2-3"] {
            assert_eq!(Position::parse(bad), None, "{bad}");
        }
    }
}
