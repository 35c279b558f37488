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

step "starting the dev services (Kafka protocol: tansu, MongoDB wire: nx-27017)"
export EVENTFLOW_RUN_DIR=$EVENTFLOW_CACHE/run/test-$$
trap 'scripts/dev-services.sh stop; rm -rf "$EVENTFLOW_RUN_DIR"' EXIT
eval "$(scripts/dev-services.sh start)"
# Integration tests fail (never skip) when this is set and a service does not answer.
export EVENTFLOW_REQUIRE_DEV_SERVICES=1

step "cargo test --workspace"
cargo test --workspace --locked -- "$@"
