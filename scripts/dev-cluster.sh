#!/usr/bin/env bash
# A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, ServiceAccount tokens),
# kube-controller-manager, kube-scheduler, and one node: kwok (a fake Node whose pods become
# Running/Ready without containers; the default) or, with EVENTFLOW_CLUSTER_NODE=real, a real node on
# this host (kubelet, containerd + runc, CNI bridge, kube-proxy, CoreDNS: scripts/dev-node.sh); plus
# kubectl and helm. Built pinned from the Go module proxy (wrapper modules in deploy/dev-cluster/)
# into a cache outside the checkout; no Docker needed.
#
#   scripts/dev-cluster.sh install   build the binaries (no-op when present; about 20 min cold on 2 cores)
#   scripts/dev-cluster.sh start     install if needed, start the cluster, wait until usable, print env
#   scripts/dev-cluster.sh env       print KUBECONFIG and PATH as `export` lines
#   scripts/dev-cluster.sh status    running / crashed / not answering, per component (exit 1 unless all answer)
#   scripts/dev-cluster.sh restart COMPONENT   stop one component (SIGTERM) and start it again on the same
#                                    port with the same data, waiting until it answers (e.g. kube-apiserver)
#   scripts/dev-cluster.sh load-images IMAGE...   real node: copy podman images into the node's containerd
#   scripts/dev-cluster.sh stack     real node: load the eventflow images (made if missing) and run Kafka
#                                    and FerretDB as pods (deploy/real-node), as kind-up does on kind
#   scripts/dev-cluster.sh chart RELEASE NAMESPACE [HELM-ARGS...]   real node: helm install the chart
#                                    with the node's eventflow images ($TAG, default dev), waiting until Ready
#   scripts/dev-cluster.sh crictl ARGS...   real node: crictl against the node's containerd
#   scripts/dev-cluster.sh host-state   what a real node changes on this host (links, iptables chains,
#                                    mounts, cgroups), as sorted lines: equal before start and after stop
#   scripts/dev-cluster.sh stop      stop exactly what this run directory started, drop etcd data
#   scripts/dev-cluster.sh reclaim   stop the real node a killed run left behind (its bridge names its
#                                    run directory; a no-op while that run's processes live)
#
# EVENTFLOW_CACHE (default ~/.cache/eventflow) holds the builds in tools/kubernetes-<version>/bin;
# EVENTFLOW_CLUSTER_DIR (default $EVENTFLOW_CACHE/run/cluster-default) holds PIDs, ports, PKI,
# kubeconfig, logs and etcd data of one cluster, so separate run directories give independent clusters
# (a real node is one per host: it owns the bridge evf0 and 10.245.0.0/24).
# EVENTFLOW_CLUSTER_AUDIT=1 (read by start) makes the API server write an audit log, audit.log in the
# run directory: one JSON line per request of a non-admin user (the operator's ServiceAccount token, a
# test's own users), none for the control plane itself; the scale benchmark counts the operator's
# requests in it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/env.sh
source "$HERE/env.sh"
MODS=$(cd "$HERE/../deploy/dev-cluster" && pwd)
RUN_DIR=${EVENTFLOW_CLUSTER_DIR:-$EVENTFLOW_CACHE/run/cluster-default}
say() { printf 'dev-cluster: %s\n' "$*" >&2; }
PKI=$RUN_DIR/pki
KCFG=$RUN_DIR/admin.kubeconfig
# The node: kwok (fake pods; the default) or real (kubelet, containerd, kube-proxy and CoreDNS on this
# host: scripts/dev-node.sh). A run directory remembers the kind it was started with.
NODE_KIND=$(cat "$RUN_DIR/node-kind" 2>/dev/null || echo "${EVENTFLOW_CLUSTER_NODE:-kwok}")
CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# shellcheck source=scripts/containers.sh
source "$HERE/containers.sh"
# shellcheck source=scripts/dev-node.sh
source "$HERE/dev-node.sh"
case $NODE_KIND in
  kwok) NODE=kwok-node-0 API_HOST=127.0.0.1 COMPONENTS=("${CONTROL_PLANE[@]}" kwok) ;;
  real) NODE=$NODE_NAME API_HOST=$NODE_IP COMPONENTS=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}") ;;
  *) say "EVENTFLOW_CLUSTER_NODE must be kwok or real, not '$NODE_KIND'"; exit 2 ;;
