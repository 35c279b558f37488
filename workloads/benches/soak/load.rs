//! The soak's open-loop load: requests are sent on a schedule (`rate` per second) whatever the
//! answers, one in [`INVALID_EVERY`] invalid (a 422 event, malformed JSON, a wrong content
//! type in turn), each in its own task; at most [`CLIENT_OUTSTANDING`] at once on this side
//! (a request that finds none free is counted as not sent).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use eventflow_workloads::{
    loadgen::{Workload, summary::Latency},
    testkit,
};
use serde_json::Value;
use tokio::sync::Semaphore;

/// One request in this many is invalid.
pub const INVALID_EVERY: u64 = 4;
/// Most requests outstanding on the client side.
const CLIENT_OUTSTANDING: u32 = 2048;
/// How often the schedule is caught up.
const TICK: Duration = Duration::from_millis(10);
/// How often the producer's RSS is sampled and a progress line printed.
const SAMPLE_EVERY: Duration = Duration::from_secs(30);

/// What the soak saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Answers by status (`error` for a failed request).
    pub statuses: BTreeMap<String, u64>,
    /// Ids the producer accepted (202), once per acceptance.
    pub accepted_ids: Vec<String>,
    /// Latency of each accepted request, µs.
    accepted_us: Vec<u64>,
    /// Requests the schedule called for but the client had no room for.
    not_sent: u64,
    /// Requests sent.
    sent: u64,
    /// (seconds into the soak, producer RSS in KiB).
    rss: Vec<(u64, u64)>,
}

impl Outcome {
    /// Prints the figures.
    pub fn report(&self, duration: Duration) {
        let mut latencies = self.accepted_us.clone();
        let latency = Latency::of(&mut latencies);
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        println!(
            "offered {:.0} requests/s for {} s ({} sent, {} not sent: client full); answers {}",
            (self.sent + self.not_sent) as f64 / duration.as_secs_f64(),
            duration.as_secs(),
            self.sent,
            self.not_sent,
            statuses.join(", ")
        );
        println!(
            "accepted (202): {} requests, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            self.accepted_us.len(),
            self.accepted_us.len() as f64 / duration.as_secs_f64(),
            latency.p50_ms,
            latency.p99_ms,
            latency.max_ms
        );
        // The first sample is before the overload; the soak's start is the first sample under
        // it (connections opened, buffers grown), so growth from there is what a leak shows.
        let sample = |index: usize| self.rss.get(index).map_or(0, |s| s.1);
        let (before, start) = (sample(0), sample(1));
        let end = self.rss.last().map_or(0, |s| s.1);
        let peak = self.rss.iter().map(|s| s.1).max().unwrap_or(0);
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "producer RSS: {:.1} MiB before the overload; start (after {} s of it) {:.1} MiB, end {:.1} MiB ({:+.1}%), highest sample {:.1} MiB ({} samples): flat (end ≤ 1.25 × start) {}",
            mib(before),
            SAMPLE_EVERY.as_secs(),
            mib(start),
            mib(end),
            100.0 * (end as f64 / start.max(1) as f64 - 1.0),
            mib(peak),
            self.rss.len(),
            super::met_or_not(end * 4 <= start * 5)
        );
    }
}

/// Sends `rate` requests per second for `duration`, sampling the RSS of process `pid`.
pub async fn overload(url: &str, rate: f64, duration: Duration, pid: &str) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENT_OUTSTANDING as usize)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let endpoint = format!("{url}/v1/events");
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let room = Arc::new(Semaphore::new(CLIENT_OUTSTANDING as usize));
    let sample = |at: Duration| {
        let rss = testkit::rss_kib(pid).expect("the producer's VmRSS");
        outcome
            .lock()
            .expect("outcome")
            .rss
            .push((at.as_secs(), rss));
        rss
    };
    sample(Duration::ZERO);
    let started = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    let (mut sent, mut next_sample) = (0u64, SAMPLE_EVERY);
    while started.elapsed() < duration {
        tick.tick().await;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a positive count of requests"
        )]
        let due = (rate * started.elapsed().as_secs_f64()) as u64;
        while sent < due {
            sent += 1;
            let Ok(permit) = room.clone().try_acquire_owned() else {
                outcome.lock().expect("outcome").not_sent += 1;
                continue;
            };
            let (client, endpoint, outcome) = (client.clone(), endpoint.clone(), outcome.clone());
            tokio::spawn(async move {
                let answer = send(&client, &endpoint, sent).await;
                outcome.lock().expect("outcome").record(answer);
                drop(permit);
            });
        }
        if started.elapsed() >= next_sample {
            let rss = sample(next_sample);
            progress(&outcome, next_sample, rss);
            next_sample += SAMPLE_EVERY;
        }
    }
    let _all = room
        .acquire_many(CLIENT_OUTSTANDING)
        .await
        .expect("every request answered");
    sample(started.elapsed());
    let mut outcome = std::mem::take(&mut *outcome.lock().expect("outcome"));
    outcome.sent = sent - outcome.not_sent;
    outcome
}

fn progress(outcome: &Mutex<Outcome>, at: Duration, rss: u64) {
    let outcome = outcome.lock().expect("outcome");
    println!(
        "  {} s: {} accepted, answers {:?}, producer RSS {:.1} MiB",
        at.as_secs(),
        outcome.accepted_ids.len(),
        outcome.statuses,
        rss as f64 / 1024.0
    );
}

/// One answer: its status (or `error`), the accepted id and the latency.
struct Answer {
    status: String,
    accepted: Option<(String, u64)>,
}

impl Outcome {
    fn record(&mut self, answer: Answer) {
        *self.statuses.entry(answer.status).or_default() += 1;
        if let Some((id, micros)) = answer.accepted {
            self.accepted_ids.push(id);
            self.accepted_us.push(micros);
        }
    }
}

/// Sends request number `n`: valid, or one of the invalid kinds in turn.
async fn send(client: &reqwest::Client, endpoint: &str, n: u64) -> Answer {
    let (content_type, body) = match (n % INVALID_EVERY, n / INVALID_EVERY % 3) {
        (0, 0) => (
            "application/json",
            r#"{"subject":"no type","data":{}}"#.to_owned(),
        ),
        (0, 1) => (
            "application/json",
            r#"{"type": "LOGIN", "data": "#.to_owned(),
        ),
        (0, _) => ("text/plain", "LOGIN user-1".to_owned()),
        _ => {
            let event = Workload::UserActivity.event(&mut rand::rng());
            ("application/json", event.to_string())
        }
    };
    let started = Instant::now();
    let response = client
        .post(endpoint)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await;
    let Ok(response) = response else {
        return Answer {
            status: "error".to_owned(),
            accepted: None,
        };
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let id = body["accepted"][0]["id"].as_str().map(str::to_owned);
    Answer {
        status: status.as_str().to_owned(),
        accepted: id.filter(|_| status == 202).map(|id| (id, micros)),
    }
}
