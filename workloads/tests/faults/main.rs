//! Servers taken away under running processes, on private dev services (each test its own
//! Kafka and MongoDB, killed, paused and restarted on the same port with their data), asserted
//! with event ids: every event answered 202 or produced is in MongoDB once, nothing is missing,
//! nothing foreign was added.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

mod consume;
mod ingest;
mod outage;
mod quiet;
#[path = "../consumer/support.rs"]
#[expect(
    dead_code,
    reason = "shared with the consumer tests; the fault tests use a part of it"
)]
mod support;

/// Waits until `readyz` (a process's `/readyz`) answers 200, failing after 60 s.
async fn wait_until_ready(readyz: &str) {
    let start = std::time::Instant::now();
    while reqwest::get(readyz)
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{readyz} not ready within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
