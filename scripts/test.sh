#!/usr/bin/env bash
# The one test command (`make test`): formatting, lints, then every test against freshly started
# dev services and a fresh dev cluster (a real Kubernetes control plane with kwok), which are
# stopped again however the tests end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --all --check"
cargo fmt --all --check

step "build prerequisites: OpenSSL headers for librdkafka (rdkafka's ssl feature: SASL_SSL, SCRAM)"
pkg-config --exists openssl || { echo "OpenSSL development files not found by pkg-config (Debian: apt-get install libssl-dev pkg-config)"; exit 1; }
pkg-config --modversion openssl

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "alerting rules: promtool check rules + promtool test rules (promtool built pinned once into the cache; a cold build is long)"
scripts/promtool.sh test

step "installing schemathesis (pinned, from PyPI; workloads/tests/producer_contract.rs runs it)"
scripts/schemathesis.sh >/dev/null

step "building the test binaries"
cargo test --workspace --locked --no-run

# Private run directories: a `make test` never touches the services or cluster of a `make dev-up`
# or `make cluster-up`, and stops exactly what it started, also when the tests fail.
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/test-$$
export EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_CACHE/run/test-$$-cluster
stop_all() {
  status=$?
  step "stopping the dev cluster and the dev services"
  scripts/dev-cluster.sh stop || true
  scripts/dev-services.sh stop || true
  rm -rf "$EVENTFLOW_RUN_DIR"
  # The cluster's logs (apiserver, controller-manager, kwok) stay for a failed run.
  if [ "$status" -eq 0 ]; then rm -rf "$EVENTFLOW_CLUSTER_DIR"; else echo "cluster logs kept in $EVENTFLOW_CLUSTER_DIR"; fi
}
trap stop_all EXIT

step "starting the dev services (Apache Kafka, FerretDB)"
eval "$(scripts/dev-services.sh start)"

step "starting the dev cluster (kube-apiserver, etcd, controller-manager, scheduler, kwok; kubectl, helm)"
# Exports KUBECONFIG (admin) and PATH (kubectl, helm) for operator/tests/cluster.
eval "$(scripts/dev-cluster.sh start)"

step "cargo test --workspace"
log=$EVENTFLOW_RUN_DIR/cargo-test.log
set +e
cargo test --workspace --locked --no-fail-fast -- "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary, the last often doc-tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
