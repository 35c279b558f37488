//! `targetDrainSeconds`: rates observed over recent samples and the replicas that drain the lag
//! in time.

use super::{
    History, Policy,
    history::{Observation, RATE_WINDOW_SAMPLES},
    lag_without,
};

/// Rates over the recent samples, in records per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rates {
    /// Growth of the high watermarks: what producers write.
    pub produced: f64,
    /// Movement of the committed offsets: what the consumers wrote to the sink.
    pub consumed: f64,
    /// Consumption per ready consumer, when the window shows it (see [`rates`]).
    pub per_replica: Option<f64>,
}

impl Rates {
    /// Growth rate of the lag (negative while it drains).
    pub fn growth(&self) -> f64 {
        self.produced - self.consumed
    }
}

/// Rates over the last [`RATE_WINDOW_SAMPLES`] observations, leaving out `excluded` partitions;
/// `None` with fewer than two observations or no time between them.
///
/// The per-replica rate is consumed records over consumer-seconds, each interval weighted by the
/// consumers *ready* (in the group, assigned) at its start: pods still starting consume nothing,
/// and counting them right after a scale-up would read a lower rate and ask for more. It is only
/// taken as the replicas' capacity when the consumers had a backlog (lag above
/// `activation_lag`) in every sample: a consumer that keeps up with the producers shows the
/// production rate, not what it could do.
pub(super) fn rates(policy: &Policy, history: &History, excluded: &[i32]) -> Option<Rates> {
    let window: Vec<&Observation> = history.last_observations(RATE_WINDOW_SAMPLES).collect();
    let (first, last) = (window.first()?, window.last()?);
    let span = (last.sample.measured_at - first.sample.measured_at).as_seconds_f64();
    if span <= 0.0 {
        return None;
    }
    let mut consumed = 0.0;
    let mut replica_seconds = 0.0;
    for pair in window.windows(2) {
        let seconds = (pair[1].sample.measured_at - pair[0].sample.measured_at).as_seconds_f64();
        consumed += pair[1]
            .sample
            .advanced_since(&pair[0].sample, excluded, |p| p.committed);
        replica_seconds += f64::from(pair[0].ready) * seconds.max(0.0);
    }
    let backlog = window
        .iter()
        .all(|o| lag_without(&o.sample, excluded) > policy.activation_lag);
    let per_replica =
        (backlog && consumed > 0.0 && replica_seconds > 0.0).then(|| consumed / replica_seconds);
    Some(Rates {
        produced: last
            .sample
            .advanced_since(&first.sample, excluded, |p| Some(p.high_watermark))
            / span,
        consumed: consumed / span,
        per_replica,
    })
}

/// Replicas that drain `lag` within the policy's target while producers keep writing, and how
/// that was computed; `None` without a target.
///
/// Needed consumption = `lag / target + produced`; replicas = that over the per-replica rate.
/// Without an observed per-replica rate, one replica is assumed to drain `lagThreshold` records
/// within the target (the threshold's meaning, extended by the records arriving meanwhile).
pub(super) fn replicas_to_drain(policy: &Policy, lag: u64, rates: &Rates) -> Option<(u32, String)> {
    let target = policy.target_drain?.as_secs_f64().max(1.0);
    let (per_replica, source) = match rates.per_replica {
        Some(rate) => (rate, "observed"),
        None => (policy.threshold() as f64 / target, "assumed from threshold"),
    };
    let needed = (lag as f64 / target + rates.produced) / per_replica;
    let replicas = ceil_to_u32(needed);
    let explanation = format!(
        "lag {lag} growing {growth:.1}/s drains within {target}s with {replicas} at {per_replica:.1}/s per replica ({source})",
        growth = rates.growth(),
    );
    Some((replicas, explanation))
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to u32's range first; NaN maps to 0"
)]
fn ceil_to_u32(value: f64) -> u32 {
    value.ceil().clamp(0.0, f64::from(u32::MAX)) as u32
}
