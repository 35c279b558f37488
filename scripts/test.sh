#!/usr/bin/env bash
# The one test command (`make test`): formatting, lints, then every test against freshly started
# dev services, which are stopped again however the tests end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the test binaries"
cargo test --workspace --locked --no-run

step "starting the dev services (Apache Kafka, FerretDB)"
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/test-$$
trap 'scripts/dev-services.sh stop; rm -rf "$EVENTFLOW_RUN_DIR"' EXIT
eval "$(scripts/dev-services.sh start)"

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