esac

# The version a wrapper module pins for a module (its go.mod is the single source of truth).
pinned() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$MODS/$1/go.mod"
}

K8S_VERSION=$(pinned kubernetes k8s.io/kubernetes)
ETCD_VERSION=$(pinned etcd go.etcd.io/etcd/server/v3)
KWOK_VERSION=$(pinned kwok sigs.k8s.io/kwok)
HELM_VERSION=$(pinned helm helm.sh/helm/v3)
COREDNS_VERSION=$(pinned coredns github.com/coredns/coredns)
CRI_TOOLS_VERSION=$(pinned cri-tools sigs.k8s.io/cri-tools)
K8S_MINOR=${K8S_VERSION#v1.}
K8S_MINOR=${K8S_MINOR%%.*}
TOOLS=$EVENTFLOW_CACHE/tools/kubernetes-${K8S_VERSION#v}
BIN=$TOOLS/bin

# binary, wrapper module (directory under deploy/dev-cluster), main package
BINARIES=(
  "etcd etcd go.etcd.io/etcd/server/v3"
  "kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl kubernetes k8s.io/kubernetes/cmd/kubectl"
  "kwok kwok sigs.k8s.io/kwok/cmd/kwok"
  "helm helm helm.sh/helm/v3/cmd/helm"
)
# The real node's binaries (EVENTFLOW_CLUSTER_NODE=real): kubelet and kube-proxy from the same
# Kubernetes release, cluster DNS from CoreDNS.
NODE_BINARIES=(
  "kubelet kubernetes k8s.io/kubernetes/cmd/kubelet"
  "kube-proxy kubernetes k8s.io/kubernetes/cmd/kube-proxy"
  "coredns coredns eventflow.local/dev-cluster/coredns"
  "crictl cri-tools sigs.k8s.io/cri-tools/cmd/crictl"
)

# ---------------------------------------------------------------------------------------- install

module_version() {
  case $1 in
    kubernetes) echo "$K8S_VERSION" ;; etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;; helm) echo "$HELM_VERSION" ;; coredns) echo "$COREDNS_VERSION" ;; cri-tools) echo "$CRI_TOOLS_VERSION" ;;
  esac
}

# One field of `go mod download -json` for a pinned module: "Dir", or from the proxy's .info "Time" or
# "Origin" (the upstream commit; empty when the proxy does not record it, as for etcd and helm).
module_field() {
  (cd "$MODS/$1" && go mod download -json "$2") | python3 -c '
import json, sys
m = json.load(sys.stdin); info = json.load(open(m["Info"]))
f = sys.argv[1]
print(m["Dir"] if f == "Dir" else info["Time"] if f == "Time" else info.get("Origin", {}).get("Hash", ""))' "$3"
}

# Version stamps, as the upstream release builds set them (hack/lib/version.sh, helm's Makefile).
k8s_ldflags() {
  local commit date p flags="-s -w"
  commit=$(module_field kubernetes k8s.io/kubernetes Origin)
  commit=${commit:-0000000000000000000000000000000000000000}
  date=$(module_field kubernetes k8s.io/kubernetes Time)
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    flags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR"
    flags+=" -X $p.gitCommit=$commit -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  echo "$flags"
}

helm_ldflags() {
  local v=helm.sh/helm/v3/internal/version p flags="-s -w"
  flags+=" -X $v.version=$HELM_VERSION"
  # The Kubernetes version helm assumes without a cluster (helm template, lint): the chosen release.
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    flags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$K8S_MINOR"
  done
  echo "$flags"
}

