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
