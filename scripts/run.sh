#!/usr/bin/env bash
# `make run`: the local runtime on examples/quickstart.yaml. With no EVENTFLOW_KAFKA_BOOTSTRAP and
# EVENTFLOW_MONGODB_URI in the environment it starts (and afterwards stops) the dev services.
# Extra arguments go to `eventflow-operator local` (e.g. `make run ARGS=--json`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
# Cargo's progress shows on the first build (minutes); a warm build prints one line.
cargo build --locked --bins
export EVENTFLOW_DEV_SERVICES_SCRIPT=$PWD/scripts/dev-services.sh
exec "$CARGO_TARGET_DIR/debug/eventflow-operator" local -f examples/quickstart.yaml "$@"
