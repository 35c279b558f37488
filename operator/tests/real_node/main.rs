//! A user's first hour on a real node: the chart's operator and every pipeline's pods run as
//! containers (kubelet, containerd, runc) from the images `make images` built, with Kafka and the
//! MongoDB-wire server as pods (`deploy/real-node`), real readiness probes, Services through
//! kube-proxy and names through cluster DNS. `scripts/test.sh` starts that cluster and its stack;
//! without it every test fails.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

#[path = "../shared/checks.rs"]
mod checks;
mod disruptions;
mod first_hour;
mod lifecycle;
mod support;
