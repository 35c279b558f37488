//! Object properties and tuple items: members present on both sides are compared; a member on
//! one side only is judged by the other side's content model, as Confluent does. A model is
//! open when it allows any extra member (no `additionalProperties: false`, no schema for extra
//! members, no `patternProperties`), partially open when a schema covers extra members, closed
//! otherwise.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{
    change::{Change, Member, MemberChange},
    comparison::{Comparison, is_empty},
};

/// What one side says about members it does not list.
struct Model<'v> {
    /// Schemas of extra members by name pattern (`patternProperties`).
    patterns: Option<&'v Map<String, Value>>,
    /// `additionalProperties` / `additionalItems` (absent: any).
    additional: Option<&'v Value>,
}

impl Model<'_> {
    fn is_open(&self) -> bool {
        self.patterns.is_none_or(Map::is_empty)
            && self.additional.is_none_or(|a| *a == Value::Bool(true))
    }

    /// The schema an extra member `name` must match, when one covers it.
    fn partial(&self, name: &str) -> Option<&Value> {
        let pattern_schema = self
            .patterns
            .into_iter()
            .flatten()
            .find_map(|(pattern, schema)| {
                jsonschema::validator_for(&json!({ "pattern": pattern }))
                    .is_ok_and(|v| v.is_valid(&json!(name)))
                    .then_some(schema)
            });
        pattern_schema.or(self.additional.filter(|a| a.is_object()))
    }
}

