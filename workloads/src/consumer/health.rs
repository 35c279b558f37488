//! Readiness of the consumer: in the group (assigned, even to no partitions), MongoDB answering
//! pings, and the last batch write not failing.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use mongodb::{Database, bson::doc};
use tokio_util::sync::CancellationToken;

use eventflow_contract::admin::Readiness;

/// What can keep the consumer from being ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Joined the consumer group and received an assignment.
    Group,
    /// MongoDB answers `ping`.
    MongoPing,
    /// The last batch write succeeded.
    Write,
}

/// Readiness from several checks; the first failing one is the reason `/readyz` gives.
#[derive(Debug, Clone)]
pub struct Health {
    readiness: Readiness,
    failing: Arc<Mutex<[Option<String>; 3]>>,
}

impl Health {
    /// Starts not ready: not yet in the group, MongoDB not yet pinged.
    pub fn new(readiness: Readiness) -> Self {
        let failing = [
            Some("waiting for a partition assignment".into()),
            Some("mongodb not pinged yet".into()),
            None,
        ];
        publish(&readiness, &failing);
        Self {
            readiness,
            failing: Arc::new(Mutex::new(failing)),
        }
    }

    /// Marks a check passing.
    pub fn pass(&self, check: Check) {
        self.set(check, None);
    }

    /// Marks a check failing with a reason.
    pub fn fail(&self, check: Check, reason: impl Into<String>) {
        self.set(check, Some(reason.into()));
    }

    /// Whether a check passes now.
    pub fn passing(&self, check: Check) -> bool {
        self.lock()[index(check)].is_none()
    }

    fn set(&self, check: Check, value: Option<String>) {
        let mut failing = self.lock();
        failing[index(check)] = value;
        publish(&self.readiness, &*failing);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [Option<String>; 3]> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn index(check: Check) -> usize {
    match check {
        Check::Group => 0,
        Check::MongoPing => 1,
        Check::Write => 2,
    }
}

/// Readiness from the checks: ready when none fails, else the first failing one's reason.
fn publish(readiness: &Readiness, failing: &[Option<String>]) {
    match failing.iter().flatten().next() {
        None => readiness.set_ready(),
        Some(reason) => readiness.set_not_ready(reason.clone()),
    }
}

/// Pings MongoDB every `interval` until `shutdown`, recording the result.
pub async fn ping_mongodb(
    database: Database,
    health: Health,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let ping = database.run_command(doc! { "ping": 1 });
        match tokio::time::timeout(interval.max(Duration::from_secs(1)), ping).await {
            Ok(Ok(_)) => health.pass(Check::MongoPing),
            Ok(Err(error)) => health.fail(Check::MongoPing, format!("mongodb ping: {error}")),
            Err(_) => health.fail(Check::MongoPing, "mongodb ping timed out"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes_and_the_first_failure_is_reported() {
        let readiness = Readiness::new("starting");
        let health = Health::new(readiness.clone());
        assert_eq!(
            readiness.reason().as_deref(),
            Some("waiting for a partition assignment")
        );
        health.pass(Check::Group);
        health.pass(Check::MongoPing);
        assert!(readiness.is_ready());
        health.fail(Check::Write, "insert_many failed");
        assert_eq!(readiness.reason().as_deref(), Some("insert_many failed"));
        assert!(health.passing(Check::MongoPing) && !health.passing(Check::Write));
        health.pass(Check::Write);
        assert!(readiness.is_ready());
    }
}
