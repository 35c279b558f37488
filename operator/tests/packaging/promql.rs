//! Which metric names and labels the shipped dashboard and alerting rules use: read from their
//! `PromQL`, so a test can compare them with what the running processes export. Shared with the
//! cluster tests (`#[path]`), which scrape the processes.

use std::collections::{BTreeMap, BTreeSet};

/// The chart's Grafana dashboard.
pub const DASHBOARD: &str = "charts/eventflow/dashboards/eventflow.json";
/// The chart's alerting rules (Prometheus rule-file format).
pub const RULES: &str = "charts/eventflow/rules/eventflow.rules.yaml";

/// Metric name -> the labels queries use on it.
pub type Used = BTreeMap<String, BTreeSet<String>>;

/// Every `PromQL` expression of the dashboard (panel targets and variable queries).
pub fn dashboard_expressions(dashboard: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_strings(dashboard, &mut found);
    found
}

fn collect_strings(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr" | "definition", serde_json::Value::String(text)) => {
                        found.push(text.clone());
                    }
                    _ => collect_strings(child, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, found)),
        _ => {}
    }
}

/// Every `expr` of the rules file, with the alert's name.
pub fn rule_expressions(rules: &serde_yaml::Value) -> Vec<(String, String)> {
    rules["groups"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|group| group["rules"].as_sequence().cloned().unwrap_or_default())
        .map(|rule| {
            let name = rule["alert"].as_str().or(rule["record"].as_str());
            let expr = rule["expr"].as_str();
            (
                name.expect("a rule names its alert or record").to_owned(),
                expr.expect("a rule has an expr").to_owned(),
            )
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Open(char),
    Close(char),
    Str,
    Other,
}

fn tokens(expr: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut escaped = false;
                for next in chars.by_ref() {
                    if !escaped && next == c {
                        break;
                    }
                    escaped = !escaped && next == '\\';
                }
                out.push(Token::Str);
            }
            '[' => {
                // A range or subquery duration (may hold a Grafana variable): nothing to read.
                for next in chars.by_ref() {
                    if next == ']' {
                        break;
                    }
                }
                out.push(Token::Other);
            }
            '(' | '{' => out.push(Token::Open(c)),
            ')' | '}' => out.push(Token::Close(c)),
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let mut ident = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '_' || next == ':' {
                        ident.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Ident(ident));
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number (1e3, 0.99) or a duration (5m): one token, no name in it.
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '.')
                {
                    chars.next();
                }
                out.push(Token::Other);
            }
            '$' => {
                // A Grafana variable outside brackets.
                while chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_')
                {
                    chars.next();
                }
                out.push(Token::Other);
            }
            c if c.is_whitespace() => {}
            _ => out.push(Token::Other),
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "Inf",
    "NaN",
];
/// Aggregation operators: `sum by (x) (...)` has no `(` right after the name.
const AGGREGATORS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// One parenthesised level of an expression: the metrics in it (nested levels included) and the
/// grouping labels that apply to all of them.
#[derive(Debug, Default)]
struct Level {
    metrics: Vec<(String, BTreeSet<String>)>,
    labels: BTreeSet<String>,
    /// Grouping labels waiting for the next level (`sum by (x) (...)`).
    pending: BTreeSet<String>,
    /// Grouping labels of the level that closed last (`sum (...) by (x)` applies to it).
    last_closed: Vec<(String, BTreeSet<String>)>,
}