ldflags_for() {
  case $1 in
    kubernetes) k8s_ldflags ;;
    helm) helm_ldflags ;;
    *) echo "-s -w" ;;
  esac
}

# `go build -v` lists each package it compiles: show a line every 100, pass anything else through.
progress() {
  awk -v name="$1" '
    /^[^ :]+$/ { n++; if (n % 100 == 0) { printf "dev-cluster:   %s: %d packages compiled (%s)\n", name, n, $0; fflush() } next }
    { print; fflush() }
    END { if (n) printf "dev-cluster:   %s: %d packages compiled\n", name, n }' >&2
}

installed() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$(module_version "$2")" ]; }

build() {
  local name=$1 mod=$2 pkg=$3 flags start=$SECONDS
  installed "$name" "$mod" && return
  flags=$(ldflags_for "$mod")
  say "building $name $(module_version "$mod") ($pkg) into $BIN"
  # -mod=readonly: the committed go.sum must be complete; nothing is written into the checkout.
  go build -C "$MODS/$mod" -mod=readonly -trimpath -v -ldflags "$flags" -o "$BIN/.$name.tmp" "$pkg" 2>&1 \
    | progress "$name" || { say "building $name failed (output above)"; rm -f "$BIN/.$name.tmp"; exit 1; }
  mv "$BIN/.$name.tmp" "$BIN/$name"
  module_version "$mod" >"$BIN/.$name.version"
  say "built $name in $((SECONDS - start)) s"
  echo "$(date -u +%FT%TZ) $name $(module_version "$mod") $((SECONDS - start))s" >>"$TOOLS/build-times.log"
}

cmd_install() {
  local entry start=$SECONDS
  mkdir -p "$BIN"
  local entries=("${BINARIES[@]}")
  [ "$NODE_KIND" = real ] && entries+=("${NODE_BINARIES[@]}")
  for entry in "${entries[@]}"; do
    # shellcheck disable=SC2086 # entry is "binary module package"
    build $entry
  done
  [ $((SECONDS - start)) -gt 5 ] && say "install took $((SECONDS - start)) s"
  return 0
}

# ------------------------------------------------------------------------------------------- PKI

# sign <name> <subject> <extensions>: key + certificate signed by the cluster CA (no openssl.cnf needed).
sign() {
  openssl genrsa -out "$PKI/$1.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$1.key" -subj "$2" -out "$PKI/$1.csr"
  printf '%b' "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
}

make_pki() {
  [ -f "$PKI/admin.crt" ] && grep -q "IP:$NODE_IP" "$PKI/apiserver.ext" && return
  mkdir -p "$PKI"
  openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n' >"$PKI/ca.ext"
  openssl req -new -key "$PKI/ca.key" -subj "/CN=eventflow-dev-cluster-ca" -out "$PKI/ca.csr"
  openssl x509 -req -in "$PKI/ca.csr" -signkey "$PKI/ca.key" -days 3650 -extfile "$PKI/ca.ext" -out "$PKI/ca.crt" 2>/dev/null
  local leaf='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
  sign apiserver "/CN=kube-apiserver" "${leaf}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP\n"
  sign admin "/O=system:masters/CN=kubernetes-admin" "${leaf}extendedKeyUsage=clientAuth\n"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# write_kubeconfig FILE USER: a kubeconfig for the client certificate USER of the PKI.
write_kubeconfig() {
  local k=("$BIN/kubectl" config --kubeconfig="$1")
  rm -f "$1"
  "${k[@]}" set-cluster dev --server="https://$API_HOST:$(port_of kube-apiserver)" \
    --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
  "${k[@]}" set-credentials "$2" --client-certificate="$PKI/$2.crt" --client-key="$PKI/$2.key" --embed-certs=true >/dev/null
  "${k[@]}" set-context dev --cluster=dev --user="$2" >/dev/null
  "${k[@]}" use-context dev >/dev/null
}

# kwok has no built-in behaviour: the default stages ship in its module (kustomize/stage).
write_kwok_stages() {
  local dir f sep=''
  dir=$(module_field kwok sigs.k8s.io/kwok Dir)/kustomize/stage
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf '%s' "$sep"; cat "$dir/$f"; sep=$'---\n'
  done >"$RUN_DIR/kwok-stages.yaml"
}

# --------------------------------------------------------------------------------------- running

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
port_of() { cat "$RUN_DIR/$1.port" 2>/dev/null || true; }
# A process that exists and has not exited: a slow reaper (PID 1 in some containers) leaves a stopped
# process as a zombie for seconds, and kill -0 still succeeds on a zombie.
running() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/${1:-none}/status" 2>/dev/null) || true
  [ -n "$state" ] && [ "$state" != Z ]
}
alive() { running "$(pid_of "$1")"; }

