//! A pipeline's event schema versions as the operator hands them to the workloads: the file that
//! [`crate::SCHEMA_FILE`] names, and how an event names its version.
//!
//! The file is either one JSON Schema object (a pipeline with the single `producer.schema`: it
//! is version [`SINGLE_SCHEMA_VERSION`]) or a JSON array of [`SchemaVersion`]s
//! (`producer.schemas`). A JSON Schema is never an array, so the two cannot be confused, and a
//! pipeline with the single schema gets the very file (and pod template hash) it had before
//! versions existed.
//!
//! An event names its version in its CloudEvents `dataschema` attribute: the version number
//! alone (`2`) or any URI whose last path segment is the number, as a schema registry's
//! `.../subjects/orders-value/versions/2` ([`version_in`]). An event without `dataschema` is
//! checked against the latest version.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of a pipeline's single `producer.schema`.
pub const SINGLE_SCHEMA_VERSION: u32 = 1;

/// One version of a pipeline's event schema.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct SchemaVersion {
    /// The version number, at least 1, unique in the list. Events name it in their CloudEvents
    /// `dataschema` (`2`, or a URI ending in `/2`); events without `dataschema` are checked
    /// against the highest version.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// The JSON Schema this version's event `data` must satisfy.
    #[schemars(schema_with = "free_form_object")]
    pub schema: Value,
}

/// The CRD schema of a free-form JSON object (a JSON Schema inside the spec): any fields kept.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The schema file's text for `versions`.
pub fn file_text(versions: &[SchemaVersion]) -> String {
    // A list of numbers and JSON values always serializes.
    serde_json::to_string(versions).unwrap_or_default()
}

/// The versions of a schema file's text, sorted by version; a bare JSON Schema object is
/// version [`SINGLE_SCHEMA_VERSION`].
pub fn parse_file(text: &str) -> Result<Vec<SchemaVersion>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    parse_value(value)
}

/// [`parse_file`] on parsed JSON.
pub fn parse_value(value: Value) -> Result<Vec<SchemaVersion>, String> {
    let mut versions = match value {
        Value::Array(_) => serde_json::from_value::<Vec<SchemaVersion>>(value)
            .map_err(|e| format!("not a list of {{version, schema}}: {e}"))?,
        schema @ Value::Object(_) => vec![SchemaVersion {
            version: SINGLE_SCHEMA_VERSION,
            schema,
        }],
        other => return Err(format!("neither a JSON Schema object nor a list: {other}")),
    };
    sorted(&mut versions)?;
    Ok(versions)
}

/// Sorts `versions` by version number; refuses a number listed twice, and 0.
pub fn sorted(versions: &mut [SchemaVersion]) -> Result<(), String> {
    versions.sort_by_key(|v| v.version);
    if let Some(pair) = versions.windows(2).find(|p| p[0].version == p[1].version) {
        return Err(format!("version {} is listed twice", pair[0].version));
    }
    if versions.first().is_some_and(|v| v.version == 0) {
        return Err("version 0: versions start at 1".to_owned());
    }
    Ok(())
}

/// The version an event's `dataschema` names: the number after its last `/` (or the whole
/// value); `None` when that is not a whole number of at least 1.
pub fn version_in(dataschema: &str) -> Option<u32> {
    let last = dataschema.rsplit('/').next().unwrap_or(dataschema);
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    last.parse().ok().filter(|&version| version >= 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bare_schema_is_version_one_and_a_list_is_sorted() {
        let single = parse_file(r#"{"type": "object"}"#).unwrap();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].version, SINGLE_SCHEMA_VERSION);
        let listed = vec![
            SchemaVersion {
                version: 3,
                schema: json!({}),
            },
            SchemaVersion {
                version: 1,
                schema: json!({"type": "object"}),
            },
        ];
        let parsed = parse_file(&file_text(&listed)).unwrap();
        assert_eq!(parsed.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn duplicates_zero_and_other_json_are_refused() {
        let twice = r#"[{"version": 2, "schema": {}}, {"version": 2, "schema": {}}]"#;
        assert_eq!(parse_file(twice).unwrap_err(), "version 2 is listed twice");
        assert!(parse_file(r#"[{"version": 0, "schema": {}}]"#).is_err());
        assert!(parse_file("5").unwrap_err().starts_with("neither"));
        assert!(parse_file("{").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn the_version_is_the_last_path_segment() {
        let cases = [
            ("2", Some(2)),
            (
                "https://registry.example/subjects/orders-value/versions/12",
                Some(12),
            ),
            ("versions/1", Some(1)),
            ("0", None),
            ("v2", None),
            ("https://example.com/order.json", None),
            ("versions/", None),
            ("", None),
            ("99999999999", None),
        ];
        for (dataschema, expected) in cases {
            assert_eq!(version_in(dataschema), expected, "{dataschema}");
        }
    }
}
