//! Where the CPU of a round went: the whole machine's, the broker's, the producer's and this
//! process's (the load generator of an ingest round, the raw client of a ceiling). Ceilings and
//! ingest rounds share the same cores; this shows how much of them each one used.

use std::time::Instant;

use eventflow_workloads::testkit::{Service, cpu_seconds, machine_cpu, service_cpu};

/// CPU seconds so far of each part, taken before a round and compared after it.
#[derive(Debug, Clone, Copy)]
pub struct CpuAccount {
    at: Instant,
    /// Busy seconds of all cores, and how many there are.
    machine: Option<(f64, usize)>,
    broker: Option<f64>,
    /// The producer process, when it is one of its own.
    producer: Option<(u32, f64)>,
    this: Option<f64>,
}

impl CpuAccount {
    /// The counters now; `producer` is the producer's PID when it runs as its own process.
    pub fn now(producer: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            machine: machine_cpu(),
            broker: service_cpu(Service::Kafka),
            producer: producer.and_then(|pid| Some((pid, cpu_seconds(pid)?))),
            this: cpu_seconds(std::process::id()),
        }
    }

    /// One line: how busy the machine's cores were since `self`, and each part's CPU per
    /// 1,000 of the `events` the round sent.
    pub fn since(&self, events: u64) -> String {
        let after = Self::now(self.producer.map(|(pid, _)| pid));
        let wall = self.at.elapsed().as_secs_f64();
        let machine = after.machine.zip(self.machine).map_or_else(
            || "machine not measured".to_owned(),
            |((after, cores), (before, _))| {
                format!(
                    "machine {:.0}% busy ({cores} cores)",
                    100.0 * (after - before) / (wall * cores as f64)
                )
            },
        );
        let parts = [
            ("broker", self.broker.zip(after.broker)),
            (
                "producer",
                self.producer
                    .zip(after.producer)
                    .map(|((_, b), (_, a))| (b, a)),
            ),
            ("this process", self.this.zip(after.this)),
        ];
        let parts: Vec<String> = parts
            .into_iter()
            .filter_map(|(name, seconds)| {
                let (before, after) = seconds?;
                Some(format!(
                    "{name} {:.1} ms",
                    1e6 * (after - before) / events.max(1) as f64
                ))
            })
            .collect();
        format!("CPU: {machine}; per 1k events: {}", parts.join(", "))
    }
}