answers() {
  local url=https://127.0.0.1:$(port_of "$1")
  [ "$1" = kube-apiserver ] && url=https://$API_HOST:$(port_of "$1")
  case $1 in
    etcd) curl -fsS --max-time 3 "http://127.0.0.1:$(port_of etcd)/health" | grep -q '"health":"true"' ;;
    kube-apiserver) curl -fsS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$url/readyz" ;;
    kube-controller-manager | kube-scheduler) curl -fsSk --max-time 3 "$url/healthz" ;;
    kwok) curl -fsS --max-time 3 "http://127.0.0.1:$(port_of kwok)/healthz" ;;
    *) node_answers "$1" ;;
  esac >/dev/null 2>&1
}

run_etcd() {
  local client=http://127.0.0.1:$(port_of etcd) peer=http://127.0.0.1:$(port_of etcd-peer)
  exec "$BIN/etcd" --name=dev --data-dir="$RUN_DIR/etcd-data" \
    --listen-client-urls="$client" --advertise-client-urls="$client" \
    --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" --initial-cluster="dev=$peer" \
    --unsafe-no-fsync=true --auto-compaction-retention=1
}

run_kube_apiserver() {
  # shellcheck disable=SC2046 # audit_flags prints flags without spaces, one word each
  exec "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$(port_of etcd)" \
    --bind-address="$API_HOST" --advertise-address="$API_HOST" --secure-port="$(port_of kube-apiserver)" \
    --cert-dir="$RUN_DIR/apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
    $(audit_flags) $(node_kind_flags)
}

# kwok: loopback, which no Endpoints may name, so no `kubernetes` Service endpoints. Real node: the
# node's address as the `kubernetes` endpoint (pods reach the API server), the Node authorizer for
# the kubelet's credentials, and a client certificate for the kubelet's API (logs, exec, port-forward).
node_kind_flags() {
  case $NODE_KIND in
    kwok) echo "--endpoint-reconciler-type=none --authorization-mode=RBAC" ;;
    real) echo "--endpoint-reconciler-type=lease --authorization-mode=Node,RBAC --kubelet-preferred-address-types=InternalIP" \
      "--kubelet-client-certificate=$PKI/apiserver-kubelet-client.crt --kubelet-client-key=$PKI/apiserver-kubelet-client.key" ;;
  esac
}

# The audit policy of EVENTFLOW_CLUSTER_AUDIT=1: metadata (user, user agent, verb, object) of every
# request except the control plane's own (system:masters: the admin kubeconfig that the controller-
# manager, scheduler and kwok use; the controller-manager's per-controller ServiceAccounts).
write_audit_policy() {
  cat >"$RUN_DIR/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ["system:masters", "system:serviceaccounts:kube-system", "system:nodes"]
  - level: None
    users: ["system:kube-scheduler", "system:kube-controller-manager", "system:apiserver"]
  - level: Metadata
YAML
}

# The audit flags when the run directory was started with EVENTFLOW_CLUSTER_AUDIT=1 (a restart keeps them).
audit_flags() {
  [ -f "$RUN_DIR/audit-policy.yaml" ] || return 0
  echo "--audit-policy-file=$RUN_DIR/audit-policy.yaml --audit-log-path=$RUN_DIR/audit.log" \
    "--audit-log-format=json --audit-log-maxsize=0 --audit-log-mode=blocking"
}

