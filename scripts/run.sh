#!/usr/bin/env bash
# `make run`: the local runtime on examples/quickstart.yaml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
cargo build --release --locked --bins
exec "$CARGO_TARGET_DIR/release/eventflow-operator" local -f examples/quickstart.yaml "$@"
