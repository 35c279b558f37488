//! `anyOf`/`oneOf` (sums) and `allOf` (products), after Confluent's `CombinedSchemaDiff` and the
//! special cases of its `SchemaDiff`: a sum may gain alternatives and a product lose conditions;
//! a schema may become one alternative of a sum, or one condition of a product become the schema.
//! Each branch is compared with the schema's other keywords merged in.

use serde_json::{Map, Value};

use super::{change::Change, comparison::Comparison};

/// `anyOf`/`oneOf`/`allOf`; `true` when that settled the comparison.
pub(super) fn combined(
    diff: &mut impl Comparison,
    original: &Map<String, Value>,
    update: &Map<String, Value>,
) -> bool {
    let (o_sum, u_sum) = (sum(original), sum(update));
    let (o_all, u_all) = (branches(original, "allOf"), branches(update, "allOf"));
    match (&o_sum, &u_sum) {
        (Some((o_key, o)), Some((u_key, u))) => {
            let matched = o
                .iter()
                .all(|ob| u.iter().any(|ub| diff.compatible(ob, ub)));
            let change = if o_key != u_key || !matched {
                Some(Change::CombinedTypeChanged)
            } else {
                sized(
                    o.len(),
                    u.len(),
                    Change::SumTypeExtended,
                    Change::SumTypeNarrowed,
                )
            };
            diff.at(u_key, |d| change.into_iter().for_each(|c| d.add(c)));
        }
        (None, Some((key, u))) if o_all.is_none() => {
            let whole = Value::Object(original.clone());
            if u.iter().any(|ub| diff.compatible(&whole, ub)) {
                diff.at(key, |d| d.add(Change::SumTypeExtended));
                return true;
            }
            diff.at(key, |d| d.add(Change::CombinedTypeChanged));
        }
        (Some((key, o)), None) if u_all.is_none() => {
            let whole = Value::Object(update.clone());
            if !o.iter().all(|ob| diff.compatible(ob, &whole)) {
                diff.at(key, |d| d.add(Change::CombinedTypeChanged));
            }
            return true;
        }
        _ => {}
    }
    match (o_all, u_all) {
        (Some(o), Some(u)) => {
            let matched = u
                .iter()
                .all(|ub| o.iter().any(|ob| diff.compatible(ob, ub)));
            let change = if matched {
                sized(
                    o.len(),
                    u.len(),
                    Change::ProductTypeExtended,
                    Change::ProductTypeNarrowed,
                )
            } else {
                Some(Change::CombinedTypeChanged)
            };
            diff.at("allOf", |d| change.into_iter().for_each(|c| d.add(c)));
        }
        (Some(o), None) if u_sum.is_none() => {
            let whole = Value::Object(update.clone());
            if o.iter().any(|ob| diff.compatible(ob, &whole)) {
                diff.at("allOf", |d| d.add(Change::ProductTypeNarrowed));
                return true;
            }
        }
        (None, Some(u)) => {
            let whole = Value::Object(original.clone());
            if !u.iter().all(|ub| diff.compatible(&whole, ub)) {
                diff.at("allOf", |d| d.add(Change::ProductTypeExtended));
            }
        }
        _ => {}
    }
    false
}

/// `anyOf` or `oneOf`, with its alternatives.
fn sum(map: &Map<String, Value>) -> Option<(&'static str, Vec<Value>)> {
    ["anyOf", "oneOf"]
        .into_iter()
        .find_map(|key| branches(map, key).map(|b| (key, b)))
}

/// The alternatives or conditions of `key`, each with the schema's other keywords merged in
/// (a branch's own keyword wins), so that each stands for what the whole schema accepts there.
fn branches(map: &Map<String, Value>, key: &str) -> Option<Vec<Value>> {
    let listed = map.get(key)?.as_array()?;
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !["anyOf", "oneOf", "allOf"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(
        listed
            .iter()
            .map(|branch| match branch {
                Value::Object(own) => {
                    let mut merged = rest.clone();
                    merged.extend(own.clone());
                    Value::Object(merged)
                }
                other if rest.is_empty() => other.clone(),
                Value::Bool(true) => Value::Object(rest.clone()),
                other => other.clone(),
            })
            .collect(),
    )
}

/// `grew` when the update lists more, `shrank` when fewer, nothing when as many.
fn sized(original: usize, update: usize, grew: Change, shrank: Change) -> Option<Change> {
    match update.cmp(&original) {
        std::cmp::Ordering::Greater => Some(grew),
        std::cmp::Ordering::Less => Some(shrank),
        std::cmp::Ordering::Equal => None,
    }
}