# Controller-manager and scheduler reach the apiserver with the admin kubeconfig; their health endpoints
# need no credentials. --use-service-account-credentials: each controller then acts as its own
# ServiceAccount with its bootstrap RBAC role (as in kubeadm clusters), which the SA key makes possible.
run_kube_controller_manager() {
  exec "$BIN/kube-controller-manager" --kubeconfig="$KCFG" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port="$(port_of kube-controller-manager)" \
    --cert-dir="$RUN_DIR/kube-controller-manager-certs" \
    --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" --use-service-account-credentials=true
}

run_kube_scheduler() {
  exec "$BIN/kube-scheduler" --kubeconfig="$KCFG" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port="$(port_of kube-scheduler)" \
    --cert-dir="$RUN_DIR/kube-scheduler-certs" \
    --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
}

run_kwok() {
  exec "$BIN/kwok" --kubeconfig="$KCFG" --config="$RUN_DIR/kwok-stages.yaml" --manage-all-nodes=true \
    --cidr=10.244.0.0/16 --node-ip=127.0.0.1 --node-lease-duration-seconds=40 \
    --server-address="127.0.0.1:$(port_of kwok)"
}

launch() {
  local c=$1
  "run_${c//-/_}" >"$RUN_DIR/$c.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$c.pid"
}

fail_with_log() {
  say "$1; last lines of $RUN_DIR/$2.log:"
  tail -n 25 "$RUN_DIR/$2.log" >&2 || true
  return 1
}

wait_until_answering() {
  local c=$1
  for _ in $(seq 1 360); do
    answers "$c" && return 0
    alive "$c" || fail_with_log "$c exited during start-up" "$c" || return 1
    sleep 0.5
  done
  fail_with_log "$c did not answer within 180 s" "$c"
}

