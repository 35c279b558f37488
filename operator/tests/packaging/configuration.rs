//! docs/configuration.md against what it documents: every field of the CRD and every value of
//! the chart has a row, and the generated tables say what the CRD's descriptions and
//! values.yaml's comments say now. `make generate` rewrites the tables
//! (`EVENTFLOW_WRITE_GENERATED=1` on [`generated_tables_match_the_crd_and_values_yaml`]).

use std::fmt::Write as _;

use serde_json::Value;

use crate::{repo, schema};

const PAGE: &str = "docs/configuration.md";
const VALUES: &str = "charts/eventflow/values.yaml";
const DURATION_PATTERN: &str = "^[0-9]+(ms|s|m)$";

/// One documented setting: its dotted path (`spec.topic.partitions`, `operator.image.tag`),
/// its type or default, and what it does.
struct Row {
    path: String,
    kind: String,
    default: String,
    description: String,
}

/// Every property under `node` (a schema), depth first; array items as `path[]`.
fn schema_rows(node: &Value, path: &str, required: bool, rows: &mut Vec<Row>) {
    rows.push(Row {
        path: path.to_owned(),
        kind: schema_kind(node, required),
        default: schema_default(node),
        description: schema_description(node),
    });
    let (node, path) = match node.get("items") {
        Some(items) => (items, format!("{path}[]")),
        None => (node, path.to_owned()),
    };
    let required_names = node["required"].as_array().cloned().unwrap_or_default();
    for (name, child) in node["properties"].as_object().into_iter().flatten() {
        let is_required = required_names.iter().any(|r| r == name);
        schema_rows(child, &format!("{path}.{name}"), is_required, rows);
    }
}

fn schema_kind(node: &Value, required: bool) -> String {
    let mut kind = match node["type"].as_str() {
        Some("array") => format!("list of {}", schema_kind(&node["items"], false)),
        Some("object") if node.get("additionalProperties").is_some() => "map".to_owned(),
        Some("object") if node["x-kubernetes-preserve-unknown-fields"] == true => {
            "JSON object".to_owned()
        }
        Some("string") if node["pattern"] == DURATION_PATTERN => "duration".to_owned(),
        Some(other) => other.to_owned(),
        None => "any".to_owned(),
    };
    if let Some(values) = node["enum"].as_array() {
        let names: Vec<String> = values.iter().map(|v| format!("`{}`", plain(v))).collect();
        kind = names.join(", ");
    }
    if let Some(minimum) = node["minimum"].as_f64() {
        write!(kind, ", ≥ {minimum}").unwrap();
    }
    if let Some(maximum) = node["maximum"].as_f64() {
        write!(kind, ", ≤ {maximum}").unwrap();
    }
    if required {
        kind.push_str(", required");
    }
    kind
}

/// A scalar or list default as code; an object's default is its fields' defaults.
fn schema_default(node: &Value) -> String {
    match node.get("default") {
        Some(Value::Object(_)) | None => String::new(),
        Some(value) => format!("`{}`", plain(value)),
    }
}

/// The field's description, then the messages of its CEL rules.
fn schema_description(node: &Value) -> String {
    let mut text = node["description"].as_str().unwrap_or_default().to_owned();
    for rule in node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        write!(text, " Rule: {}.", rule["message"].as_str().unwrap()).unwrap();
    }
    text
}

