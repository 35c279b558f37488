//! The consumer processes of a local run, scaled up and down like the Deployment's replicas:
//! new ones start with the next index, scale-down stops the newest first with SIGTERM (so each
//! flushes its batch and commits before it leaves the group).

use std::time::Duration;

use super::supervisor::{ChildSpec, Supervised};

/// How long a stopped consumer may take to flush and commit.
pub const CONSUMER_GRACE: Duration = Duration::from_secs(20);

/// Running consumers and how to start one more.
#[derive(Debug)]
pub struct ConsumerPool<F> {
    running: Vec<Supervised>,
    spec_for: F,
}

impl<F: Fn(usize) -> ChildSpec> ConsumerPool<F> {
    /// An empty pool; `spec_for(i)` describes consumer `i`.
    pub fn new(spec_for: F) -> Self {
        Self {
            running: Vec::new(),
            spec_for,
        }
    }

    /// Consumers running now.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// PIDs of the consumer processes running now; one between restarts has none.
    pub fn pids(&self) -> Vec<u32> {
        self.running.iter().filter_map(Supervised::pid).collect()
    }

    /// Admin ports (`/metrics`) of the running consumers.
    pub fn admin_ports(&self) -> Vec<u16> {
        self.running
            .iter()
            .filter_map(Supervised::admin_port)
            .collect()
    }

    /// Starts or stops consumers until `replicas` run.
    pub async fn scale_to(&mut self, replicas: usize) {
        while self.running.len() < replicas {
            let spec = (self.spec_for)(self.running.len());
            self.running.push(Supervised::start(spec, CONSUMER_GRACE));
        }
        let surplus = self.running.split_off(replicas.min(self.running.len()));
        futures::future::join_all(surplus.into_iter().map(Supervised::stop)).await;
    }
}