# Ready once kwok has initialised the fake node and the controller-manager made `default`'s ServiceAccount.
wait_until_usable() {
  [ "$NODE_KIND" = real ] && { node_wait_ready && node_storage; return; }
  local k=("$BIN/kubectl" --kubeconfig="$KCFG")
  "${k[@]}" apply -f "$MODS/fake-node.yaml" >/dev/null
  for _ in $(seq 1 240); do
    if [ "$("${k[@]}" get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] &&
      "${k[@]}" -n default get serviceaccount default >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  say "node $NODE not Ready or ServiceAccount default/default missing after 120 s"
  tail -n 15 "$RUN_DIR/kwok.log" "$RUN_DIR/kube-controller-manager.log" >&2 || true
  return 1
}

start_components() {
  local c
  for c in "${COMPONENTS[@]}"; do
    launch "$c"
    wait_until_answering "$c" || return 1
    say "$c answering on 127.0.0.1:$(port_of "$c") (pid $(pid_of "$c"))"
  done
  wait_until_usable
}

print_env() {
  echo "export KUBECONFIG=$KCFG"
  echo "export PATH=$BIN:\$PATH"
  echo "export EVENTFLOW_CLUSTER_DIR=$RUN_DIR"
  echo "export EVENTFLOW_CLUSTER_NODE=$NODE_KIND"
}

all_up() {
  local c
  for c in "${COMPONENTS[@]}"; do alive "$c" && answers "$c" || return 1; done
}

any_pid() {
  local c
  for c in "${COMPONENTS[@]}"; do [ -n "$(pid_of "$c")" ] && return 0; done
  return 1
}

prepare_run_dir() {
  local c
  mkdir -p "$RUN_DIR"
  for c in "${COMPONENTS[@]}" etcd-peer; do free_port >"$RUN_DIR/$c.port"; done
  make_pki
  write_kubeconfig "$KCFG" admin
  write_kwok_stages
  rm -f "$RUN_DIR/audit-policy.yaml" "$RUN_DIR/audit.log"
  if [ "${EVENTFLOW_CLUSTER_AUDIT:-0}" = 1 ]; then write_audit_policy; fi
  echo "$NODE_KIND" >"$RUN_DIR/node-kind"
  if [ "$NODE_KIND" = real ]; then node_prepare; fi
}

cmd_start() {
  local start
  cmd_install
  if all_up; then
    say "already running (run directory $RUN_DIR)"
  else
    if any_pid; then
      say "the cluster in $RUN_DIR is not fully up; starting it afresh (its state is lost)"
      cmd_status >&2 || true
      cmd_stop
    fi
    start=$SECONDS
    prepare_run_dir
    # On failure stop what did start; the logs stay in the run directory.
    start_components || { cmd_stop; exit 1; }
    say "cluster up in $((SECONDS - start)) s: node $NODE Ready, kubeconfig $KCFG"
  fi
  print_env >"$RUN_DIR/env"
  print_env
}

cmd_status() {
  local failed=0 c
  for c in "${COMPONENTS[@]}"; do
    if [ -z "$(pid_of "$c")" ]; then
      echo "$c: stopped"; failed=1
    elif ! alive "$c"; then
      echo "$c: CRASHED (pid $(pid_of "$c") gone; log $RUN_DIR/$c.log)"; failed=1
    elif ! answers "$c"; then
      echo "$c: NOT ANSWERING on 127.0.0.1:$(port_of "$c") (pid $(pid_of "$c"))"; failed=1
    else
      echo "$c: running on 127.0.0.1:$(port_of "$c") (pid $(pid_of "$c"))"
    fi
  done
  return $failed
}

stop_component() {
  local c=$1 pid
  pid=$(pid_of "$c")
  if running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then say "$c (pid $pid) still running 10 s after SIGTERM; killing it"; kill -KILL "$pid"; fi
  fi
  rm -f "$RUN_DIR/$c.pid" "$RUN_DIR/$c.port"
}

cmd_restart() {
  local c=${1:-} pid
  [ "$c" = apiserver ] && c=kube-apiserver
  case " ${COMPONENTS[*]} " in *" $c "*) ;; *) say "restart what? one of: ${COMPONENTS[*]}"; exit 2 ;; esac
  alive "$c" || { say "$c is not running (run directory $RUN_DIR)"; exit 1; }
  pid=$(pid_of "$c")
  # A short grace: kube-apiserver drains its watches for longer than a test wants to wait.
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then say "$c (pid $pid) still running 3 s after SIGTERM; killing it"; kill -KILL "$pid"; fi
  for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
  launch "$c"
  wait_until_answering "$c" || exit 1
  say "$c restarted on 127.0.0.1:$(port_of "$c") (pid $(pid_of "$c"))"
}

cmd_stop() {
  local i
  [ "$NODE_KIND" = real ] && node_stop
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[i]}"; done
  rm -rf "$RUN_DIR/etcd-data" "$RUN_DIR/etcd-peer.port" "$RUN_DIR/env" "$RUN_DIR/node-kind" "$KCFG"
  say "stopped (run directory $RUN_DIR)"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  env) [ -f "$RUN_DIR/env" ] || { say "not running (no $RUN_DIR/env)"; exit 1; }; cmd_status >/dev/null || { cmd_status >&2; exit 1; }; cat "$RUN_DIR/env" ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  restart) cmd_restart "${2:-}" ;;
  load-images)
    [ "$NODE_KIND" = real ] || { say "load-images needs a real node (EVENTFLOW_CLUSTER_NODE=real)"; exit 2; }
    shift; node_load_images "$@" ;;
  host-state) node_host_state ;;
  reclaim) node_reclaim ;;
  stack) [ "$NODE_KIND" = real ] || { say "stack needs a real node"; exit 2; }; node_stack ;;
  chart) [ "$NODE_KIND" = real ] || { say "chart needs a real node"; exit 2; }; shift; node_chart "$@" ;;
  crictl) [ "$NODE_KIND" = real ] || { say "crictl needs a real node"; exit 2; }; shift; crictl_ "$@" ;;
 *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 2 ;;
esac
