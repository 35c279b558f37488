//! What a load run measured: per-worker records merged into one summary.

use std::{collections::BTreeMap, fmt, time::Duration};

use serde::Serialize;

/// What one worker saw.
#[derive(Debug, Default)]
pub struct Record {
    /// Latency of every request, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Responses by status (`202`, `503`, ... or `error` when no response came).
    pub statuses: BTreeMap<String, u64>,
    /// Events sent.
    pub events_sent: u64,
    /// Events answered 202.
    pub events_accepted: u64,
    /// Ids of accepted events, when asked to keep them.
    pub accepted_ids: Vec<String>,
}

impl Record {
    /// Adds another worker's record.
    pub fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.events_sent += other.events_sent;
        self.events_accepted += other.events_accepted;
        self.accepted_ids.extend(other.accepted_ids);
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of latencies in microseconds (nearest rank).
    pub fn of(latencies_us: &mut [u64]) -> Self {
        latencies_us.sort_unstable();
        let at = |q: f64| -> f64 {
            if latencies_us.is_empty() {
                return 0.0;
            }
            let last = latencies_us.len() - 1;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a rank within the slice"
            )]
            let rank = ((q * latencies_us.len() as f64).ceil() as usize).saturating_sub(1);
            latencies_us[rank.min(last)] as f64 / 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// The final summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub duration_s: f64,
    pub requests: u64,
    pub events_sent: u64,
    pub events_accepted: u64,
    pub requests_per_s: f64,
    pub events_per_s: f64,
    pub statuses: BTreeMap<String, u64>,
    pub latency: Latency,
}

impl Summary {
    /// The summary of `record` over `elapsed`.
    pub fn new(record: &mut Record, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
        let requests = record.latencies_us.len() as u64;
        Self {
            duration_s: seconds,
            requests,
            events_sent: record.events_sent,
            events_accepted: record.events_accepted,
            requests_per_s: requests as f64 / seconds,
            events_per_s: record.events_accepted as f64 / seconds,
            statuses: record.statuses.clone(),
            latency: Latency::of(&mut record.latencies_us),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(f, "duration      {:.1} s", self.duration_s)?;
        writeln!(
            f,
            "requests      {} ({:.0}/s)",
            self.requests, self.requests_per_s
        )?;
        writeln!(
            f,
            "events        {} sent, {} accepted ({:.0}/s)",
            self.events_sent, self.events_accepted, self.events_per_s
        )?;
        writeln!(f, "statuses      {}", statuses.join(", "))?;
        let l = self.latency;
        write!(
            f,
            "latency (ms)  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let latency = Latency::of(&mut latencies);
        assert_eq!(
            latency,
            Latency {
                p50_ms: 50.0,
                p90_ms: 90.0,
                p99_ms: 99.0,
                max_ms: 100.0
            }
        );
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn records_merge_counts_and_statuses() {
        let mut a = Record {
            events_sent: 2,
            ..Record::default()
        };
        a.statuses.insert("202".into(), 2);
        let mut b = Record {
            events_sent: 3,
            ..Record::default()
        };
        b.statuses.insert("202".into(), 1);
        b.statuses.insert("503".into(), 1);
        a.merge(b);
        assert_eq!(a.events_sent, 5);
        assert_eq!(a.statuses["202"], 3);
        assert_eq!(a.statuses["503"], 1);
    }
}
