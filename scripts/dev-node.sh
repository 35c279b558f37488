# shellcheck shell=bash
# The dev cluster's real node (EVENTFLOW_CLUSTER_NODE=real), sourced by scripts/dev-cluster.sh:
# containerd with runc, CNI bridge networking, kubelet, kube-proxy (iptables mode) and CoreDNS, all
# on this host, all with their state under the cluster's run directory.
#
# Network: the bridge evf0 holds 10.245.0.1/24 before anything starts. Pods get addresses from
# 10.245.0.0/24 (CNI bridge + host-local); the API server listens on 10.245.0.1 (only this host and
# its pods reach it) and advertises it as the `kubernetes` Service's endpoint; CoreDNS answers on
# 10.245.0.1:53 for cluster.local and forwards the rest to the host's resolvers.
#
# Host quirks handled here: no CAP_SYS_RESOURCE (containerd's restrict_oom_score_adj, kubelet's
# oomScoreAdj 0, podman's rlimits), hybrid cgroup v1 (runc, cgroupfs, failCgroupV1: false), no
# registry (the pause image is built here), Debian's CNI plugins in /usr/lib/cni.
#
# Stop is exact: pods are stopped and removed through CRI (their veths, addresses and netns go with
# them), then the processes this run started by PID, kube-proxy's rules by `kube-proxy --cleanup`,
# every iptables chain that did not exist before start, the mounts under the run directory, the
# kubelet's cgroups and the bridge.

NODE_NAME=eventflow-node-0
NODE_BRIDGE=evf0
NODE_IP=10.245.0.1
POD_CIDR=10.245.0.0/24
PAUSE_IMAGE=localhost/eventflow-pause:1
NODE_COMPONENTS=(containerd kubelet kube-proxy coredns)
CTRD=$RUN_DIR/containerd

node_say() { printf 'dev-node: %s\n' "$*" >&2; }

# ------------------------------------------------------------------------------------ preparation

# A real node whose run was killed (its stop never ran) leaves its bridge, whose alias names the run
# directory: reclaimed by that run directory's own stop once none of its processes runs.
node_reclaim() {
  local owner c pid
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || return 0
  owner=$(cat "/sys/class/net/$NODE_BRIDGE/ifalias" 2>/dev/null || true)
  [ -n "$owner" ] && [ -f "$owner/host-before" ] || return 0
  for c in "${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}"; do
    pid=$(cat "$owner/$c.pid" 2>/dev/null || true)
    if running "$pid" && grep -qF "$owner" "/proc/$pid/cmdline" 2>/dev/null; then return 0; fi
  done
  node_say "reclaiming the real node of a killed run (run directory $owner; none of its processes runs)"
  EVENTFLOW_CLUSTER_DIR=$owner "$HERE/dev-cluster.sh" stop
}

node_host_check() {
  node_reclaim
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && {
    node_say "the bridge $NODE_BRIDGE exists: another real-node cluster runs on this host (one at a time;" \
      "run directory: $(cat "/sys/class/net/$NODE_BRIDGE/ifalias" 2>/dev/null || echo unknown)); stop it first"
    return 1
  }
  [ "$(id -u)" = 0 ] || { node_say "a real node needs root (containers, network, mounts)"; return 1; }
  # Bridged pod traffic must pass iptables for Service addresses to work between pods.
  modprobe br_netfilter 2>/dev/null || true
  [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] || {
    node_say "net.bridge.bridge-nf-call-iptables is not 1 (br_netfilter): Services would not work between pods"
    return 1
  }
}

node_pki() {
  local leaf='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n'
  [ -f "$PKI/kubelet.crt" ] && return
  sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$leaf"
  sign kube-proxy "/CN=system:kube-proxy" "$leaf"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$leaf"
}

