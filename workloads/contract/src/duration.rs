//! The one duration grammar of eventflow: a whole number and a unit, `ms`, `s` or `m`
//! (`250ms`, `5s`, `2m`), as the CRD's schema pattern [`PATTERN`] states it.
//!
//! A spec's durations ([`Duration`]) are parsed when the spec is deserialized, so a bad value is
//! refused there with its reason and no later code parses, guesses or falls back; the command
//! lines and the environment use the same grammar through [`parse`], so a value the operator
//! writes into a workload's env is always one the workload reads.
//!
//! Why not `humantime`: it accepts `1h 30min`, decimals and more units than the CRD's pattern,
//! so a value valid on a command line could be refused by the API server, or the reverse.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema pattern of every duration field; [`parse`] accepts exactly these strings.
pub const PATTERN: &str = "^[0-9]+(ms|s|m)$";

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a duration: {reason} (a whole number with ms, s or m, e.g. 250ms, 5s, 2m)"
)]
pub struct ParseError {
    text: String,
    reason: &'static str,
}

/// A unit of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Millis,
    Seconds,
    Minutes,
}

impl Unit {
    const fn suffix(self) -> &'static str {
        match self {
            Self::Millis => "ms",
            Self::Seconds => "s",
            Self::Minutes => "m",
        }
    }

    const fn millis(self) -> u64 {
        match self {
            Self::Millis => 1,
            Self::Seconds => 1_000,
            Self::Minutes => 60_000,
        }
    }
}

/// A duration of a spec, kept as written (`2m` stays `2m` when serialized back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    amount: u64,
    unit: Unit,
    value: std::time::Duration,
}

impl Duration {
    /// The duration's length.
    pub const fn get(self) -> std::time::Duration {
        self.value
    }

    /// A whole number of seconds, written `<n>s`.
    pub const fn from_secs(seconds: u64) -> Self {
        Self {
            amount: seconds,
            unit: Unit::Seconds,
            value: std::time::Duration::from_secs(seconds),
        }
    }
}

/// Parses the grammar of [`PATTERN`] into a length; used by every command-line and env duration.
pub fn parse(text: &str) -> Result<std::time::Duration, ParseError> {
    text.parse::<Duration>().map(Duration::get)
}

impl FromStr for Duration {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| ParseError {
            text: text.to_owned(),
            reason,
        };
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, suffix) = text.split_at(digits);
        let unit = match suffix {
            "ms" => Unit::Millis,
            "s" => Unit::Seconds,
            "m" => Unit::Minutes,
            "" => return Err(error("no unit")),
            _ => return Err(error("unknown unit")),
        };
        if number.is_empty() {
            return Err(error("no whole number before the unit"));
        }
        let amount: u64 = number.parse().map_err(|_| error("too large"))?;
        let millis = amount
            .checked_mul(unit.millis())
            .ok_or_else(|| error("too large"))?;
        Ok(Self {
            amount,
            unit,
            value: std::time::Duration::from_millis(millis),
        })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": PATTERN })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as Std;

    use super::*;

    #[test]
    fn whole_numbers_with_a_unit_parse() {
        for (text, value) in [
            ("250ms", Std::from_millis(250)),
            ("5s", Std::from_secs(5)),
            ("2m", Std::from_secs(120)),
            ("0s", Std::ZERO),
        ] {
            assert_eq!(parse(text), Ok(value), "{text}");
        }
    }

    #[test]
    fn what_the_schema_pattern_refuses_is_refused_with_the_reason() {
        for (text, reason) in [
            ("5", "no unit"),
            ("1.5s", "unknown unit"),
            ("1h", "unknown unit"),
            (" 5s", "unknown unit"),
            ("s", "no whole number before the unit"),
            ("", "no unit"),
            ("99999999999999999999s", "too large"),
            ("999999999999999999m", "too large"),
        ] {
            let error = parse(text).err();
            assert_eq!(
                error.as_ref().map(|e| e.reason),
                Some(reason),
                "{text}: {error:?}"
            );
        }
    }

    #[test]
    fn a_duration_serializes_as_written() -> Result<(), serde_json::Error> {
        let durations: Vec<Duration> = serde_json::from_str(r#"["2m","120s","500ms"]"#)?;
        assert_eq!(durations[0].get(), durations[1].get());
        assert_eq!(
            serde_json::to_string(&durations)?,
            r#"["2m","120s","500ms"]"#
        );
        Ok(())
    }

    #[test]
    fn deserializing_refuses_a_bad_duration_with_the_reason() {
        let error = serde_json::from_str::<Duration>(r#""10""#).err();
        assert!(
            error.is_some_and(|e| e.to_string().starts_with("`10` is not a duration: no unit")),
        );
    }

    #[test]
    fn the_schema_is_the_pattern() {
        let schema = schemars::schema_for!(Duration);
        assert_eq!(schema.get("pattern"), Some(&serde_json::json!(PATTERN)));
    }
}