/// The metric names `expr` selects and, for each, the labels the expression relies on: its
/// matchers, and the `by`/`without` labels of the aggregations over it, the `on`/`ignoring`
/// labels of the binary operations around it, `label_values(metric, label)`.
pub fn used_in(expr: &str) -> Used {
    let tokens = tokens(expr);
    let mut stack = vec![Level::default()];
    let mut used = Used::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(name) if name == "label_values" => {
                let args: Vec<&String> = tokens[i + 1..]
                    .iter()
                    .take_while(|t| **t != Token::Close(')'))
                    .filter_map(|t| match t {
                        Token::Ident(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                if let [metric, label] = args.as_slice() {
                    used.entry((*metric).clone())
                        .or_default()
                        .insert((*label).clone());
                }
                return used;
            }
            Token::Ident(word) if GROUPING.contains(&word.as_str()) => {
                let (labels, next) = label_list(&tokens, i + 1);
                let level = stack.last_mut().expect("the outer level stays");
                if matches!(word.as_str(), "by" | "without") {
                    if level.last_closed.is_empty() || tokens.get(next) == Some(&Token::Open('(')) {
                        level.pending.extend(labels);
                    } else {
                        for (_, metric_labels) in &mut level.last_closed {
                            metric_labels.extend(labels.iter().cloned());
                        }
                        let closed = std::mem::take(&mut level.last_closed);
                        merge(&mut used, &closed);
                    }
                } else {
                    level.labels.extend(labels);
                }
                i = next;
                continue;
            }
            Token::Ident(name)
                if KEYWORDS.contains(&name.as_str()) || AGGREGATORS.contains(&name.as_str()) => {}
            Token::Ident(name) => {
                let is_call = tokens.get(i + 1) == Some(&Token::Open('('));
                if !is_call {
                    let (labels, next) = if tokens.get(i + 1) == Some(&Token::Open('{')) {
                        matcher_labels(&tokens, i + 2)
                    } else {
                        (BTreeSet::new(), i + 1)
                    };
                    let level = stack.last_mut().expect("the outer level stays");
                    level.metrics.push((name.clone(), labels));
                    i = next;
                    continue;
                }
            }
            Token::Open('{') => {
                // A selector without a name ({__name__=...}) is not used here.
                let (_, next) = matcher_labels(&tokens, i + 1);
                i = next;
                continue;
            }
            Token::Open(_) => {
                let pending = std::mem::take(&mut stack.last_mut().expect("level").pending);
                stack.push(Level {
                    labels: pending,
                    ..Level::default()
                });
            }
            Token::Close(_) => close(&mut stack),
            Token::Str | Token::Other => {}
        }
        i += 1;
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let outer = stack.pop().expect("the outer level");
    let mut metrics = outer.metrics;
    for (_, labels) in &mut metrics {
        labels.extend(outer.labels.iter().cloned());
    }
    merge(&mut used, &metrics);
    merge(&mut used, &outer.last_closed);
    used
}

/// Ends the innermost level: its labels apply to its metrics, which move to the parent.
fn close(stack: &mut Vec<Level>) {
    if stack.len() < 2 {
        return;
    }
    let mut level = stack.pop().expect("checked above");
    for (_, labels) in &mut level.metrics {
        labels.extend(level.labels.iter().cloned());
    }
    let parent = stack.last_mut().expect("checked above");
    parent.metrics.extend(level.metrics.iter().cloned());
    parent.last_closed = level.metrics;
}

fn merge(used: &mut Used, metrics: &[(String, BTreeSet<String>)]) {
    for (name, labels) in metrics {
        used.entry(name.clone())
            .or_default()
            .extend(labels.iter().cloned());
    }
}

/// `(a, b)` after a grouping keyword: the labels and the index after `)`.
fn label_list(tokens: &[Token], start: usize) -> (BTreeSet<String>, usize) {
    let mut labels = BTreeSet::new();
    let mut i = start;
    if tokens.get(i) != Some(&Token::Open('(')) {
        return (labels, i);
    }
    i += 1;
    while let Some(token) = tokens.get(i) {
        i += 1;
        match token {
            Token::Close(_) => break,
            Token::Ident(label) => {
                labels.insert(label.clone());
            }
            _ => {}
        }
    }
    (labels, i)
}

/// `a="x", b=~"y"}`: the label names and the index after `}`.
fn matcher_labels(tokens: &[Token], start: usize) -> (BTreeSet<String>, usize) {
    let mut labels = BTreeSet::new();
    let mut i = start;
    while let Some(token) = tokens.get(i) {
        i += 1;
        match token {
            Token::Close('}') => break,
            Token::Ident(label) => {
                labels.insert(label.clone());
            }
            _ => {}
        }
    }
    (labels, i)
}

/// Everything the dashboard and the rules use, merged.
pub fn used_by_dashboard_and_rules(dashboard: &str, rules: &str) -> Used {
    let dashboard: serde_json::Value =
        serde_json::from_str(dashboard).expect("the dashboard is JSON");
    let rules: serde_yaml::Value = serde_yaml::from_str(rules).expect("the rules are YAML");
    let mut used = Used::new();
    let expressions = dashboard_expressions(&dashboard)
        .into_iter()
        .chain(rule_expressions(&rules).into_iter().map(|(_, expr)| expr));
    for expr in expressions {
        for (name, labels) in used_in(&expr) {
            used.entry(name).or_default().extend(labels);
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(used: &Used, metric: &str) -> Vec<String> {
        used.get(metric)
            .unwrap_or_else(|| panic!("{metric} not found in {used:?}"))
            .iter()
            .cloned()
            .collect()
    }

    #[test]
    fn aggregation_labels_attach_to_the_metrics_they_aggregate() {
        let used = used_in(
            r#"histogram_quantile(0.99, sum by (pipeline, le) (rate(lat_bucket{route="/v1/events", method="POST"}[$__rate_interval])))
               / on (pipeline) group_left sum(other) by (kind)"#,
        );
        assert_eq!(
            labels(&used, "lat_bucket"),
            ["le", "method", "pipeline", "route"]
        );
        assert_eq!(labels(&used, "other"), ["kind", "pipeline"]);
        assert_eq!(used.len(), 2, "{used:?}");
    }

    #[test]
    fn joins_apply_to_both_sides_and_functions_are_no_metrics() {
        let used = used_in("deriv(lag[10m]) > 0 and on (pipeline) replicas >= max_replicas");
        assert_eq!(
            used.keys().collect::<Vec<_>>(),
            ["lag", "max_replicas", "replicas"]
        );
        assert_eq!(labels(&used, "lag"), ["pipeline"]);
        let used = used_in("label_values(eventflow_consumer_replicas, pipeline)");
        assert_eq!(labels(&used, "eventflow_consumer_replicas"), ["pipeline"]);
    }

    #[test]
    fn strings_and_separate_aggregations_keep_their_own_labels() {
        let used = used_in(
            r#"sum by (pipeline) (rate(req{status=~"5..|by"}[5m])) / sum by (route) (rate(other[5m])) > 0.05"#,
        );
        assert_eq!(labels(&used, "req"), ["pipeline", "status"]);
        assert_eq!(labels(&used, "other"), ["route"]);
    }
}
