# shellcheck shell=bash
# Sourced by the scripts that build or run containers without Docker: Debian's container stack
# (podman, buildah, containerd, runc, the CNI plugins, mmdebstrap), podman with the project's own
# storage, and the runtime base image made from Debian's packages.
#
# EVENTFLOW_CACHE/containers holds podman's storage and the base image's root file system tar, so
# nothing lands in /var/lib/containers and a repeated build reuses both.

CONTAINERS_DIR=$EVENTFLOW_CACHE/containers
# The Debian release the binaries are built on (this host's): the runtime base image uses the same.
DEBIAN_RELEASE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=localhost/eventflow-base:$DEBIAN_RELEASE
# What the runtime image holds (the distroless idea): the C and GCC runtimes, libssl for
# librdkafka's SSL/SASL_SSL, and the CA certificates. Nothing else: no shell, no package manager.
BASE_PACKAGES=libc6,libgcc-s1,libssl3,ca-certificates
CONTAINER_PACKAGES=(podman buildah runc containerd containernetworking-plugins iptables mmdebstrap
  netavark aardvark-dns conntrack)

containers_say() { printf 'containers: %s\n' "$*" >&2; }

# Installs the Debian packages that are missing (root, apt); prints apt's own progress.
ensure_container_packages() {
  local missing=() p
  for p in "${CONTAINER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [ "$(id -u)" = 0 ] || { containers_say "missing Debian packages: ${missing[*]} (install them as root)"; return 1; }
  containers_say "installing Debian packages: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# Podman's own configuration: rlimits within what this host allows root (no CAP_SYS_RESOURCE:
# nofile 20000, nproc 32768), cgroupfs (PID 1 is not systemd), runc (crun refuses hybrid cgroups),
# and no network unless a command asks for one (podman's bridge would add iptables rules that stay).
write_containers_conf() {
  mkdir -p "$CONTAINERS_DIR"
  cat >"$CONTAINERS_DIR/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
}

# podman with the project's storage (never /var/lib/containers).
pm() {
  grep -qs '^netns = "none"' "$CONTAINERS_DIR/containers.conf" || write_containers_conf
  CONTAINERS_CONF=$CONTAINERS_DIR/containers.conf podman \
    --root "$CONTAINERS_DIR/storage" --runroot "$CONTAINERS_DIR/runroot" "$@"
}

# Runs as mmdebstrap's extract hook ($1 = the new root): the CA bundle that
# update-ca-certificates would write, the nonroot user (uid 65532), and no programs or docs.
base_image_hook() {
  local root=${1:?the new root}
  mkdir -p "$root/etc/ssl/certs" "$root/home/nonroot" "$root/tmp"
  cat "$root"/usr/share/ca-certificates/*/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  chown 65532:65532 "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  rm -rf "$root"/usr/bin "$root"/usr/sbin "$root"/usr/share/doc "$root"/usr/share/man \
    "$root"/usr/share/locale "$root"/usr/share/lintian "$root"/usr/share/perl5 "$root"/usr/share/debconf \
    "$root"/var/cache/* "$root"/var/log/* "$root"/usr/lib/*-linux-gnu/gconv
}

# debian_image NAME VARIANT PACKAGES [HOOK]: an image made once from Debian's packages with
# mmdebstrap (the registries' images are not reachable here), its root file system kept as a tar in
# the cache; HOOK is a function run on the new root after extraction.
debian_image() {
  local name=$1 variant=$2 packages=$3 hook=${4:-} start=$SECONDS tar hook_args=()
  tar=$CONTAINERS_DIR/${name//[:\/]/_}.tar
  pm image exists "$name" && return 0
  if [ ! -s "$tar" ]; then
    containers_say "making $name from Debian $DEBIAN_RELEASE ($variant: $packages) with mmdebstrap"
    mkdir -p "$CONTAINERS_DIR"
    if [ -n "$hook" ]; then
      { declare -f "$hook"; echo "$hook \"\$1\""; } >"$CONTAINERS_DIR/$hook.sh"
      hook_args=(--extract-hook="bash $CONTAINERS_DIR/$hook.sh \"\$1\"")
    fi
    mmdebstrap --variant="$variant" --include="$packages" --format=tar "${hook_args[@]}" \
      "$DEBIAN_RELEASE" "$tar.tmp" "$DEBIAN_MIRROR" >&2
    mv "$tar.tmp" "$tar"
  fi
  pm import --quiet "$tar" "$name" >/dev/null
  containers_say "$name ready ($((SECONDS - start)) s, $(du -h "$tar" | cut -f1) uncompressed)"
}

ensure_base_image() { debian_image "$BASE_IMAGE" extract "$BASE_PACKAGES" base_image_hook; }

# The Java runtime of the in-cluster Kafka (a minimal Debian with bash for its entrypoint).
JRE_IMAGE=localhost/eventflow-jre:$DEBIAN_RELEASE
ensure_jre_image() { debian_image "$JRE_IMAGE" minbase openjdk-17-jre-headless; }
