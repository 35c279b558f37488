//! A failing dependency in the log: one line when it starts failing, then at most one summary
//! every [`SUMMARY_EVERY`] while it keeps failing (how many failures, the last one), and one
//! line when it works again. A dead broker costs every process
//! `1 + 3600 / SUMMARY_EVERY` lines an hour per dependency, however often its clients retry.
//!
//! Every eventflow process routes its Kafka clients' failures through one [`Outage`] per
//! connection: librdkafka's log lines at warning level and above, its client-level errors, and
//! the process's own failed calls; a call that succeeds ends the outage.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// The shortest time between two lines about one failing dependency.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(120);

/// The log of one dependency's failures.
#[derive(Debug)]
pub struct Outage {
    what: String,
    failing: AtomicBool,
    state: Mutex<Option<Failing>>,
}

#[derive(Debug)]
struct Failing {
    since: Instant,
    logged: Instant,
    /// Failures since the last line, and the last one.
    unlogged: u64,
    last: String,
    total: u64,
}

/// The line to log, decided under the lock and written after it.
enum Line {
    Started(String),
    Summary {
        failures: u64,
        last: String,
        for_secs: u64,
    },
    Recovered {
        failures: u64,
        for_secs: u64,
    },
}

impl Outage {
    /// The log of the dependency `what` (e.g. `Kafka at host:9092`).
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            failing: AtomicBool::new(false),
            state: Mutex::new(None),
        }
    }

    /// One failure: logged when it starts the outage or when a summary is due, else counted.
    pub fn failed(&self, error: &str) {
        let line = self.on_failure(error, Instant::now());
        self.log(line);
    }

    /// A call that succeeded: ends the outage, if any, with one line. Cheap when none.
    pub fn recovered(&self) {
        if self.failing.load(Ordering::Relaxed) {
            let line = self.on_recovery(Instant::now());
            self.log(line);
        }
    }

    /// Whether the dependency is failing now.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn on_failure(&self, error: &str, now: Instant) -> Option<Line> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.failing.store(true, Ordering::Relaxed);
        let Some(failing) = state.as_mut() else {
            *state = Some(Failing {
                since: now,
                logged: now,
                unlogged: 0,
                last: error.to_owned(),
                total: 1,
            });
            return Some(Line::Started(error.to_owned()));
        };
        failing.unlogged += 1;
        failing.total += 1;
        error.clone_into(&mut failing.last);
        if now.duration_since(failing.logged) < SUMMARY_EVERY {
            return None;
        }
        failing.logged = now;
        let failures = std::mem::take(&mut failing.unlogged);
        Some(Line::Summary {
            failures,
            last: failing.last.clone(),
            for_secs: now.duration_since(failing.since).as_secs(),
        })
    }

    fn on_recovery(&self, now: Instant) -> Option<Line> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.failing.store(false, Ordering::Relaxed);
        let failing = state.take()?;
        Some(Line::Recovered {
            failures: failing.total,
            for_secs: now.duration_since(failing.since).as_secs(),
        })
    }

    fn log(&self, line: Option<Line>) {
        let what = &self.what;
        match line {
            None => {}
            Some(Line::Started(error)) => tracing::warn!(%error, "{what} is failing"),
            Some(Line::Summary {
                failures,
                last,
                for_secs,
            }) => tracing::warn!(
                failures,
                failing_for_s = for_secs,
                last_error = %last,
                "{what} is still failing"
            ),
            Some(Line::Recovered { failures, for_secs }) => {
                tracing::info!(failures, failed_for_s = for_secs, "{what} works again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(line: Option<&Line>) -> &'static str {
        match line {
            None => "-",
            Some(Line::Started(_)) => "started",
            Some(Line::Summary { .. }) => "summary",
            Some(Line::Recovered { .. }) => "recovered",
        }
    }

    #[test]
    fn one_line_to_start_one_summary_per_interval_one_to_recover() {
        let outage = Outage::new("Kafka at 127.0.0.1:1");
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let mut lines = Vec::new();
        // A failure every second for an hour.
        for second in 0..3600 {
            let line = outage.on_failure("connection refused", at(second));
            if line.is_some() {
                lines.push(kind(line.as_ref()));
            }
        }
        assert!(outage.is_failing());
        let per_hour = 1 + 3600 / SUMMARY_EVERY.as_secs();
        assert_eq!(u64::try_from(lines.len()), Ok(per_hour - 1), "{lines:?}");
        assert_eq!(lines.first(), Some(&"started"));
        assert!(
            lines[1..].iter().all(|line| *line == "summary"),
            "{lines:?}"
        );
        let recovered = outage.on_recovery(at(3600));
        assert_eq!(kind(recovered.as_ref()), "recovered");
        assert!(!outage.is_failing());
        assert!(outage.on_recovery(at(3601)).is_none(), "recovers once");
        match outage.on_failure("again", at(3602)) {
            Some(Line::Started(error)) => assert_eq!(error, "again"),
            other => panic!(
                "a new outage starts with its own line: {:?}",
                kind(other.as_ref())
            ),
        }
    }

    #[test]
    fn a_summary_counts_the_failures_since_the_last_line() {
        let outage = Outage::new("Kafka");
        let t0 = Instant::now();
        outage.on_failure("first", t0);
        for i in 1..10 {
            assert!(
                outage
                    .on_failure("again", t0 + Duration::from_secs(i))
                    .is_none()
            );
        }
        match outage.on_failure("last", t0 + SUMMARY_EVERY) {
            Some(Line::Summary { failures, last, .. }) => {
                assert_eq!((failures, last.as_str()), (10, "last"));
            }
            other => panic!("expected a summary, got {:?}", kind(other.as_ref())),
        }
    }
}
