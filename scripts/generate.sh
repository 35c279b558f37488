#!/usr/bin/env bash
# `make generate`: regenerate the EventPipeline CRD from operator/src/crd/ into crds/ and, when
# the Helm chart is present, into the chart's crds/ directory; the tables of docs/configuration.md
# from the CRD and the chart's values.yaml; and the producer's OpenAPI document into
# docs/openapi.json. A test fails when any of them drifts.
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

# docs/configuration.md's tables, from the CRD just written and values.yaml's comments: the
# packaging test that compares them rewrites them when EVENTFLOW_WRITE_GENERATED is set.
EVENTFLOW_WRITE_GENERATED=1 cargo test --quiet --locked -p eventflow-operator --test packaging -- \
  --exact configuration::generated_tables_match_the_crd_and_values_yaml >/dev/null
echo "generate: wrote docs/configuration.md"

# The producer's OpenAPI document: what a producer with bearer tokens and no pipeline schema
# serves at /openapi.json (a test in workloads/src/producer/openapi.rs compares it).
cargo run --quiet --locked --bin eventflow -- openapi --auth >docs/openapi.json
echo "generate: wrote docs/openapi.json"
