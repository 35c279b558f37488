//! Schema evolution (pure): whether a pipeline's event schema versions may be served, by the
//! compatibility mode of `producer.compatibility` and against the versions already served. The
//! operator (before it applies anything) and the local runtime (before it starts anything) both
//! call [`check`]; it is the only place these rules live.
//!
//! The model: the versions are listed in the spec; each is checked against the next lower
//! version number (or, in the `_TRANSITIVE` modes, against every lower one), every pair on every
//! check, so a spec is judged whole and the same way everywhere. What the operator served last
//! (its schema `ConfigMap`) adds two rules: a served version may not change (edit a schema by
//! adding a version), and a new version must be numbered above the served ones. Dropping a
//! version is allowed (events naming it are then refused with 422).
//!
//! Compatibility is Confluent Schema Registry's for JSON Schema ([`diff`]): `BACKWARD` means the
//! new version accepts every event the previous one accepted, `FORWARD` the reverse, `FULL`
//! both. Content models matter as in Confluent: adding an optional property is backward
//! compatible only where the previous version was closed (`additionalProperties: false`);
//! removing a property only where the new one is open.

mod change;
mod combined;
mod comparison;
mod diff;
mod members;
#[cfg(test)]
mod tests;

use eventflow_contract::schemas;

pub use change::{BoundChange, Change, Member, MemberChange};
pub use diff::{Difference, differences};

use crate::crd::{Compatibility, SchemaVersion};

/// Every reason the `versions` cannot be served under `mode` after `served`, joined; `Ok` when
/// they can. `served` is empty where nothing was served yet (the local runtime, a new pipeline).
pub fn check(
    versions: &[SchemaVersion],
    mode: Compatibility,
    served: &[SchemaVersion],
) -> Result<(), String> {
    let mut versions = versions.to_vec();
    schemas::sorted(&mut versions).map_err(|e| format!("producer.schemas: {e}"))?;
    let mut problems = against_served(&versions, served);
    for (index, newer) in versions.iter().enumerate() {
        let first = if mode.transitive() {
            0
        } else {
            index.saturating_sub(1)
        };
        for older in &versions[first..index] {
            problems.extend(incompatibilities(older, newer, mode));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The served versions stay as they were; new ones come after them.
fn against_served(versions: &[SchemaVersion], served: &[SchemaVersion]) -> Vec<String> {
    let Some(highest) = served.iter().map(|s| s.version).max() else {
        return Vec::new();
    };
    let next = versions.last().map_or(highest, |v| v.version.max(highest)) + 1;
    versions
        .iter()
        .filter_map(
            |version| match served.iter().find(|s| s.version == version.version) {
                Some(was) if was.schema != version.schema => Some(format!(
                    "schema version {} differs from the served version {0}: a served version is \
                 immutable, add the change as version {next}",
                    version.version
                )),
                None if version.version < highest => Some(format!(
                    "schema version {} is new but below the served version {highest}: number new \
                 versions above the served ones",
                    version.version
                )),
                _ => None,
            },
        )
        .collect()
}

/// Why `newer` breaks `mode` against `older`, one message per direction that fails.
fn incompatibilities(
    older: &SchemaVersion,
    newer: &SchemaVersion,
    mode: Compatibility,
) -> Vec<String> {
    let mut problems = Vec::new();
    let directions = [
        (mode.backward(), "backward", older, newer),
        (mode.forward(), "forward", newer, older),
    ];
    for (checked, direction, writer, reader) in directions {
        let broken: Vec<String> = differences(&writer.schema, &reader.schema)
            .into_iter()
            .filter(|d| checked && !d.change.is_compatible())
            .map(|d| format!("{} {}", d.path, d.change))
            .collect();
        if !broken.is_empty() {
            problems.push(format!(
                "schema version {} is not {direction} compatible with version {} \
                 (compatibility {}: version {} must accept the data of version {}): {}",
                newer.version,
                older.version,
                mode.as_str(),
                reader.version,
                writer.version,
                broken.join(", ")
            ));
        }
    }
    problems
}
