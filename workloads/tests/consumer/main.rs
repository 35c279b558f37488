//! `eventflow consumer` against the real dev services, as a real process: nothing lost, nothing
//! duplicated, through poison, crashes and a rebalance (server faults: tests/faults).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

mod crash;
mod dead_letters;
mod group;
mod pipeline;
#[path = "../producer_support/mod.rs"]
pub mod producer_support;
mod replay;
mod retention;
mod secured;
mod support;
