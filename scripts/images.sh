#!/usr/bin/env bash
# `make images`: builds eventflow-operator:$TAG and eventflow:$TAG from deploy/Dockerfile.
# IMAGE_PREFIX (e.g. ghcr.io/you/) and TAG (default dev) name the images.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/require-tools.sh
require_tools docker
docker info >/dev/null 2>&1 || { echo "error: the Docker daemon is not reachable (docker info failed)" >&2; exit 1; }
docker buildx version >/dev/null 2>&1 \
    || { echo "error: deploy/Dockerfile needs BuildKit: install the docker buildx plugin" >&2; exit 1; }

TAG=${TAG:-dev}
IMAGE_PREFIX=${IMAGE_PREFIX:-}
# deploy/Dockerfile stage -> image name
for stage_image in operator:eventflow-operator eventflow:eventflow; do
    image="${IMAGE_PREFIX}${stage_image#*:}:$TAG"
    echo "==> building $image"
    docker build -f deploy/Dockerfile --target "${stage_image%%:*}" -t "$image" .
done
