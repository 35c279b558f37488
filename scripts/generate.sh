#!/usr/bin/env bash
# `make generate`: regenerate the EventPipeline CRD from operator/src/crd/ into crds/ and, when
# the Helm chart is present, into the chart's crds/ directory, and the producer's OpenAPI document
# into docs/openapi.json. A test fails when any of them drifts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

crd=$(mktemp)
trap 'rm -f "$crd"' EXIT
cargo run --quiet --locked -p eventflow-operator -- crdgen >"$crd"

targets=(crds/eventpipeline.yaml)
[ -d charts/eventflow/crds ] && targets+=(charts/eventflow/crds/eventpipeline.yaml)
for target in "${targets[@]}"; do
  mkdir -p "$(dirname "$target")"
  cp "$crd" "$target"
  echo "generate: wrote $target"
done

# The producer's OpenAPI document: what a producer with bearer tokens and no pipeline schema
# serves at /openapi.json (a test in workloads/src/producer/openapi.rs compares it).
cargo run --quiet --locked --bin eventflow -- openapi --auth >docs/openapi.json
echo "generate: wrote docs/openapi.json"
