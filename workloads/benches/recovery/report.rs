//! What one disturbance did to the group, from the samples taken meanwhile.

use std::time::{Duration, Instant};

use eventflow_workloads::event::{Event, IncomingEvent};

use crate::{PARTITIONS, watch::Sample};

/// The figures of one disturbance (a kill and restart, or a rolling restart).
#[derive(Debug)]
pub struct Window {
    /// Longest stretch with some partition unowned, and the most unowned at once.
    pub unowned: (Duration, i64),
    /// Longest stretch with a live consumer holding nothing.
    pub idle: Duration,
    /// Lag before, its peak and when the peak was (the lag falls again from there).
    pub lag: (i64, i64, Duration),
    /// When the lag was back within a second of ingest of its level before.
    pub back: Option<Duration>,
    /// Events/s written from the start to the lag's peak.
    pub written_per_second: f64,
    /// The whole window.
    pub settled: Duration,
}

impl Window {
    pub fn of(samples: &[Sample], start: Instant, end: Instant, before: i64) -> Self {
        let first = samples.first().map_or(start, |s| s.at);
        let peak = samples
            .iter()
            .filter(|s| s.at <= end)
            .max_by_key(|s| s.lag)
            .copied();
        let (peak_lag, peak_at) = peak.map_or((before, start), |p| (p.lag, p.at));
        let committed_at = |at: Instant| {
            samples
                .iter()
                .find(|s| s.at >= at)
                .map_or(0, |s| s.committed)
        };
        let stall = peak_at.duration_since(start).as_secs_f64();
        #[expect(clippy::cast_precision_loss, reason = "event counts")]
        let written = (committed_at(peak_at) - committed_at(first)) as f64;
        let slack = before + crate::lag_slack();
        Self {
            unowned: (
                longest(samples, start, |s| s.unowned > 0),
                samples.iter().map(|s| s.unowned).max().unwrap_or(0),
            ),
            idle: longest(samples, start, |s| s.idle > 0),
            lag: (before, peak_lag, peak_at.duration_since(start)),
            back: samples
                .iter()
                .find(|s| s.at >= peak_at && s.lag <= slack)
                .map(|s| s.at.duration_since(start)),
            written_per_second: if stall > 0.0 {
                written / stall
            } else {
                f64::NAN
            },
            settled: end.duration_since(start),
        }
    }

    pub fn describe(&self, ingest: u64) -> String {
        #[expect(clippy::cast_precision_loss, reason = "an event rate")]
        let lost = (ingest as f64 - self.written_per_second).max(0.0);
        format!(
            "a partition without a live owner for {:.1} s (up to {} of {PARTITIONS}), a live consumer \
             holding none for {:.1} s; lag {} before, falls again after {:.1} s (peak {}), back after {}; \
             {lost:.0} of {ingest} events/s lost until then; settled after {:.1} s",
            self.unowned.0.as_secs_f64(),
            self.unowned.1,
            self.idle.as_secs_f64(),
            self.lag.0,
            self.lag.2.as_secs_f64(),
            self.lag.1,
            self.back.map_or_else(
                || "never".to_owned(),
                |b| format!("{:.1} s", b.as_secs_f64())
            ),
            self.settled.as_secs_f64(),
        )
    }
}

/// The longest stretch over which `holds` is true; a stretch open at the first sample starts at
/// `start`, one open at the last ends there.
fn longest(samples: &[Sample], start: Instant, holds: impl Fn(&Sample) -> bool) -> Duration {
    let (mut longest, mut open) = (Duration::ZERO, None);
    for (i, sample) in samples.iter().enumerate() {
        match (holds(sample), open) {
            (true, None) => open = Some(if i == 0 { start } else { sample.at }),
            (false, Some(began)) => {
                longest = longest.max(sample.at.duration_since(began));
                open = None;
            }
            _ => {}
        }
    }
    if let (Some(began), Some(last)) = (open, samples.last()) {
        longest = longest.max(last.at.duration_since(began));
    }
    longest
}

/// One event as the producer writes it.
pub fn event_json(i: u64) -> Vec<u8> {
    let incoming: Result<IncomingEvent, _> = serde_json::from_value(serde_json::json!({
        "id": format!("recovery-{i}"), "type": "PRODUCT_VIEW", "subject": format!("user-{}", i % 97),
        "data": {"userId": format!("user-{}", i % 97), "productId": i % 1000, "price": 19.99}
    }));
    incoming.map_or_else(
        |_| Vec::new(),
        |e: IncomingEvent| Event::to_json(&e.into_event(None, "bench")),
    )
}

/// The machine the figures come from.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores, load average {}", load.join(" "))
}
