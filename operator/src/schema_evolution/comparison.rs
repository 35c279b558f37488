//! What a keyword comparison needs of the comparison under way ([`Comparison`]): defined below
//! the walk ([`super::diff`]) and the keyword comparisons that recurse into it
//! ([`super::combined`], [`super::members`]), so the walk implements it, they take it, and no
//! module imports one that imports it back.

use serde_json::Value;

use super::change::Change;

/// Annotation keywords: they never change what a schema accepts.
const ANNOTATIONS: [&str; 13] = [
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "id",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "definitions",
    "$defs",
];

/// Whether a schema accepts everything (`true`, `{}`, or annotations only).
pub fn is_empty(schema: &Value) -> bool {
    match schema {
        Value::Bool(accepts) => *accepts,
        Value::Object(map) => map.keys().all(|key| ANNOTATIONS.contains(&key.as_str())),
        _ => false,
    }
}

/// A comparison of two schemas under way, at a path into them, recording the differences it
/// finds; the keyword comparisons recurse through it.
pub(super) trait Comparison {
    /// Records a difference at the current path.
    fn add(&mut self, change: Change);

    /// Runs `step` one path segment deeper.
    fn at(&mut self, segment: &str, step: impl FnOnce(&mut Self));

    /// Compares two (sub)schemas at the current path.
    fn compare(&mut self, original: &Value, update: &Value);

    /// Whether `update` accepts what `original` accepts, found by a comparison of its own.
    fn compatible(&self, original: &Value, update: &Value) -> bool;

    /// A keyword whose presence constrains: removing it is compatible, adding or changing not.
    fn constraint(
        &mut self,
        original: Option<&Value>,
        update: Option<&Value>,
        keyword: &'static str,
    ) {
        let change = match (original, update) {
            (None, Some(_)) => Change::ConstraintAdded(keyword),
            (Some(_), None) => Change::ConstraintRemoved(keyword),
            (Some(o), Some(u)) if o != u => Change::ConstraintChanged(keyword),
            _ => return,
        };
        self.at(keyword, |d| d.add(change));
    }
}
