//! Reading the workloads' `/metrics` (Prometheus text format): the local runtime's status shows
//! the figures the Grafana dashboard draws, computed the way its `PromQL` does (rates of counters
//! between two scrapes, `histogram_quantile` over the buckets' increase).

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

/// A label and a test of its value (a missing label has the value `""`), like a `PromQL` matcher.
pub type Matcher<'a> = (&'a str, &'a dyn Fn(&str) -> bool);

/// The samples of several scrapes (one per process), summed per series like `sum by (...)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// The samples of all `texts` together.
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            samples: texts.into_iter().flat_map(parse).collect(),
        }
    }

    /// Sum of `name` over the series whose labels match every `(label, predicate)`.
    pub fn sum(&self, name: &str, matchers: &[Matcher<'_>]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name && matches(s, matchers))
            .map(|s| s.value)
            .sum()
    }

    /// Number of series of `name`.
    pub fn count(&self, name: &str) -> usize {
        self.samples.iter().filter(|s| s.name == name).count()
    }

    /// Cumulative bucket counts of histogram `name` (its `_bucket` series), summed per `le`.
    pub fn buckets(&self, name: &str, matchers: &[Matcher<'_>]) -> Vec<(f64, f64)> {
        let mut per_le: Vec<(f64, f64)> = Vec::new();
        let bucket = format!("{name}_bucket");
        for sample in self
            .samples
            .iter()
            .filter(|s| s.name == bucket && matches(s, matchers))
        {
            let Some(le) = sample.labels.get("le").and_then(|le| parse_le(le)) else {
                continue;
            };
            match per_le
                .iter_mut()
                .find(|(bound, _)| bound.total_cmp(&le).is_eq())
            {
                Some((_, count)) => *count += sample.value,
                None => per_le.push((le, sample.value)),
            }
        }
        per_le.sort_by(|a, b| a.0.total_cmp(&b.0));
        per_le
    }
}

fn parse_le(text: &str) -> Option<f64> {
    if text == "+Inf" {
        Some(f64::INFINITY)
    } else {
        text.parse().ok()
    }
}

fn matches(sample: &Sample, matchers: &[Matcher<'_>]) -> bool {
    matchers
        .iter()
        .all(|(label, predicate)| predicate(sample.labels.get(*label).map_or("", String::as_str)))
}

/// Per second between two readings of a counter (a reset counts from zero, like `rate`).
pub fn per_second(before: f64, after: f64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    let increase = if after < before {
        after
    } else {
        after - before
    };
    increase / seconds
}

/// `histogram_quantile(q, increase(buckets))` between two readings of cumulative buckets;
/// `None` when nothing was observed in between.
pub fn quantile(q: f64, before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let increase: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, count)| {
            let earlier = before
                .iter()
                .find(|(bound, _)| bound.total_cmp(le).is_eq())
                .map_or(0.0, |(_, c)| *c);
            (
                *le,
                if *count < earlier {
                    *count
                } else {
                    count - earlier
                },
            )
        })
        .collect();
    let total = increase.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower_bound, mut lower_count) = (0.0, 0.0);
    for (le, count) in increase {
        if count >= rank {
            if le.is_infinite() {
                // Prometheus answers the highest finite bound for the +Inf bucket.
                return Some(lower_bound);
            }
            let width = count - lower_count;
            let fraction = if width > 0.0 {
                (rank - lower_count) / width
            } else {
                1.0
            };
            return Some(lower_bound + (le - lower_bound) * fraction);
        }
        (lower_bound, lower_count) = (le, count);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP eventflow_producer_http_requests_total HTTP requests
# TYPE eventflow_producer_http_requests_total counter
eventflow_producer_http_requests_total{method="POST",pipeline="default/q",route="/v1/events",status="202"} 90
eventflow_producer_http_requests_total{method="POST",pipeline="default/q",route="/v1/events",status="400"} 7
eventflow_producer_http_requests_total{method="POST",pipeline="default/q",route="/v1/events",status="503"} 3
eventflow_producer_ready{pipeline="default/q"} 1
lat_bucket{le="0.1"} 50
lat_bucket{le="0.2"} 90
lat_bucket{le="+Inf"} 100
odd{label="a \"quoted\" \\ value"} 2
"#;

    #[test]
    fn parses_names_labels_values_and_escapes() {
        let samples = parse(TEXT);
        assert_eq!(samples.len(), 8);
        assert_eq!(samples[0].labels["status"], "202");
        assert_eq!(samples[3].name, "eventflow_producer_ready");
        assert_eq!(samples[7].labels["label"], r#"a "quoted" \ value"#);
        assert!((samples[7].value - 2.0).abs() < f64::EPSILON);
    }

    #[test]
    fn sums_series_by_label_predicates() {
        let scrape = Scrape::of([TEXT, TEXT]);
        let status_5xx: &dyn Fn(&str) -> bool = &|s: &str| s.starts_with('5');
        let total = scrape.sum("eventflow_producer_http_requests_total", &[]);
        assert!((total - 200.0).abs() < f64::EPSILON);
        let errors = scrape.sum(
            "eventflow_producer_http_requests_total",
            &[("status", status_5xx)],
        );
        assert!((errors - 6.0).abs() < f64::EPSILON);
        assert_eq!(scrape.count("eventflow_producer_ready"), 2);
    }

    #[test]
    fn quantile_interpolates_within_the_bucket_like_prometheus() {
        let after = Scrape::of([TEXT]).buckets("lat", &[]);
        // 100 observations: the 50th is the last of le=0.1, the 99th beyond le=0.2.
        let p50 = quantile(0.5, &[], &after).unwrap();
        assert!((p50 - 0.1).abs() < 1e-9, "{p50}");
        let p75 = quantile(0.75, &[], &after).unwrap();
        assert!((p75 - 0.1625).abs() < 1e-9, "{p75}");
        assert!((quantile(0.99, &[], &after).unwrap() - 0.2).abs() < 1e-9);
        // Nothing observed between two equal readings.
        assert_eq!(quantile(0.99, &after, &after), None);
    }

    #[test]
    fn a_counter_reset_counts_from_zero() {
        assert!((per_second(10.0, 30.0, 2.0) - 10.0).abs() < f64::EPSILON);
        assert!((per_second(30.0, 4.0, 2.0) - 2.0).abs() < f64::EPSILON);
        assert!(per_second(1.0, 2.0, 0.0).abs() < f64::EPSILON);
    }
}
