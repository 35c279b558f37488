//! The Prometheus text exposition format that every eventflow process serves on `/metrics`,
//! read back into samples (by the local runtime's status and by the tests).
//!
//! Not `prometheus-parse` (0.2.5, the maintained fork of `prometheus-scrape`): it splits label
//! pairs on `,` and `=`, so a label value holding either is cut, leaves escapes undecoded, and
//! folds a histogram's `_bucket` lines into one sample, while callers read each series by name.

use std::collections::BTreeMap;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `eventflow_producer_events_accepted_total`.
    pub name: String,
    /// Label names and values.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Every sample of a text exposition; comment and malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (BTreeMap::new(), &line[name_end..])
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `a="x",b="y"} rest` into the labels and `rest`.
fn parse_labels(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches([',', ' ']);
        if let Some(rest) = text.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (name, rest) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim().to_owned(), value);
        text = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP eventflow_producer_http_requests_total HTTP requests
# TYPE eventflow_producer_http_requests_total counter
eventflow_producer_http_requests_total{method="POST",pipeline="default/q",route="/v1/events",status="202"} 90
eventflow_producer_ready{pipeline="default/q"} 1
lat_bucket{le="+Inf"} 100
odd{label="a \"quoted\" \\ value"} 2
bare 3 1700000000000
"#;

    #[test]
    fn parses_names_labels_values_and_escapes() {
        let samples = parse(TEXT);
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[0].labels["status"], "202");
        assert_eq!(samples[1].name, "eventflow_producer_ready");
        assert_eq!(samples[2].labels["le"], "+Inf");
        assert_eq!(samples[3].labels["label"], r#"a "quoted" \ value"#);
        assert!((samples[3].value - 2.0).abs() < f64::EPSILON);
        assert!(samples[4].labels.is_empty());
        assert!(
            (samples[4].value - 3.0).abs() < f64::EPSILON,
            "a timestamp is not the value"
        );
    }
}
