//! Static checks of the packaging: container and kind manifests, the Helm chart, its RBAC and
//! the example pipelines. Nothing here needs Docker, kind, Helm or a cluster.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

mod chart;
mod configuration;
mod examples;
mod manifests;
mod observability;
mod promql;
mod repo;
mod schema;
