#!/usr/bin/env bash
# `make bench`: every benchmark against freshly started dev services and a dev cluster. Each prints
# its figures and the ratio to a ceiling measured in the same run (raw rdkafka produce, raw
# insert_many, the raw apply of the operator's objects to the API server).
#
# Arguments go to the benchmark binaries. EVENTFLOW_BENCHES picks benchmarks with cargo's own
# selection (default --benches: all), e.g. EVENTFLOW_BENCHES="--bench scale" make bench; the scale
# benchmark's size is EVENTFLOW_SCALE_PIPELINES (default 1000; see operator/benches/scale/main.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/bench-$$
export EVENTFLOW_CLUSTER_DIR=$EVENTFLOW_CACHE/run/bench-cluster-$$
trap 'scripts/dev-cluster.sh stop; scripts/dev-services.sh stop; rm -rf "$EVENTFLOW_RUN_DIR" "$EVENTFLOW_CLUSTER_DIR"' EXIT
cargo build --release --locked --bins
eval "$(scripts/dev-services.sh start)"
# The audit log is how the scale benchmark counts the operator's API requests.
eval "$(EVENTFLOW_CLUSTER_AUDIT=1 scripts/dev-cluster.sh start)"
export EVENTFLOW_BIN_DIR=$CARGO_TARGET_DIR/release
# The operator of the scale benchmark logs at info: a debug line per reconcile of a thousand
# pipelines would be part of what it measures.
export EVENTFLOW_OPERATOR_RUST_LOG=${EVENTFLOW_OPERATOR_RUST_LOG:-info}
# shellcheck disable=SC2086 # EVENTFLOW_BENCHES is a list of cargo arguments
cargo bench --workspace --locked ${EVENTFLOW_BENCHES:---benches} -- "$@"
