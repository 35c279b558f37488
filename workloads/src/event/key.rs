//! The partition key: which event field keys the Kafka message.

use serde_json::Value;

use super::Event;

/// Which event field keys the Kafka message: `id`, `type`, `source`, `subject` or `data.<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKey {
    /// A top-level envelope attribute.
    Attribute(String),
    /// A dotted path inside `data`.
    Data(Vec<String>),
}

/// A `--partition-key` that names no event field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a partition key: use id, type, source, subject or data.<field>")]
pub struct InvalidPartitionKey(pub String);

impl std::str::FromStr for PartitionKey {
    type Err = InvalidPartitionKey;

    fn from_str(text: &str) -> Result<Self, InvalidPartitionKey> {
        match text.split_once('.') {
            Some(("data", path)) if !path.is_empty() => {
                Ok(Self::Data(path.split('.').map(str::to_owned).collect()))
            }
            None if ["id", "type", "source", "subject"].contains(&text) => {
                Ok(Self::Attribute(text.to_owned()))
            }
            _ => Err(InvalidPartitionKey(text.to_owned())),
        }
    }
}

impl PartitionKey {
    /// The key of an event; `None` when the field is absent (Kafka then spreads the events).
    pub fn extract(&self, event: &Event) -> Option<String> {
        match self {
            Self::Attribute(name) => match name.as_str() {
                "id" => Some(event.id.clone()),
                "type" => Some(event.kind.clone()),
                "source" => Some(event.source.clone()),
                _ => event.subject.clone(),
            },
            Self::Data(path) => {
                let value = path.iter().try_fold(&event.data, |v, key| v.get(key))?;
                match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Null | Value::Object(_) | Value::Array(_) => None,
                    other => Some(other.to_string()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::IncomingEvent;

    fn incoming(value: serde_json::Value) -> IncomingEvent {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn partition_keys_read_attributes_and_data_paths() {
        let event = incoming(json!({
            "type": "LOGIN", "subject": "s1",
            "data": {"userId": "u7", "account": {"no": 42}}
        }))
        .into_event(None, "s");
        let key = |k: &str| k.parse::<PartitionKey>().unwrap().extract(&event);
        assert_eq!(key("subject").as_deref(), Some("s1"));
        assert_eq!(key("type").as_deref(), Some("LOGIN"));
        assert_eq!(key("data.userId").as_deref(), Some("u7"));
        assert_eq!(key("data.account.no").as_deref(), Some("42"));
        assert_eq!(key("data.missing"), None);
        assert_eq!(
            "data.".parse::<PartitionKey>(),
            Err(InvalidPartitionKey("data.".into()))
        );
        assert_eq!(
            "userId".parse::<PartitionKey>(),
            Err(InvalidPartitionKey("userId".into()))
        );
    }
}