node_containerd_config() {
  mkdir -p "$CTRD" "$RUN_DIR/cni/net.d"
  containerd config default | python3 -c '
import sys, re
ctrd, cni, pause = sys.argv[1:4]
s = sys.stdin.read()
cri = "plugins.\"io.containerd.grpc.v1.cri\""
def put(section, key, value):
    """Sets the first `key` after the header of `section` ("" = top level)."""
    global s
    at = 0 if not section else s.index("[" + section + "]\n")
    m = re.compile(r"(?m)^(\s*)" + re.escape(key) + r" = .*$").search(s, at)
    if not m:
        sys.exit("containerd config: no %s in [%s]" % (key, section))
    s = s[:m.start()] + m.group(1) + key + " = " + value + s[m.end():]
put("", "root", "\"%s/root\"" % ctrd)
put("", "state", "\"%s/state\"" % ctrd)
put("grpc", "address", "\"%s/containerd.sock\"" % ctrd)
put(cri, "netns_mounts_under_state_dir", "true")
put(cri, "restrict_oom_score_adj", "true")
put(cri, "sandbox_image", "\"%s\"" % pause)
put(cri + ".cni", "bin_dir", "\"/usr/lib/cni\"")
put(cri + ".cni", "conf_dir", "\"%s\"" % cni)
put("plugins.\"io.containerd.internal.v1.opt\"", "path", "\"%s/opt\"" % ctrd)
sys.stdout.write(s)' "$CTRD" "$RUN_DIR/cni/net.d" "$PAUSE_IMAGE" >"$CTRD/config.toml"
}

node_cni_config() {
  cat >"$RUN_DIR/cni/net.d/10-eventflow.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "eventflow",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$RUN_DIR/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

node_kubelet_config() {
  cat >"$RUN_DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $(port_of kubelet)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(port_of kubelet-healthz)
containerRuntimeEndpoint: unix://$CTRD/containerd.sock
cgroupDriver: cgroupfs
# This host's cgroups are v1 (hybrid); Kubernetes 1.35 refuses v1 unless told otherwise.
failCgroupV1: false
# Root cannot lower OOM scores here (no CAP_SYS_RESOURCE).
oomScoreAdj: 0
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: AlwaysAllow }
# Tests and benchmarks fill the disk with Kafka data: never evict for disk pressure or GC images.
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
}

node_kube_proxy_config() {
  cat >"$RUN_DIR/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $RUN_DIR/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$(port_of kube-proxy)
metricsBindAddress: 127.0.0.1:$(port_of kube-proxy-metrics)
# Leave the host's sysctls alone: no conntrack table sizing, no route_localnet for NodePorts on 127.0.0.1.
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
iptables: { localhostNodePorts: false }
EOF
}

node_corefile() {
  cat >"$RUN_DIR/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:$(port_of coredns)
    ready 127.0.0.1:$(port_of coredns-ready)
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KCFG
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
}
EOF
}

node_bridge_up() {
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # The owner, for node_reclaim.
  ip link set "$NODE_BRIDGE" alias "$RUN_DIR"
  echo "$NODE_BRIDGE" >"$RUN_DIR/bridge"
}

