#!/usr/bin/env bash
# `make bench`: every benchmark against freshly started dev services. Each prints its figures and
# the ratio to a ceiling measured in the same run (raw rdkafka produce, raw insert_many).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/bench-$$
trap 'scripts/dev-services.sh stop; rm -rf "$EVENTFLOW_RUN_DIR"' EXIT
cargo build --release --locked --bins
eval "$(scripts/dev-services.sh start)"
export EVENTFLOW_BIN_DIR=$CARGO_TARGET_DIR/release
cargo bench --workspace --locked --benches -- "$@"