/// A JSON value as text: strings without quotes.
fn plain(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Every key of values.yaml in file order, with its default (leaves only) and the comment
/// lines just above it.
fn value_rows() -> Vec<Row> {
    let values: Value = repo::yaml_file::<Value>(VALUES).remove(0);
    let mut rows = Vec::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    for line in repo::read(VALUES).lines() {
        let text = line.trim_start();
        let indent = line.len() - text.len();
        if text.is_empty() {
            comment.clear();
        } else if let Some(note) = text.strip_prefix('#') {
            comment.push(note.trim().to_owned());
        } else if let Some((key, _)) = text.split_once(':') {
            parents.retain(|(depth, _)| *depth < indent);
            let path = parents
                .iter()
                .map(|(_, key)| key.as_str())
                .chain([key])
                .collect::<Vec<_>>()
                .join(".");
            let value = path.split('.').fold(&values, |node, key| &node[key]);
            let leaf = value.as_object().is_none_or(serde_json::Map::is_empty);
            rows.push(Row {
                default: if leaf {
                    format!("`{}`", value_text(value))
                } else {
                    String::new()
                },
                kind: String::new(),
                description: comment.join(" "),
                path,
            });
            parents.push((indent, key.to_owned()));
            comment.clear();
        }
    }
    rows
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) if text.is_empty() => "\"\"".to_owned(),
        other => plain(other),
    }
}

/// A Markdown table of `rows`; `with_kind` adds the type column.
fn table(rows: &[Row], with_kind: bool) -> String {
    let cell = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|")
    };
    let mut out = if with_kind {
        "| field | type | default | what it does |\n|---|---|---|---|\n".to_owned()
    } else {
        "| value | default | what it does |\n|---|---|---|\n".to_owned()
    };
    for row in rows {
        let kind = if with_kind {
            format!(" {} |", cell(&row.kind))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| `{}` |{kind} {} | {} |",
            row.path,
            cell(&row.default),
            cell(&row.description)
        )
        .unwrap();
    }
    out
}

/// The rows of each generated section of the page, by section name.
fn sections() -> Vec<(&'static str, Vec<Row>, bool)> {
    let crd = schema::crd();
    let (_, open_api) = schema::served_schema(&crd);
    let mut spec = Vec::new();
    schema_rows(&open_api["properties"]["spec"], "spec", true, &mut spec);
    let mut status = Vec::new();
    schema_rows(
        &open_api["properties"]["status"],
        "status",
        false,
        &mut status,
    );
    vec![
        ("spec", spec, true),
        ("status", status, true),
        ("values", value_rows(), false),
    ]
}

/// `page` with each generated section replaced by the table of its rows now.
fn regenerated(page: &str) -> String {
    let mut page = page.to_owned();
    for (name, rows, with_kind) in sections() {
        let begin = format!("<!-- BEGIN GENERATED {name} -->\n");
        let end = format!("<!-- END GENERATED {name} -->");
        let start = page
            .find(&begin)
            .unwrap_or_else(|| panic!("{PAGE} has no `{}` marker", begin.trim()))
            + begin.len();
        let stop = start
            + page[start..]
                .find(&end)
                .unwrap_or_else(|| panic!("{PAGE} has no `{end}` marker"));
        page.replace_range(start..stop, &table(&rows, with_kind));
    }
    page
}

#[test]
fn every_crd_field_and_chart_value_has_a_row() {
    let page = repo::read(PAGE);
    let paths: Vec<String> = sections()
        .into_iter()
        .flat_map(|(_, rows, _)| rows.into_iter().map(|row| row.path))
        .collect();
    for expected in [
        "spec.topic.partitions",
        "spec.producer.schemas[].version",
        "operator.image.tag",
    ] {
        assert!(
            paths.iter().any(|path| path == expected),
            "the walk missed {expected}"
        );
    }
    let missing: Vec<&String> = paths
        .iter()
        .filter(|path| !page.contains(&format!("| `{path}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "{PAGE} has no row for {missing:?}: run `make generate`"
    );
}

#[test]
fn generated_tables_match_the_crd_and_values_yaml() {
    let page = repo::read(PAGE);
    let expected = regenerated(&page);
    if std::env::var_os("EVENTFLOW_WRITE_GENERATED").is_some() {
        std::fs::write(repo::root().join(PAGE), &expected).unwrap();
        return;
    }
    assert!(
        page == expected,
        "{PAGE}'s generated tables differ from crds/ and {VALUES}: run `make generate`"
    );
}
