//! End-to-end tests on a real Kubernetes control plane (kube-apiserver with RBAC, etcd,
//! controller-manager, scheduler, kwok) and the real dev Kafka: the CRD, the chart, and the
//! operator running as a local process with the chart's service account token, so the API server
//! enforces the chart's RBAC on every call. `scripts/test.sh` starts the cluster and exports its
//! `KUBECONFIG` and `PATH`; without them every test fails.
//!
//! kwok plays the kubelet: pods become Running/Ready but nothing runs in them, so the consumer
//! group's lag is made with the tests' own Kafka clients.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

mod chart;
#[path = "../shared/checks.rs"]
mod checks;
mod columns;
mod crd;
mod deletion;
mod drift;
mod kafka;
mod leader;
mod observability;
mod pipelines;
mod quiet;
mod rbac;
mod restarts;
mod rollout;
mod scaling;
mod schemas;
mod secrets;
mod support;
mod tenancy;
mod warnings;
