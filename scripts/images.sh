#!/usr/bin/env bash
# `make images`: builds the eventflow-operator:$TAG and eventflow:$TAG images and prints their sizes.
#
# With a reachable Docker daemon: `docker build` of deploy/Dockerfile (its builder stage compiles the
# workspace in the Rust image). Without one: podman, from the runtime stages of deploy/Dockerfile,
# with the binaries built on this host (cargo build --release, shared with the benchmarks) and the
# runtime base image made from Debian's packages of this host's release (scripts/containers.sh).
#
#   scripts/images.sh                   build both images (IMAGE_PREFIX, TAG: default none, dev)
#   scripts/images.sh podman ARGS...    podman with the project's storage, e.g. to run an image
#   scripts/images.sh dependencies      podman images of the in-cluster Kafka and FerretDB, from the
#                                       dev services' pinned installs (deploy/real-node/); prints names
#   scripts/images.sh archive IMAGE     print the path of IMAGE saved as a docker-archive (made once
#                                       per image ID and name), the form `ctr images import` loads
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
source scripts/containers.sh

TAG=${TAG:-dev}
IMAGE_PREFIX=${IMAGE_PREFIX:-}
# deploy/Dockerfile stage -> image name
STAGES=(operator:eventflow-operator eventflow:eventflow)

say() { printf '==> %s\n' "$*" >&2; }

docker_usable() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

build_with_docker() {
  docker buildx version >/dev/null 2>&1 \
    || { echo "error: deploy/Dockerfile needs BuildKit: install the docker buildx plugin" >&2; exit 1; }
  local stage_image image
  for stage_image in "${STAGES[@]}"; do
    image="${IMAGE_PREFIX}${stage_image#*:}:$TAG"
    say "building $image (docker)"
    docker build -f deploy/Dockerfile --target "${stage_image%%:*}" -t "$image" .
    say "$image: $(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B uncompressed"
  done
}

# deploy/Dockerfile with its builder stage replaced by the binaries in the build context: the runtime
# stages (labels, user, entrypoint) stay defined once, there.
containerfile() {
  echo 'ARG RUNTIME_IMAGE'
  echo 'FROM scratch AS builder'
  echo 'COPY eventflow-operator eventflow /out/'
  sed -n '/^FROM \${RUNTIME_IMAGE} AS /,$p' deploy/Dockerfile
}

build_with_podman() {
  local context=$CONTAINERS_DIR/context stage_image image
  ensure_container_packages
  ensure_base_image
  say "cargo build --release --bins (the images' binaries, built on Debian $DEBIAN_RELEASE)"
  # zlib linked statically (scripts/env.sh), as in deploy/Dockerfile.
  cargo build --release --locked --bins
  rm -rf "$context" && mkdir -p "$context"
  cp "$CARGO_TARGET_DIR/release/eventflow-operator" "$CARGO_TARGET_DIR/release/eventflow" "$context/"
  containerfile >"$context/Containerfile"
  for stage_image in "${STAGES[@]}"; do
    image="${IMAGE_PREFIX}${stage_image#*:}:$TAG"
    say "building $image (podman, FROM $BASE_IMAGE)"
    pm build --quiet --pull=never --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
      --target "${stage_image%%:*}" -t "$image" -f "$context/Containerfile" "$context" >/dev/null
    say "$image: $(pm image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B uncompressed"
  done
}

# from_files IMAGE CONTAINERFILE BUILD_ARG FILE...: IMAGE built (unless present) from a context
# holding just FILE...
from_files() {
  local image=$1 containerfile=$2 build_arg=$3 context=$CONTAINERS_DIR/context-dependencies
  shift 3
  pm image exists "$image" && return 0
  rm -rf "$context" && mkdir -p "$context" && cp -r "$@" "$context/"
  say "building $image"
  pm build --quiet --pull=never --build-arg "$build_arg" -t "$image" -f "$containerfile" "$context" >/dev/null
  rm -rf "$context"
}

# The dev services' Kafka jars and FerretDB binary, in images of the same pinned versions.
build_dependencies() {
  local versions kafka ferretdb
  ensure_container_packages
  scripts/dev-services.sh install
  versions=$(scripts/dev-services.sh versions)
  version() { sed -n "s/^$1=//p" <<<"$versions"; }
  kafka=localhost/eventflow-dev-kafka:$(version kafka)
  ferretdb=localhost/eventflow-dev-ferretdb:$(version ferretdb)
  pm image exists "$kafka" || ensure_jre_image
  from_files "$kafka" deploy/real-node/kafka/Containerfile "JRE_IMAGE=$JRE_IMAGE" "$(version kafka_home)/libs" \
    deploy/dev-services/kafka/log4j2.properties deploy/real-node/kafka/entrypoint.sh
  ensure_base_image
  from_files "$ferretdb" deploy/real-node/ferretdb/Containerfile "BASE_IMAGE=$BASE_IMAGE" "$(version ferretdb_bin)"
  echo "$kafka"
  echo "$ferretdb"
}

# The archive holds the image under the name asked for, so it is made once per ID and name.
archive() {
  local image=$1 id file
  id=$(pm image inspect --format '{{.Id}}' "$image")
  file=$CONTAINERS_DIR/archives/${id:0:12}-${image//[:\/]/_}.tar
  if [ ! -s "$file" ]; then
    mkdir -p "$CONTAINERS_DIR/archives"
    pm save --quiet --format docker-archive -o "$file.tmp" "$image"
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

case ${1:-build} in
  build) if docker_usable; then build_with_docker; else build_with_podman; fi ;;
  podman) shift; pm "$@" ;;
  dependencies) build_dependencies ;;
  archive) archive "${2:?archive IMAGE}" ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
