//! The load loop: workers claim requests, optionally paced to a target rate, until the count is
//! sent or the duration is over.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{sync::Mutex, time::Interval};
use tokio_util::sync::CancellationToken;

use super::{
    events::Workload,
    summary::{Record, Summary},
};
use crate::{Error, Result};

/// One load run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `POST` target, e.g. `http://127.0.0.1:8080/v1/events`.
    pub endpoint: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Target requests per second (`None`: as fast as the concurrency allows).
    pub rate: Option<f64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Events per request; above 1 every body is an array.
    pub batch: usize,
    /// Which events.
    pub workload: Workload,
    /// Bearer token.
    pub token: Option<eventflow_contract::secret::Secret>,
    /// Keep the ids of accepted events.
    pub keep_ids: bool,
    /// Print progress on stderr: on a terminal one line rewritten every second, else (a log
    /// file) a line every [`LOGGED_PROGRESS_EVERY`].
    pub progress: bool,
    /// Bodies sent in turn instead of one generated per request (each of `batch` events, or
    /// one event when `batch` is 1): a load generator that spends less CPU than the server it
    /// measures, when both share a machine. Events without ids, so each send is new events.
    pub prepared: Option<Arc<[bytes::Bytes]>>,
}

/// `count` bodies of `plan`'s workload and batch, for [`Plan::prepared`].
pub fn prepare(plan: &Plan, count: usize) -> Arc<[bytes::Bytes]> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let body = plan
                .workload
                .body(&mut rng, plan.batch.max(1), plan.batch > 1);
            bytes::Bytes::from(body.to_string())
        })
        .collect()
}

/// State shared by the workers.
struct Shared {
    claimed: AtomicU64,
    deadline: Option<Instant>,
    pacer: Option<Mutex<Interval>>,
    done: AtomicU64,
    accepted: AtomicU64,
    failed: AtomicU64,
}

impl Shared {
    /// Claims the next request: how many events it carries, or `None` when the run is over.
    fn claim(&self, plan: &Plan) -> Option<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let batch = plan.batch.max(1) as u64;
        let index = self.claimed.fetch_add(1, Ordering::Relaxed);
        let Some(count) = plan.count else {
            return usize::try_from(batch).ok();
        };
        let remaining = count.checked_sub(index * batch).filter(|r| *r > 0)?;
        usize::try_from(remaining.min(batch)).ok()
    }
}

