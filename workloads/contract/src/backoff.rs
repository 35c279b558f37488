//! The one retry-delay shape of every eventflow process (the reconciler's retries, the
//! controller's watches, the consumer's failed writes, the local runtime's topic set-up and
//! restarts): exponential, doubling from a first delay to a cap, without end, from `backon`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// Delays of `first`, doubling per failure, never above `max` (nor below `first`), without end.
pub fn exponential(first: Duration, max: Duration) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(first)
        .with_max_delay(max.max(first))
        .with_factor(2.0)
        .without_max_times()
}

/// The [`exponential`] delay after `failures` failures (after the first: `first`).
pub fn delay_after(failures: u32, first: Duration, max: Duration) -> Duration {
    // Past 31 doublings every delay is the cap.
    let doublings = failures.saturating_sub(1).min(31);
    exponential(first, max)
        .build()
        .nth(doublings as usize)
        .unwrap_or(max.max(first))
}

/// An [`exponential`] backoff that counts failures and starts over after a success.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: backon::ExponentialBackoff,
    failures: u32,
    max: Duration,
}

impl Backoff {
    /// A backoff starting at `first` and capped at `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        let builder = exponential(first, max);
        Self {
            builder,
            delays: builder.build(),
            failures: 0,
            max: max.max(first),
        }
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.delays.next().unwrap_or(self.max)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_start_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.failures(), 6);
        backoff.reset();
        assert_eq!(
            (backoff.failures(), backoff.next_delay().as_millis()),
            (0, 100)
        );
    }

    #[test]
    fn delays_never_pass_the_cap_however_many_failures() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
        let delays: Vec<_> = (0..200).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(&delays[..8], [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(delays.iter().max(), Some(&300));
    }
}
