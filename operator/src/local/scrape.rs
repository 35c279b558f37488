//! Reading the workloads' `/metrics` (Prometheus text format): the local runtime's status shows
//! the figures the Grafana dashboard draws, computed the way its `PromQL` does (rates of counters
//! between two scrapes, `histogram_quantile` over the buckets' increase).

use eventflow_contract::exposition::{Sample, parse};

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