/// The object keywords: `required`, `properties` and the content model.
pub(super) fn object_members(
    diff: &mut impl Comparison,
    original: &Map<String, Value>,
    update: &Map<String, Value>,
) {
    let properties = |map: &Map<String, Value>| {
        map.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (o_props, u_props) = (properties(original), properties(update));
    let (o_required, u_required) = (required(original), required(update));
    diff.at("required", |d| {
        for name in o_props.keys().filter(|name| u_props.contains_key(*name)) {
            let change = match (o_required.contains(name), u_required.contains(name)) {
                (true, false) => Change::RequiredAttributeRemoved,
                (false, true) if has_default(&u_props[name]) => {
                    Change::RequiredAttributeWithDefaultAdded
                }
                (false, true) => Change::RequiredAttributeAdded,
                _ => continue,
            };
            d.at(name, |d| d.add(change));
        }
    });
    let (o_model, u_model) = (object_model(original), object_model(update));
    diff.at("properties", |d| {
        members(
            d,
            Member::Property,
            &o_props,
            &u_props,
            [&o_model, &u_model],
            &u_required,
        );
    });
    additional(
        diff,
        Member::Property,
        o_model.additional,
        u_model.additional,
    );
}

/// The array keywords: `items` as one schema, or a tuple (`prefixItems`, or `items` as a list)
/// closed by `additionalItems` (`items` after `prefixItems`).
pub(super) fn array_members(
    diff: &mut impl Comparison,
    original: &Map<String, Value>,
    update: &Map<String, Value>,
) {
    match (tuple(original), tuple(update)) {
        (None, None) => {
            if let (Some(o), Some(u)) = (original.get("items"), update.get("items")) {
                diff.at("items", |d| d.compare(o, u));
            } else {
                diff.constraint(original.get("items"), update.get("items"), "items");
            }
        }
        (Some((o_items, o_model)), Some((u_items, u_model))) => {
            diff.at("items", |d| {
                members(
                    d,
                    Member::Item,
                    &o_items,
                    &u_items,
                    [&o_model, &u_model],
                    &BTreeSet::new(),
                );
            });
            additional(diff, Member::Item, o_model.additional, u_model.additional);
        }
        _ => diff.at("items", |d| d.add(Change::TypeChanged)),
    }
}

fn members(
    diff: &mut impl Comparison,
    member: Member,
    original: &Map<String, Value>,
    update: &Map<String, Value>,
    [o_model, u_model]: [&Model; 2],
    u_required: &BTreeSet<String>,
) {
    let names: BTreeSet<&String> = original.keys().chain(update.keys()).collect();
    for name in names {
        diff.at(name, |d| match (original.get(name), update.get(name)) {
            (Some(o), Some(u)) => d.compare(o, u),
            (Some(o), None) => {
                let change = if u_model.is_open() {
                    MemberChange::RemovedFromOpenContentModel
                } else if let Some(covering) = u_model.partial(name) {
                    if d.compatible(o, covering) {
                        MemberChange::RemovedIsCoveredByPartiallyOpenContentModel
                    } else {
                        MemberChange::RemovedNotCoveredByPartiallyOpenContentModel
                    }
                } else if *o == Value::Bool(false) {
                    MemberChange::WithFalseRemovedFromClosedContentModel
                } else {
                    MemberChange::RemovedFromClosedContentModel
                };
                d.add(Change::Member(member, change));
            }
            (None, Some(u)) => {
                for change in added(d, o_model, name, u, u_required.contains(name)) {
                    d.add(Change::Member(member, change));
                }
            }
            (None, None) => {}
        });
    }
}

/// How a member the original did not list was added.
fn added(
    diff: &impl Comparison,
    o_model: &Model,
    name: &str,
    schema: &Value,
    required: bool,
) -> Vec<MemberChange> {
    if o_model.is_open() {
        return vec![if is_empty(schema) {
            MemberChange::WithEmptySchemaAddedToOpenContentModel
        } else {
            MemberChange::AddedToOpenContentModel
        }];
    }
    let mut changes = Vec::new();
    if let Some(covering) = o_model.partial(name) {
        changes.push(if diff.compatible(covering, schema) {
            MemberChange::AddedIsCoveredByPartiallyOpenContentModel
        } else {
            MemberChange::AddedNotCoveredByPartiallyOpenContentModel
        });
    }
    changes.push(match (required, has_default(schema)) {
        (true, true) => MemberChange::RequiredWithDefaultAddedToUnopenContentModel,
        (true, false) => MemberChange::RequiredAddedToUnopenContentModel,
        (false, _) => MemberChange::OptionalAddedToUnopenContentModel,
    });
    changes
}

/// Extra members: allowed or not, and the schema they must match.
fn additional(
    diff: &mut impl Comparison,
    member: Member,
    original: Option<&Value>,
    update: Option<&Value>,
) {
    let keyword = match member {
        Member::Property => "additionalProperties",
        Member::Item => "additionalItems",
    };
    let permits = |a: Option<&Value>| a != Some(&Value::Bool(false));
    let change = match (permits(original), permits(update)) {
        (false, true) => Change::AdditionalAdded(member),
        (true, false) => Change::AdditionalRemoved(member),
        _ => match (
            original.filter(|a| a.is_object()),
            update.filter(|a| a.is_object()),
        ) {
            (None, Some(_)) if permits(original) => Change::AdditionalNarrowed(member),
            (Some(_), None) if permits(update) => Change::AdditionalExtended(member),
            (Some(o), Some(u)) => return diff.at(keyword, |d| d.compare(o, u)),
            _ => return,
        },
    };
    diff.at(keyword, |d| d.add(change));
}

fn object_model(map: &Map<String, Value>) -> Model<'_> {
    Model {
        patterns: map.get("patternProperties").and_then(Value::as_object),
        additional: map.get("additionalProperties"),
    }
}

/// A tuple's items by position, and what it says of items past them.
fn tuple(map: &Map<String, Value>) -> Option<(Map<String, Value>, Model<'_>)> {
    let (listed, rest) = match (map.get("prefixItems"), map.get("items")) {
        (Some(Value::Array(listed)), rest) => (listed, rest),
        (_, Some(Value::Array(listed))) => (listed, map.get("additionalItems")),
        _ => return None,
    };
    let items = listed
        .iter()
        .enumerate()
        .map(|(index, schema)| (index.to_string(), schema.clone()))
        .collect();
    Some((
        items,
        Model {
            patterns: None,
            additional: rest,
        },
    ))
}

fn required(map: &Map<String, Value>) -> BTreeSet<String> {
    map.get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn has_default(schema: &Value) -> bool {
    schema.get("default").is_some()
}
