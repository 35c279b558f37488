//! What the scaler remembers about one pipeline between polls.

use std::{collections::VecDeque, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};

use super::Policy;
use crate::scaling::LagSample;

/// Samples kept for the drain-rate estimate (about a minute at the default 10 s poll).
pub(super) const RATE_WINDOW_SAMPLES: usize = 6;

/// A lag sample and the consumer replicas running while it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The measurement.
    pub sample: LagSample,
    /// Consumer replicas when it was taken.
    pub replicas: u32,
    /// Of those, the consumers that were ready (assigned) when it was taken.
    pub ready: u32,
}

/// One recommendation (the desired replicas before stabilization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommendation {
    /// The sample's time.
    pub at: DateTime<Utc>,
    /// Recommended replicas.
    pub replicas: u32,
}

/// The per-pipeline memory of the scaler: recent samples (growth rate, persistent lag) and
/// recent recommendations (stabilization windows).
///
/// The caller keeps one per pipeline, starts with `History::default()` and passes the same value
/// to every [`decide`](super::decide); it stays small (bounded by the policy's windows). Losing
/// it (an operator restart) only makes the next decisions less stabilized, never wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    observations: VecDeque<Observation>,
    recommendations: VecDeque<Recommendation>,
}

impl History {
    /// Recent observations, oldest first; the last one is the sample being decided on.
    pub fn observations(&self) -> &VecDeque<Observation> {
        &self.observations
    }

    /// Recent recommendations, oldest first.
    pub fn recommendations(&self) -> &VecDeque<Recommendation> {
        &self.recommendations
    }

    /// The last `count` observations (fewer when fewer are known), oldest first.
    pub(super) fn last_observations(&self, count: usize) -> impl Iterator<Item = &Observation> {
        self.observations
            .iter()
            .skip(self.observations.len().saturating_sub(count))
    }

    /// Seeds an empty history with the current replicas as a recommendation, as the HPA does, so
    /// that the first decisions after a restart do not scale down before the window has passed.
    pub(super) fn seed(&mut self, now: DateTime<Utc>, current: u32) {
        if self.recommendations.is_empty() {
            self.recommendations.push_back(Recommendation {
                at: now,
                replicas: current,
            });
        }
    }

    pub(super) fn record_observation(&mut self, policy: &Policy, observation: Observation) {
        self.observations.push_back(observation);
        let keep = policy.persistent_polls().max(RATE_WINDOW_SAMPLES);
        while self.observations.len() > keep {
            self.observations.pop_front();
        }
    }

    pub(super) fn record_recommendation(
        &mut self,
        policy: &Policy,
        recommendation: Recommendation,
    ) {
        self.recommendations.push_back(recommendation);
        let oldest = cutoff(recommendation.at, policy.longest_window());
        self.recommendations.retain(|r| r.at >= oldest);
    }

    /// The lowest and the highest recommendation strictly after `cutoff` (as the HPA counts a
    /// window: with a 0 s window, no earlier recommendation is in it).
    pub(super) fn range_after(&self, cutoff: DateTime<Utc>) -> Option<(u32, u32)> {
        let recent = self.recommendations.iter().filter(|r| r.at > cutoff);
        recent.fold(None, |range, r| match range {
            None => Some((r.replicas, r.replicas)),
            Some((low, high)) => Some((low.min(r.replicas), high.max(r.replicas))),
        })
    }
}

/// `now − window`, saturating at the earliest representable time.
pub(super) fn cutoff(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(window)
        .ok()
        .and_then(|window| now.checked_sub_signed(window))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