node_pause_image() {
  local ctx=$RUN_DIR/pause-build
  pm image exists "$PAUSE_IMAGE" && return 0
  node_say "building the pod sandbox image $PAUSE_IMAGE (static C, FROM scratch)"
  mkdir -p "$ctx"
  cc -static -O2 -o "$ctx/pause" "$HERE/../deploy/real-node/pause/pause.c"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
  pm build --quiet -t "$PAUSE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# Called by prepare_run_dir in dev-cluster.sh once ports, PKI and the admin kubeconfig exist.
node_prepare() {
  local p
  node_host_check
  ensure_container_packages
  for p in kubelet-healthz kube-proxy-metrics coredns-ready; do free_port >"$RUN_DIR/$p.port"; done
  node_pki
  write_kubeconfig "$RUN_DIR/kubelet.kubeconfig" kubelet
  write_kubeconfig "$RUN_DIR/kube-proxy.kubeconfig" kube-proxy
  node_containerd_config
  node_cni_config
  node_kubelet_config
  node_kube_proxy_config
  node_corefile
  node_pause_image
  # Stop removes what is not in here: chains, kubepods cgroups, /run/containerd.
  node_host_state >"$RUN_DIR/host-before"
  node_bridge_up
}

# ---------------------------------------------------------------------------------------- running

ctr_() { ctr --address "$CTRD/containerd.sock" --namespace k8s.io "$@"; }
crictl_() {
  [ -f "$RUN_DIR/crictl.yaml" ] || printf 'runtime-endpoint: unix://%s/containerd.sock\ntimeout: 20\n' "$CTRD" >"$RUN_DIR/crictl.yaml"
  "$BIN/crictl" --config "$RUN_DIR/crictl.yaml" "$@"
}

run_containerd() { exec containerd --config "$CTRD/config.toml"; }

# The sandbox image goes into containerd (which answers by now) before kubelet asks for a pod.
run_kubelet() {
  node_load_images "$PAUSE_IMAGE"
  exec "$BIN/kubelet" --config="$RUN_DIR/kubelet-config.yaml" --kubeconfig="$RUN_DIR/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$RUN_DIR/kubelet" \
    --cert-dir="$RUN_DIR/kubelet-pki" --v=1
}

run_kube_proxy() { exec "$BIN/kube-proxy" --config="$RUN_DIR/kube-proxy-config.yaml" --v=1; }

run_coredns() { exec "$BIN/coredns" -conf "$RUN_DIR/Corefile"; }

node_answers() {
  case $1 in
    containerd) ctr --address "$CTRD/containerd.sock" version ;;
    kubelet) curl -fsS --max-time 3 "http://127.0.0.1:$(port_of kubelet-healthz)/healthz" ;;
    kube-proxy) curl -fsS --max-time 3 "http://127.0.0.1:$(port_of kube-proxy)/livez" ;;
    coredns) curl -fsS --max-time 3 "http://127.0.0.1:$(port_of coredns-ready)/ready" ;;
  esac >/dev/null 2>&1
}

