#!/usr/bin/env bash
# The one test command (`make test`): formatting, lints, the container images, then every test
# against freshly started dev services and two fresh dev clusters (real Kubernetes control planes:
# one with kwok's fake node, one with a real node running the images), which are stopped again
# however the tests end.
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
binaries=$(mktemp)
cargo test --workspace --locked --no-run 2>&1 | tee "$binaries"
# The real-node test's binary, which runs beside the others (below).
REAL_NODE_TEST=$(sed -n 's|^ *Executable tests/real_node/main.rs (\(.*\))$|\1|p' "$binaries")
rm -f "$binaries"
[ -x "$REAL_NODE_TEST" ] || { echo "the real-node test binary was not found in cargo's output"; exit 1; }

step "container images: make images (release build; podman and a Debian base image when Docker is absent)"
export TAG=${TAG:-dev}
scripts/images.sh
# operator/tests/images.rs runs them under podman.
export EVENTFLOW_IMAGE_TAG=$TAG

# Private run directories: a `make test` never touches the services or cluster of a `make dev-up`
# or `make cluster-up`, and stops exactly what it started, also when the tests fail.
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/test-$$
export EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_CACHE/run/test-$$-cluster
export EVENTFLOW_REAL_NODE_DIR=$EVENTFLOW_CACHE/run/test-$$-real-node
HOST_BEFORE=$EVENTFLOW_CACHE/run/test-$$-host-before
real_node() { EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_REAL_NODE_DIR EVENTFLOW_CLUSTER_NODE=real scripts/dev-cluster.sh "$@"; }
stop_all() {
  status=$?
  step "stopping the dev clusters and the dev services"
  real_node stop || true
  scripts/dev-cluster.sh stop || true
  scripts/dev-services.sh stop || true
  # The real node's stop is exact: the host is as it was before the node started.
  if [ -f "$HOST_BEFORE" ]; then
    if scripts/dev-cluster.sh host-state | diff "$HOST_BEFORE" -; then
      echo "host state after stop: as before the real node started"
    else
      echo "FAILED: the host differs from before the real node started (< before, > after; above)"
      status=1
    fi
  fi
  # The test failures again, last, where a shortened log still shows them: each panic, and each
  # test binary that ended without its summary (a crash: cargo's line names the signal).
  local failures=""
  if [ "$status" -ne 0 ] && [ -f "$EVENTFLOW_RUN_DIR/cargo-test.log" ]; then
    failures=$(grep -E -A4 "panicked at|process didn't exit successfully" "$EVENTFLOW_RUN_DIR/cargo-test.log" | cut -c1-400 | head -120 || true)
  fi
  rm -rf "$EVENTFLOW_RUN_DIR" "$HOST_BEFORE"
  # The cluster's logs (apiserver, controller-manager, kwok) stay for a failed run.
  if [ "$status" -eq 0 ]; then
    rm -rf "$EVENTFLOW_CLUSTER_DIR" "$EVENTFLOW_REAL_NODE_DIR"
  else
    echo "cluster logs kept in $EVENTFLOW_CLUSTER_DIR and $EVENTFLOW_REAL_NODE_DIR"
  fi
  [ -z "$failures" ] || printf '\nfailures (from the cargo test output above):\n%s\n' "$failures"
  exit "$status"
}
trap stop_all EXIT

step "starting the dev services (Apache Kafka, FerretDB)"
eval "$(scripts/dev-services.sh start)"

step "starting the dev cluster (kube-apiserver, etcd, controller-manager, scheduler, kwok; kubectl, helm)"
# Exports KUBECONFIG (admin) and PATH (kubectl, helm) for operator/tests/cluster.
eval "$(scripts/dev-cluster.sh start)"

step "starting the real-node cluster (control plane; kubelet, containerd, kube-proxy, CoreDNS) and its stack (images; Kafka and FerretDB pods)"
# operator/tests/real_node reads EVENTFLOW_REAL_NODE_DIR; its admin kubeconfig is in there.
real_node reclaim
scripts/dev-cluster.sh host-state >"$HOST_BEFORE"
real_node start >/dev/null
real_node stack

step "cargo test --workspace, the real-node first hour beside it"
log=$EVENTFLOW_RUN_DIR/cargo-test.log  # stop_all reads it too
# The first-hour test mostly waits for pods, on a cluster of its own (control plane, Kafka and
# MongoDB pods) that no other test touches, so it runs beside the rest instead of after it.
real_node_log=$EVENTFLOW_RUN_DIR/real-node-test.log
(cd operator && exec "$REAL_NODE_TEST" "$@") >"$real_node_log" 2>&1 &
real_node_test=$!
set +e
cargo test --workspace --locked --no-fail-fast -- --skip a_users_first_hour_on_a_real_node "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wait "$real_node_test"
real_node_status=$?
set -e
printf '\n==> the real-node first hour (%s)\n' "$REAL_NODE_TEST" | tee -a "$log"
tee -a "$log" <"$real_node_log"
[ "$real_node_status" -eq 0 ] || status=$real_node_status
# One closing line over every test binary (cargo prints one per binary, the last often doc-tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