/// Runs `plan` and summarizes it; the accepted ids when `plan.keep_ids`.
pub async fn drive(plan: Plan) -> Result<(Summary, Vec<String>)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Config(format!("http client: {e}")))?;
    let shared = Arc::new(Shared {
        claimed: AtomicU64::new(0),
        deadline: plan.duration.map(|d| Instant::now() + d),
        pacer: plan.rate.map(pacer),
        done: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let started = Instant::now();
    let stop_progress = CancellationToken::new();
    let progress = plan
        .progress
        .then(|| tokio::spawn(progress(shared.clone(), started, stop_progress.clone())));
    let workers: Vec<_> = (0..plan.concurrency.max(1))
        .map(|_| tokio::spawn(worker(client.clone(), plan.clone(), shared.clone())))
        .collect();
    let mut record = Record::default();
    for worker in workers {
        record.merge(
            worker
                .await
                .map_err(|e| Error::Config(format!("worker failed: {e}")))?,
        );
    }
    let elapsed = started.elapsed();
    stop_progress.cancel();
    if let Some(progress) = progress {
        drop(progress.await);
    }
    let ids = std::mem::take(&mut record.accepted_ids);
    Ok((Summary::new(&mut record, elapsed), ids))
}

fn pacer(rate: f64) -> Mutex<Interval> {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Mutex::new(interval)
}

async fn worker(client: reqwest::Client, plan: Plan, shared: Arc<Shared>) -> Record {
    let mut record = Record::default();
    while let Some(events) = shared.claim(&plan) {
        if let Some(pacer) = &shared.pacer {
            pacer.lock().await.tick().await;
        }
        let body = match &plan.prepared {
            Some(bodies) if events == plan.batch.max(1) && !bodies.is_empty() => {
                let turn = usize::try_from(shared.done.load(Ordering::Relaxed)).unwrap_or(0);
                bodies[turn % bodies.len()].clone()
            }
            _ => {
                let mut rng = rand::rng();
                bytes::Bytes::from(
                    plan.workload
                        .body(&mut rng, events, plan.batch > 1)
                        .to_string(),
                )
            }
        };
        let started = Instant::now();
        let outcome = send(&client, &plan, body).await;
        record
            .latencies_us
            .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        record.events_sent += events as u64;
        shared.done.fetch_add(1, Ordering::Relaxed);
        let status = outcome.map_or_else(
            |_| "error".to_owned(),
            |(status, ids)| {
                if status == 202 {
                    record.events_accepted += events as u64;
                    shared.accepted.fetch_add(events as u64, Ordering::Relaxed);
                    record.accepted_ids.extend(ids);
                }
                status.to_string()
            },
        );
        if status != "202" {
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        *record.statuses.entry(status).or_default() += 1;
    }
    record
}

/// One request: its status and, when asked and accepted, the event ids.
async fn send(
    client: &reqwest::Client,
    plan: &Plan,
    body: bytes::Bytes,
) -> reqwest::Result<(u16, Vec<String>)> {
    let mut request = client
        .post(&plan.endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = &plan.token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let ids = if plan.keep_ids && status == 202 {
        accepted_ids(&bytes)
    } else {
        Vec::new()
    };
    Ok((status, ids))
}

fn accepted_ids(body: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    value["accepted"]
        .as_array()
        .map(|accepted| {
            accepted
                .iter()
                .filter_map(|a| a["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// How often a progress line goes to stderr when it is not a terminal (a log file, a pipe).
pub const LOGGED_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Prints progress until `stop`: on a terminal one line rewritten in place every second (`\r`),
/// otherwise a newline-terminated line every [`LOGGED_PROGRESS_EVERY`], so a log file gets no
/// carriage returns.
async fn progress(shared: Arc<Shared>, started: Instant, stop: CancellationToken) {
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal {
        Duration::from_secs(1)
    } else {
        LOGGED_PROGRESS_EVERY
    };
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let seconds = started.elapsed().as_secs_f64();
        let done = shared.done.load(Ordering::Relaxed);
        let accepted = shared.accepted.load(Ordering::Relaxed);
        let failed = shared.failed.load(Ordering::Relaxed);
        let line = format!(
            "[{seconds:6.1}s] requests {done} ({:.0}/s)  events accepted {accepted} ({:.0}/s)  failed {failed}",
            done as f64 / seconds,
            accepted as f64 / seconds
        );
        if terminal {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    }
    if terminal {
        eprintln!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(count: Option<u64>, batch: usize) -> Plan {
        Plan {
            endpoint: String::new(),
            concurrency: 1,
            rate: None,
            duration: None,
            count,
            batch,
            workload: Workload::UserActivity,
            token: None,
            keep_ids: false,
            progress: false,
            prepared: None,
        }
    }

    fn shared() -> Shared {
        Shared {
            claimed: AtomicU64::new(0),
            deadline: None,
            pacer: None,
            done: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_count_is_split_into_batches_with_a_smaller_last_one() {
        let plan = plan(Some(25), 10);
        let shared = shared();
        let claims: Vec<usize> = std::iter::from_fn(|| shared.claim(&plan)).collect();
        assert_eq!(claims, [10, 10, 5]);
    }

    #[test]
    fn accepted_ids_are_read_from_a_202_body() {
        let body = br#"{"accepted":[{"id":"a","partition":0,"offset":1},{"id":"b","partition":1,"offset":4}]}"#;
        assert_eq!(accepted_ids(body), ["a", "b"]);
        assert!(accepted_ids(b"not json").is_empty());
    }
}
