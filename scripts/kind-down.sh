#!/usr/bin/env bash
# `make kind-down`: deletes the kind cluster of `make kind-up` and everything in it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/require-tools.sh
require_tools docker kind

kind delete cluster --name eventflow
