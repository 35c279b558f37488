//! How durable a consumer's write to MongoDB is before its offsets are committed: the write
//! concern of `sink.mongodb.writeConcern`, handed to the consumer through
//! [`crate::MONGODB_WRITE_CONCERN`] and [`crate::MONGODB_JOURNAL`].

use std::{fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which members acknowledge a write (MongoDB's `w`): `majority` (the default) or a number, at
/// least 1 (`0`, an unacknowledged write, would commit offsets of writes that may have failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acknowledgment {
    /// A majority of the replica set's voting members.
    #[default]
    Majority,
    /// This many members (1: the primary alone).
    Members(u32),
}

/// Why a `w` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("w must be \"majority\" or a number of members of at least 1, not {0:?}")]
pub struct InvalidAcknowledgment(String);

impl FromStr for Acknowledgment {
    type Err = InvalidAcknowledgment;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "majority" => Ok(Self::Majority),
            number => match number.parse::<u32>() {
                Ok(members) if members >= 1 => Ok(Self::Members(members)),
                _ => Err(InvalidAcknowledgment(text.to_owned())),
            },
        }
    }
}

impl fmt::Display for Acknowledgment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Majority => f.write_str("majority"),
            Self::Members(members) => write!(f, "{members}"),
        }
    }
}

/// In the spec: the string `majority` or an integer.
impl Serialize for Acknowledgment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Majority => serializer.serialize_str("majority"),
            Self::Members(members) => serializer.serialize_u32(*members),
        }
    }
}

impl<'de> Deserialize<'de> for Acknowledgment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum IntOrString {
            Int(i64),
            String(String),
        }
        let text = match IntOrString::deserialize(deserializer)? {
            IntOrString::Int(number) => number.to_string(),
            IntOrString::String(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Acknowledgment {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Acknowledgment".into()
    }

    fn inline_schema() -> bool {
        true
    }

    /// Kubernetes' int-or-string, with the values checked by CEL (a structural schema allows
    /// no further validation of an int-or-string's types; `string()` takes either, where
    /// kube's client-side CEL has no `type()`).
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "x-kubernetes-validations": [{
                "rule": "string(self) == 'majority' || string(self).matches('^[1-9][0-9]*$')",
                "message": "w must be \"majority\" or a number of members of at least 1"
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_or_a_positive_number_and_nothing_else() {
        // (text, parsed)
        let cases = [
            ("majority", Ok(Acknowledgment::Majority)),
            ("1", Ok(Acknowledgment::Members(1))),
            ("3", Ok(Acknowledgment::Members(3))),
            ("0", Err(())),
            ("-1", Err(())),
            ("all", Err(())),
            ("", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<Acknowledgment>().map_err(|_| ()),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_spec_form_is_a_string_or_an_integer_and_round_trips() {
        let parsed: Acknowledgment = serde_json::from_str("2").unwrap();
        assert_eq!(parsed, Acknowledgment::Members(2));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "2");
        let parsed: Acknowledgment = serde_json::from_str("\"majority\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"majority\"");
        assert!(serde_json::from_str::<Acknowledgment>("0").is_err());
        assert_eq!(
            Acknowledgment::Members(2).to_string().parse(),
            Ok(Acknowledgment::Members(2))
        );
    }
}