# Images into containerd under their podman name and the name an unqualified reference resolves to
# (eventflow:dev -> docker.io/library/eventflow:dev), so pods find them without a registry.
node_load_images() {
  local image file name
  for image in "$@"; do
    file=$("$HERE/images.sh" archive "$image")
    ctr_ images import --no-unpack=false "$file" >/dev/null
    # podman's name for an unqualified image: localhost/NAME:TAG.
    case $image in */*) name=$image ;; *) name=localhost/$image ;; esac
    case $name in localhost/*) ctr_ images tag --force "$name" "docker.io/library/${name#localhost/}" >/dev/null ;; esac
    node_say "loaded $name into the node's containerd"
  done
}

node_wait_ready() {
  local k=("$BIN/kubectl" --kubeconfig="$KCFG")
  for _ in $(seq 1 240); do
    [ "$("${k[@]}" get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] &&
      "${k[@]}" -n default get serviceaccount default >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  node_say "node $NODE_NAME not Ready after 120 s"
  crictl_ info 2>&1 | tail -n 20 >&2 || true
  "${k[@]}" describe node "$NODE_NAME" >&2 || true
  tail -n 25 "$RUN_DIR/kubelet.log" >&2 || true
  return 1
}

# The in-cluster stack of the user's first hour: the eventflow images (built if missing) and the
# in-cluster Kafka and FerretDB (deploy/real-node: deploy/kind's manifests with images built here)
# loaded into containerd; the two applied and rolled out.
node_stack() {
  local tag=${TAG:-dev} deps k=("$BIN/kubectl" --kubeconfig="$KCFG") expected
  pm image exists "eventflow:$tag" && pm image exists "eventflow-operator:$tag" || TAG=$tag "$HERE/images.sh"
  deps=$("$HERE/images.sh" dependencies)
  # shellcheck disable=SC2086 # one image per word
  node_load_images "eventflow-operator:$tag" "eventflow:$tag" $deps
  # The overlay must name exactly the images just built from the pinned installs.
  expected=$(sort <<<"$deps")
  [ "$("${k[@]}" kustomize "$HERE/../deploy/real-node" | sed -n 's/^ *image: //p' | sort -u)" = "$expected" ] || {
    node_say "deploy/real-node/kustomization.yaml does not name the images built from the pinned dev services:"
    node_say "$expected"
    return 1
  }
  "${k[@]}" apply -k "$HERE/../deploy/real-node" >/dev/null
  "${k[@]}" -n kafka rollout status statefulset/kafka --timeout=300s >&2
  "${k[@]}" -n mongodb rollout status deployment/mongodb --timeout=300s >&2
}

# `helm install RELEASE` of the chart into NAMESPACE with the eventflow images `stack` loaded (never
# pulled), waiting until the operator is Ready; further arguments go to helm.
node_chart() {
  local release=${1:?chart RELEASE NAMESPACE [HELM-ARGS...]} namespace=${2:?chart RELEASE NAMESPACE [HELM-ARGS...]} tag=${TAG:-dev}
  shift 2
  "$BIN/helm" --kubeconfig="$KCFG" install "$release" "$HERE/../charts/eventflow" \
    --namespace "$namespace" --create-namespace \
    --set operator.image.repository=eventflow-operator --set "operator.image.tag=$tag" \
    --set operator.image.pullPolicy=Never \
    --set workload.image.repository=eventflow --set "workload.image.tag=$tag" \
    --wait --timeout 5m "$@"
}

# Persistent volumes as kind gives them: a default StorageClass `standard`, here backed by hostPath
# directories under the run directory (statically provisioned; claims bind when a pod is scheduled).
NODE_VOLUMES=6
node_storage() {
  local i dir k=("$BIN/kubectl" --kubeconfig="$KCFG")
  {
    printf 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\n'
    printf '  annotations: {storageclass.kubernetes.io/is-default-class: "true"}\n'
    printf 'provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n'
    for i in $(seq 1 "$NODE_VOLUMES"); do
      dir=$RUN_DIR/volumes/pv-$i
      mkdir -p "$dir" && chmod 0777 "$dir"
      printf -- '---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: node-pv-%s\n' "$i"
      printf 'spec:\n  capacity: {storage: 10Gi}\n  accessModes: [ReadWriteOnce]\n'
      printf '  persistentVolumeReclaimPolicy: Retain\n  storageClassName: standard\n'
      printf '  hostPath: {path: %s, type: Directory}\n' "$dir"
    done
  } | "${k[@]}" apply -f - >/dev/null
}

# ------------------------------------------------------------------------------------------- stop

# What a real node changes on the host, as sorted lines: network links, iptables chains and rule
# counts per table, mounts, the kubelet's cgroups, /run/containerd. Equal before start and after stop.
node_host_state() {
  local tool
  {
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link", $2 }'
    for tool in iptables ip6tables; do
      command -v "$tool-save" >/dev/null || continue
      "$tool-save" 2>/dev/null | awk -v t="$tool" '/^\*/ { table = $0 } /^:/ { print t, table, $1 } /^-A/ { rules[table]++ }
        END { for (table in rules) print t, table, rules[table], "rules" }'
    done
    findmnt -rn -o TARGET | sed 's/^/mount /'
    find /sys/fs/cgroup -maxdepth 2 -name kubepods | sed 's/^/cgroup /'
    if [ -e /run/containerd ]; then echo "path /run/containerd"; fi
  } | sort
}


node_stop_pods() {
  [ -S "$CTRD/containerd.sock" ] && running "$(pid_of containerd)" || return 0
  local pods
  pods=$(crictl_ pods -q 2>/dev/null) || return 0
  [ -n "$pods" ] || return 0
  # shellcheck disable=SC2086 # one ID per word
  crictl_ stopp $pods >/dev/null || node_say "crictl stopp failed for some pods (above)"
  # shellcheck disable=SC2086
  crictl_ rmp --force $pods >/dev/null || node_say "crictl rmp failed for some pods (above)"
}

