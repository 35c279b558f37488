#!/usr/bin/env bash
# `make bench`: every benchmark against freshly started dev services and a dev cluster. Each prints
# its figures and the ratio to a ceiling measured in the same run (raw rdkafka produce, raw
# insert_many, the raw apply of the operator's objects to the API server).
#
# Arguments go to the benchmark binaries. EVENTFLOW_BENCHES picks benchmarks with cargo's own
# selection (default: all), e.g. EVENTFLOW_BENCHES="--bench scale" make bench; the scale
# benchmark's size is EVENTFLOW_SCALE_PIPELINES (default 1000; see operator/benches/scale/main.rs).
#
# Only the operator's benchmark (scale) uses the dev cluster, so it is started only for that one:
# an idle control plane still takes CPU and wakes up on the cores the workloads' benchmarks
# measure. Without EVENTFLOW_BENCHES the workloads' benchmarks run first (with the real-node
# cluster that the ingest benchmark's in-cluster pipeline needs), then the dev cluster starts for
# the operator's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/bench-$$
export EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_CACHE/run/bench-cluster-$$
export EVENTFLOW_REAL_NODE_DIR=$EVENTFLOW_CACHE/run/bench-real-node-$$
real_node() { EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_REAL_NODE_DIR EVENTFLOW_CLUSTER_NODE=real scripts/dev-cluster.sh "$@"; }
trap 'real_node stop; scripts/dev-cluster.sh stop; scripts/dev-services.sh stop; rm -rf "$EVENTFLOW_RUN_DIR" "$EVENTFLOW_CLUSTER_DIR" "$EVENTFLOW_REAL_NODE_DIR"' EXIT
cargo build --release --locked --bins
eval "$(scripts/dev-services.sh start)"
export EVENTFLOW_BIN_DIR=$CARGO_TARGET_DIR/release
# The operator of the scale benchmark logs at info: a debug line per reconcile of a thousand
# pipelines would be part of what it measures.
export EVENTFLOW_OPERATOR_RUST_LOG=${EVENTFLOW_OPERATOR_RUST_LOG:-info}

# The ingest benchmark runs its whole pipeline twice: with the local runtime and in a real-node
# cluster (one per host: not while a `make test` runs), on images of this release build.
start_real_node() {
  export TAG=${TAG:-bench}
  export EVENTFLOW_IMAGE_TAG=$TAG
  scripts/images.sh
  local cluster_env
  cluster_env=$(real_node start)
  # Only its PATH (the pinned kubectl and helm): KUBECONFIG stays the scale benchmark's cluster.
  eval "$(grep '^export PATH=' <<<"$cluster_env")"
  real_node stack
}

start_cluster() {
  # The audit log is how the scale benchmark counts the operator's API requests.
  eval "$(EVENTFLOW_CLUSTER_AUDIT=1 scripts/dev-cluster.sh start)"
}

if [[ -n ${EVENTFLOW_BENCHES:-} ]]; then
  case " $EVENTFLOW_BENCHES " in
    *scale* | *" --benches "* | *eventflow-operator*) start_cluster ;;
  esac
  case " $EVENTFLOW_BENCHES " in
    *ingest* | *" --benches "* | *eventflow-workloads*) start_real_node ;;
  esac
  # shellcheck disable=SC2086 # EVENTFLOW_BENCHES is a list of cargo arguments
  cargo bench --workspace --locked $EVENTFLOW_BENCHES -- "$@"
else
  start_real_node
  cargo bench -p eventflow-workloads --locked --benches -- "$@"
  real_node stop
  start_cluster
  cargo bench -p eventflow-operator --locked --benches -- "$@"
fi
