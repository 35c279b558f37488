//! `eventflow consumer` against the real dev services, as a real process: nothing lost, nothing
//! duplicated, through poison, crashes, a MongoDB outage and a rebalance.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

mod crash;
mod dead_letters;
mod group;
mod outage;
mod pipeline;
mod support;
