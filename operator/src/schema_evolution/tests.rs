use serde_json::{Value, json};

use super::*;

fn closed(properties: &Value, required: &[&str]) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required})
}

fn open(properties: &Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn versions(schemas: &[&Value]) -> Vec<SchemaVersion> {
    (1..)
        .zip(schemas)
        .map(|(version, schema)| SchemaVersion {
            version,
            schema: (*schema).clone(),
        })
        .collect()
}

/// Whether `next` may follow `previous` under each mode: BACKWARD, FORWARD, FULL, NONE.
fn allowed_per_mode(previous: &Value, next: &Value) -> [bool; 4] {
    let pair = versions(&[previous, next]);
    [
        Compatibility::Backward,
        Compatibility::Forward,
        Compatibility::Full,
        Compatibility::None,
    ]
    .map(|mode| check(&pair, mode, &[]).is_ok())
}

#[test]
fn each_change_is_judged_per_mode_as_confluent_judges_it() {
    let name = json!({"type": "string"});
    let age = json!({"type": "integer"});
    let age_default = json!({"type": "integer", "default": 0});
    let status = |values: &[&str]| json!({"type": "string", "enum": values});
    // (what changed, previous, next, [BACKWARD, FORWARD, FULL, NONE])
    let cases = [
        (
            "optional field added to a closed model",
            closed(&json!({"name": name}), &["name"]),
            closed(&json!({"name": name, "age": age}), &["name"]),
            [true, false, false, true],
        ),
        (
            "required field without default added to a closed model",
            closed(&json!({"name": name}), &["name"]),
            closed(&json!({"name": name, "age": age}), &["name", "age"]),
            [false, false, false, true],
        ),
        (
            "required field with a default added to a closed model",
            closed(&json!({"name": name}), &["name"]),
            closed(&json!({"name": name, "age": age_default}), &["name", "age"]),
            [true, false, false, true],
        ),
        (
            "field added to an open model",
            open(&json!({"name": name}), &[]),
            open(&json!({"name": name, "age": age}), &[]),
            [false, true, false, true],
        ),
        (
            "field removed from a closed model",
            closed(&json!({"name": name, "age": age}), &["name"]),
            closed(&json!({"name": name}), &["name"]),
            [false, true, false, true],
        ),
        (
            "field removed from an open model",
            open(&json!({"name": name, "age": age}), &[]),
            open(&json!({"name": name}), &[]),
            [true, false, false, true],
        ),
        (
            "type narrowed: number to integer",
            open(&json!({"n": {"type": "number"}}), &[]),
            open(&json!({"n": {"type": "integer"}}), &[]),
            [false, true, false, true],
        ),
        (
            "type widened: integer to number",
            open(&json!({"n": {"type": "integer"}}), &[]),
            open(&json!({"n": {"type": "number"}}), &[]),
            [true, false, false, true],
        ),
        (
            "type changed: string to integer",
            open(&json!({"n": {"type": "string"}}), &[]),
            open(&json!({"n": {"type": "integer"}}), &[]),
            [false, false, false, true],
        ),
        (
            "enum value added",
            open(&json!({"s": status(&["new", "done"])}), &[]),
            open(&json!({"s": status(&["new", "done", "lost"])}), &[]),
            [true, false, false, true],
        ),
        (
            "enum value removed",
            open(&json!({"s": status(&["new", "done", "lost"])}), &[]),
            open(&json!({"s": status(&["new", "done"])}), &[]),
            [false, true, false, true],
        ),
        (
            "only annotations changed",
            open(
                &json!({"name": {"type": "string", "description": "who"}}),
                &["name"],
            ),
            open(
                &json!({"name": {"type": "string", "title": "Name"}}),
                &["name"],
            ),
            [true, true, true, true],
        ),
        (
            "a field became optional",
            closed(&json!({"name": name}), &["name"]),
            closed(&json!({"name": name}), &[]),
            [true, false, false, true],
        ),
        (
            "maxLength raised",
            json!({"type": "string", "maxLength": 10}),
            json!({"type": "string", "maxLength": 20}),
            [true, false, false, true],
        ),
    ];
    for (change, previous, next, expected) in cases {
        assert_eq!(allowed_per_mode(&previous, &next), expected, "{change}");
    }
}

#[test]
fn the_refusal_names_the_versions_the_mode_and_each_difference() {
    let previous = open(&json!({"name": {"type": "string"}}), &[]);
    let next = open(
        &json!({"name": {"type": "string"}, "age": {"type": "integer"}}),
        &[],
    );
    let problem = check(&versions(&[&previous, &next]), Compatibility::Backward, &[]).unwrap_err();
    assert_eq!(
        problem,
        "schema version 2 is not backward compatible with version 1 (compatibility BACKWARD: \
         version 2 must accept the data of version 1): \
         #/properties/age PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
    );
    let full = check(&versions(&[&next, &previous]), Compatibility::Full, &[]).unwrap_err();
    assert!(full.contains("not forward compatible"), "{full}");
    assert!(
        full.contains("#/properties/age PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"),
        "{full}"
    );
}

#[test]
fn transitive_modes_check_every_earlier_version_the_others_only_the_previous_one() {
    let plain = json!({"type": "string"});
    let with_default = json!({"type": "string", "default": "x"});
    let v1 = closed(&json!({"a": plain}), &[]);
    let v2 = closed(&json!({"a": with_default}), &["a"]);
    let v3 = closed(&json!({"a": plain}), &["a"]);
    let chain = versions(&[&v1, &v2, &v3]);
    assert_eq!(check(&chain, Compatibility::Backward, &[]), Ok(()));
    let problem = check(&chain, Compatibility::BackwardTransitive, &[]).unwrap_err();
    assert!(
        problem.starts_with("schema version 3 is not backward compatible with version 1"),
        "{problem}"
    );
    assert!(
        problem.contains("#/required/a REQUIRED_ATTRIBUTE_ADDED"),
        "{problem}"
    );
}

#[test]
fn versions_are_ordered_by_number_not_by_position() {
    let v1 = closed(&json!({"a": {"type": "string"}}), &[]);
    let v2 = closed(
        &json!({"a": {"type": "string"}, "b": {"type": "string"}}),
        &[],
    );
    let mut listed = versions(&[&v1, &v2]);
    listed.reverse();
    assert_eq!(check(&listed, Compatibility::Backward, &[]), Ok(()));
    listed[0].version = 1;
    assert_eq!(
        check(&listed, Compatibility::Backward, &[]),
        Err("producer.schemas: version 1 is listed twice".to_owned())
    );
}

#[test]
fn a_served_version_is_immutable_and_new_ones_come_above_it() {
    let v1 = closed(&json!({"a": {"type": "string"}}), &[]);
    let v2 = closed(
        &json!({"a": {"type": "string"}, "b": {"type": "string"}}),
        &[],
    );
    let served = versions(&[&v1, &v2]);
    assert_eq!(check(&served, Compatibility::None, &served), Ok(()));
    // Version 2 edited in place (even a compatible edit) is refused.
    let edited = versions(&[&v1, &v1]);
    let problem = check(&edited, Compatibility::None, &served).unwrap_err();
    assert_eq!(
        problem,
        "schema version 2 differs from the served version 2: a served version is immutable, \
         add the change as version 3"
    );
    // Dropping a served version is allowed; a new one numbered below a served one is not.
    let dropped = vec![served[1].clone()];
    assert_eq!(check(&dropped, Compatibility::None, &served), Ok(()));
    let gap = vec![SchemaVersion {
        version: 1,
        schema: v1.clone(),
    }];
    let with_hole = [
        gap.clone(),
        vec![SchemaVersion {
            version: 3,
            schema: v1.clone(),
        }],
    ]
    .concat();
    let problem = check(&versions(&[&v1, &v1]), Compatibility::None, &with_hole).unwrap_err();
    assert!(
        problem.contains("schema version 2 is new but below the served version 3"),
        "{problem}"
    );
}

#[test]
fn references_alternatives_and_content_models_are_followed() {
    let referenced = |kind: &str| {
        json!({
            "definitions": {"id": {"type": kind}},
            "type": "object",
            "properties": {"id": {"$ref": "#/definitions/id"}}
        })
    };
    assert_eq!(
        allowed_per_mode(&referenced("integer"), &referenced("number")),
        [true, false, false, true]
    );
    let nullable = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
    assert_eq!(
        allowed_per_mode(&json!({"type": "string"}), &nullable),
        [true, false, false, true]
    );
    let recursive = json!({
        "type": "object",
        "properties": {"child": {"$ref": "#"}, "name": {"type": "string"}}
    });
    assert_eq!(allowed_per_mode(&recursive, &recursive), [true; 4]);
    let partly_open = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let covered = json!({
        "type": "object",
        "additionalProperties": {"type": "string"},
        "properties": {"tag": {"type": "string"}}
    });
    assert_eq!(allowed_per_mode(&partly_open, &covered), [true; 4]);
    let tuple = |items: Value| json!({"type": "array", "items": items, "additionalItems": false});
    let (one, two) = (
        json!([{"type": "string"}]),
        json!([{"type": "string"}, {"type": "integer"}]),
    );
    assert_eq!(
        allowed_per_mode(&tuple(one), &tuple(two)),
        [true, false, false, true]
    );
}

#[test]
fn change_names_are_confluents() {
    let names = [
        (
            Change::Member(
                Member::Property,
                MemberChange::RequiredAddedToUnopenContentModel,
            ),
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        ),
        (
            Change::Member(Member::Item, MemberChange::RemovedFromOpenContentModel),
            "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
        ),
        (
            Change::Bound {
                keyword: "maxLength",
                upper: true,
                change: BoundChange::Decreased,
            },
            "MAX_LENGTH_DECREASED",
        ),
        (
            Change::AdditionalRemoved(Member::Property),
            "ADDITIONAL_PROPERTIES_REMOVED",
        ),
        (Change::EnumArrayNarrowed, "ENUM_ARRAY_NARROWED"),
    ];
    for (change, name) in names {
        assert_eq!(change.to_string(), name);
    }
}
