//! The ingest rate limit: a GCRA bucket (governor) of `burst` events refilled at
//! `events_per_second`, one per static bearer token and one shared by every JWT when auth is
//! on, else one for the producer.
//!
//! A request spends as many events as it carries, counted after validation (a refused request
//! spends nothing). A request that finds too few left is answered 429 with `Retry-After`: the
//! whole seconds until the bucket holds its events again (at least 1). A request carrying more
//! events than the burst could never pass, so it is answered 413 (`exceeds_rate_limit_burst`)
//! instead: split it, do not wait.

use std::num::NonZeroU32;

use governor::{
    DefaultDirectRateLimiter, Quota, RateLimiter as Gcra,
    clock::{Clock, DefaultClock},
};

use super::{error::ApiError, metrics::Metrics};

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Auth off: every request shares the producer's bucket.
    Producer,
    /// Auth on: the bearer token on this line of the tokens file (0-based, comments skipped).
    Token(usize),
    /// Auth on: any JWT; JWT clients share one bucket, the last.
    Jwt,
}

impl Client {
    /// The metric label: `producer` or `token-<n>` (1-based position in the tokens file); the
    /// token itself is never logged or exported.
    pub fn label(self) -> String {
        match self {
            Self::Producer => "producer".to_owned(),
            Self::Token(index) => format!("token-{}", index + 1),
            Self::Jwt => "jwt".to_owned(),
        }
    }
}

/// The configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Refill rate.
    pub events_per_second: NonZeroU32,
    /// Bucket size: the most events accepted at once.
    pub burst: NonZeroU32,
}

/// One bucket per client.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Vec<DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// Buckets for `clients` clients (the number of tokens plus one for JWTs, or 1 without
    /// auth).
    pub fn new(rate: Rate, clients: usize) -> Self {
        let clock = DefaultClock::default();
        let quota = Quota::per_second(rate.events_per_second).allow_burst(rate.burst);
        let buckets = (0..clients.max(1))
            .map(|_| Gcra::direct_with_clock(quota, clock.clone()))
            .collect();
        Self {
            rate,
            buckets,
            clock,
        }
    }

    /// Spends `events` from `client`'s bucket, or says why not (429 or 413).
    pub fn check(&self, client: Client, events: usize, metrics: &Metrics) -> Result<(), ApiError> {
        let index = match client {
            Client::Producer => 0,
            Client::Token(index) => index,
            Client::Jwt => self.buckets.len() - 1,
        };
        let Some(bucket) = self.buckets.get(index) else {
            return Ok(());
        };
        let n = u32::try_from(events)
            .ok()
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::MIN);
        let refused = match bucket.check_n(n) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => ApiError::RateLimited {
                retry_after_seconds: retry_after(not_until.wait_time_from(self.clock.now())),
            },
            Err(_) => ApiError::PayloadTooLarge {
                code: "exceeds_rate_limit_burst",
                message: format!(
                    "{events} events exceed the rate limit's burst of {}; send at most that many per request",
                    self.rate.burst
                ),
            },
        };
        metrics
            .rate_limited
            .with_label_values(&[client.label().as_str()])
            .inc();
        Err(refused)
    }
}

/// Whole seconds a client should wait: the wait rounded up, at least 1.
fn retry_after(wait: std::time::Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(events_per_second: u32, burst: u32, clients: usize) -> (RateLimiter, Metrics) {
        let rate = Rate {
            events_per_second: NonZeroU32::new(events_per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        };
        let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
        (RateLimiter::new(rate, clients), metrics)
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_at_least_one() {
        use std::time::Duration;
        for (wait, seconds) in [
            (Duration::ZERO, 1),
            (Duration::from_millis(1), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_millis(1001), 2),
            (Duration::from_millis(2500), 3),
        ] {
            assert_eq!(retry_after(wait), seconds, "{wait:?}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_the_wait() {
        let (limiter, metrics) = limiter(1, 5, 1);
        limiter.check(Client::Producer, 3, &metrics).unwrap();
        limiter.check(Client::Producer, 2, &metrics).unwrap();
        let refused = limiter.check(Client::Producer, 3, &metrics).unwrap_err();
        // 3 events at 1/s after an empty bucket: 3 s.
        assert_eq!(
            refused,
            ApiError::RateLimited {
                retry_after_seconds: 3
            }
        );
        let counted = metrics.rate_limited.with_label_values(&["producer"]).get();
        assert_eq!(counted, 1);
    }

    #[test]
    fn each_token_has_its_own_bucket() {
        let (limiter, metrics) = limiter(1, 2, 2);
        limiter.check(Client::Token(0), 2, &metrics).unwrap();
        assert_eq!(
            limiter.check(Client::Token(0), 1, &metrics),
            Err(ApiError::RateLimited {
                retry_after_seconds: 1
            })
        );
        limiter.check(Client::Token(1), 2, &metrics).unwrap();
        let counted = metrics.rate_limited.with_label_values(&["token-1"]).get();
        assert_eq!(counted, 1);
    }

    #[test]
    fn more_events_than_the_burst_is_too_large_not_too_fast() {
        let (limiter, metrics) = limiter(10, 10, 1);
        let refused = limiter.check(Client::Producer, 11, &metrics).unwrap_err();
        assert_eq!(refused.code(), "exceeds_rate_limit_burst");
        limiter.check(Client::Producer, 10, &metrics).unwrap();
    }
}