# Deletes every iptables chain that was not there before start, with the rules that jump to it.
node_remove_chains() {
  [ -f "$RUN_DIR/host-before" ] || return 0
  local tool
  for tool in iptables ip6tables; do
    command -v "$tool-save" >/dev/null || continue
    "$tool-save" 2>/dev/null | python3 -c '
import sys, subprocess
tool, before_file = sys.argv[1], sys.argv[2]
# host-before lines: "iptables *filter :CHAIN" (node_host_state)
before = {(w[1][1:], w[2][1:]) for w in (l.split() for l in open(before_file))
          if len(w) == 3 and w[0] == tool and w[2].startswith(":")}
table, chains, rules = None, [], []
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("*"): table = line[1:]
    elif line.startswith(":"): chains.append((table, line[1:].split()[0]))
    elif line.startswith("-A "): rules.append((table, line))
new = {c for c in chains if c not in before}
for table, rule in rules:
    words = rule.split()
    chain, target = words[1], words[words.index("-j") + 1] if "-j" in words else None
    if (table, chain) not in new and (table, target) in new:
        subprocess.run([tool, "-t", table, "-D"] + words[1:], check=False)
for table, chain in new: subprocess.run([tool, "-t", table, "-F", chain], check=False)
for table, chain in new: subprocess.run([tool, "-t", table, "-X", chain], check=False)
' "$tool" "$RUN_DIR/host-before"
  done
}

node_unmount() {
  local m
  findmnt -rn -o TARGET | awk -v p="$RUN_DIR/" 'index($0, p) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || node_say "could not unmount $m"
  done
}

# Whatever still runs in the kubelet's cgroups (a container whose shim is gone) is killed, so its
# cgroups, network namespace and veth can go.
node_kill_leftovers() {
  local pids
  pids=$(cat /sys/fs/cgroup/pids/kubepods/tasks /sys/fs/cgroup/pids/kubepods/*/tasks \
    /sys/fs/cgroup/pids/kubepods/*/*/tasks /sys/fs/cgroup/pids/kubepods/*/*/*/tasks 2>/dev/null | sort -u || true)
  [ -n "$pids" ] || return 0
  node_say "killing processes left in the pods' cgroups: ${pids//$'\n'/ }"
  # shellcheck disable=SC2086 # one PID per word
  kill -KILL $pids 2>/dev/null || true
  sleep 1
}

node_remove_cgroups() {
  local c
  for c in /sys/fs/cgroup/*/kubepods; do
    [ -d "$c" ] || continue
    grep -qx "cgroup $c" "$RUN_DIR/host-before" 2>/dev/null && continue
    find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Called by cmd_stop before the control plane goes.
node_stop() {
  local c
  # kubelet first: it would start the pods again that crictl stops.
  for c in coredns kube-proxy kubelet; do stop_component "$c"; done
  node_stop_pods
  [ -f "$RUN_DIR/kube-proxy-config.yaml" ] && "$BIN/kube-proxy" --cleanup --config="$RUN_DIR/kube-proxy-config.yaml" >/dev/null 2>&1
  stop_component containerd
  # The shims outlive containerd: stop the ones of this run's containerd.
  pgrep -f "containerd-shim.*-address $CTRD/containerd.sock" | xargs -r kill -KILL 2>/dev/null || true
  node_kill_leftovers
  node_unmount
  node_remove_cgroups
  node_remove_chains
  if [ -f "$RUN_DIR/bridge" ]; then ip link del "$(cat "$RUN_DIR/bridge")" 2>/dev/null || true; fi
  # containerd 1.6 keeps shim sockets and runc state under /run/containerd whatever its state dir.
  if [ -f "$RUN_DIR/host-before" ] && ! grep -qx 'path /run/containerd' "$RUN_DIR/host-before"; then
    rm -rf /run/containerd
  fi
  rm -rf "$CTRD" "$RUN_DIR/kubelet" "$RUN_DIR/cni" "$RUN_DIR/volumes" "$RUN_DIR/bridge" "$RUN_DIR/host-before" \
    "$RUN_DIR/crictl.yaml"
}
