#!/usr/bin/env bash
# Dev services for tests, benchmarks and the local runtime: Apache Kafka (KRaft, one combined
# broker+controller, jars from Maven Central) and FerretDB (a MongoDB-wire-protocol server over
# SQLite, built from its Go module), installed pinned into a cache outside the checkout and run
# on free loopback ports.
#
#   scripts/dev-services.sh install          install both (no-op when present)
#   scripts/dev-services.sh versions         the pinned versions and install paths, as key=value lines
#   scripts/dev-services.sh start            install if needed, start both, wait until they answer, print env
#   scripts/dev-services.sh restart SERVICE  stop kafka or mongodb and start it again: same port, data kept
#   scripts/dev-services.sh env              print the addresses as `export` lines
#   scripts/dev-services.sh status           running / crashed / not answering, per service (exit 1 unless all answer)
#   scripts/dev-services.sh stop             stop exactly the processes this run directory started (by PID), drop their data
#
# EVENTFLOW_CACHE (default ~/.cache/eventflow) holds the installs; EVENTFLOW_RUN_DIR (default
# $EVENTFLOW_CACHE/run/default) holds PIDs, ports, logs and data of one set of running services,
# so separate run directories give independent sets. A service whose process died (SIGKILL in a
# fault test) is started again by `start` on its old port with its data: that is the restart.
# Kafka also has a SASL_SSL listener (SCRAM-SHA-512, a test CA made here; `env` names it).
# Needs Java 17+ and Maven (Kafka), openssl (the test CA), Go 1.24+ (FerretDB), python3.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/env.sh"
KAFKA_VERSION=4.1.1
FERRETDB_VERSION=1.24.2
CACHE=$EVENTFLOW_CACHE
RUN_DIR=${EVENTFLOW_RUN_DIR:-$CACHE/run/default}
DEPLOY=$HERE/../deploy/dev-services
KAFKA_HOME=$CACHE/tools/kafka-$KAFKA_VERSION
FERRETDB_BIN=$CACHE/tools/ferretdb-$FERRETDB_VERSION/bin/ferretdb
KAFKA_HEAP=${EVENTFLOW_KAFKA_HEAP:-512m}
PROBE=$HERE/probe.py
SERVICES=(kafka mongodb)
# The SCRAM-SHA-512 user of the SASL_SSL listener; its password is made per run directory.
SASL_USERNAME=eventflow

say() { printf 'dev-services: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

install_kafka() {
  [ -f "$KAFKA_HOME/installed" ] && return
  command -v java >/dev/null && command -v mvn >/dev/null || fail "Kafka needs Java 17+ and Maven (Debian: apt-get install openjdk-17-jre-headless maven)"
  say "installing Apache Kafka $KAFKA_VERSION (jars from Maven Central) into $KAFKA_HOME"
  rm -rf "$KAFKA_HOME" && mkdir -p "$KAFKA_HOME"
  # Download lines are the progress; a failure prints Maven's whole error.
  mvn -B -Dstyle.color=never -f "$DEPLOY/kafka/pom.xml" -Dmaven.repo.local="$CACHE/maven" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime 2>&1 \
    | grep --line-buffered -vE '^\[INFO\] *$|^\[INFO\] -+$' >&2 \
    || fail "Kafka install failed (output above)"
  [ -f "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || fail "Kafka install failed: no kafka_2.13 jar"
  touch "$KAFKA_HOME/installed"
}

install_ferretdb() {
  [ -x "$FERRETDB_BIN" ] && return
  command -v go >/dev/null || fail "FerretDB is built with Go 1.24+ (https://go.dev/dl/ or Debian's golang)"
  say "building FerretDB $FERRETDB_VERSION (Go module proxy) into $(dirname "$FERRETDB_BIN") (a few minutes, once)"
  # FerretDB's own command panics when built outside its repository (FerretDB#2982), so a small
  # pinned module embeds it (deploy/dev-services/ferretdb).
  go build -C "$DEPLOY/ferretdb" -mod=readonly -trimpath -ldflags "-s -w" -v \
    -o "$FERRETDB_BIN" . 2>&1 \
    | sed -u 's/^/  go: /' >&2
  [ -x "$FERRETDB_BIN" ] || fail "FerretDB build failed (output above)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
port_of() { cat "$RUN_DIR/$1.port" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
probe() { python3 "$PROBE" "$1" "127.0.0.1:$(port_of "$1")" >/dev/null 2>&1; }
# Kafka answers a Metadata request on both listeners (SASL_SSL after TLS and a SCRAM login).
answers() {
  case $1 in
    kafka) probe kafka && sasl_env probe kafka-sasl ;;
    *) probe "$1" ;;
  esac
}

# Ports are chosen once per run directory and kept, so a restart comes back where clients look.
ensure_port() {
  local name=$1
  [ -n "$(port_of "$name")" ] || free_port >"$RUN_DIR/$name.port"
}

# The JVM and its options; run as a plain command (not a function), so that `&` gives the PID of
# java itself and a signal to that PID reaches the broker.
KAFKA_JAVA=(java -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$DEPLOY/kafka/log4j2.properties" -cp "$KAFKA_HOME/libs/*")

# What the SASL_SSL listener's clients need, as the variables tests read (and probe.py).
TLS_DIR=$RUN_DIR/kafka/tls
SASL_PASSWORD_FILE=$RUN_DIR/kafka/sasl-password
sasl_vars() {
  printf '%s\n' "EVENTFLOW_KAFKA_SASL_CA=$TLS_DIR/ca.pem" \
    "EVENTFLOW_KAFKA_SASL_USERNAME=$SASL_USERNAME" \
    "EVENTFLOW_KAFKA_SASL_PASSWORD_FILE=$SASL_PASSWORD_FILE"
}
# Runs a command (a shell function too) with them set.
sasl_env() {
  local var
  while IFS= read -r var; do local -x "$var"; done < <(sasl_vars)
  "$@"
}

# A test CA and a broker certificate it signs (for 127.0.0.1 and localhost), made once per run
# directory; Kafka reads the key and chain as a PEM keystore.
make_tls() {
  [ -f "$TLS_DIR/broker.pem" ] && return
  command -v openssl >/dev/null || fail "the SASL_SSL listener's test CA is made with openssl (Debian: apt-get install openssl)"
  mkdir -p "$TLS_DIR"
  ( cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=eventflow dev CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile broker.ext -out broker.crt
    cat broker.key broker.crt ca.pem >broker.pem ) >"$RUN_DIR/openssl.log" 2>&1 \
    || { cat "$RUN_DIR/openssl.log" >&2; fail "making the test CA and broker certificate failed"; }
}

# The run's server.properties (the shared one plus this run's ports, keystore and data),
# formatted once with the SCRAM user. The log directory is `data-scram`; a `data` directory in
# the run directory was formatted without the user, so it is dropped.
prepare_kafka() {
  local dir=$RUN_DIR/kafka port sasl controller
  ensure_port kafka; ensure_port kafka-sasl; ensure_port kafka-controller
  port=$(port_of kafka); sasl=$(port_of kafka-sasl); controller=$(port_of kafka-controller)
  local listeners="PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sasl,CONTROLLER://127.0.0.1:$controller"
  rm -rf "$dir/data"
  mkdir -p "$dir/data-scram"
  make_tls
  { cat "$DEPLOY/kafka/server.properties"
    echo "listeners=$listeners"
    echo "advertised.listeners=$listeners"
    echo "ssl.keystore.location=$TLS_DIR/broker.pem"
    echo "controller.quorum.bootstrap.servers=127.0.0.1:$controller"
    echo "log.dirs=$dir/data-scram"
  } >"$dir/server.properties"
  [ -f "$dir/data-scram/meta.properties" ] && return
  [ -s "$SASL_PASSWORD_FILE" ] || (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' >"$SASL_PASSWORD_FILE")
  local cluster_id
  # Like Kafka's own Uuid.randomUuid: never one that starts with `-`, which the format command
  # would read as an option (1 in 64 ids; `make test` failed on one on 2026-11-30).
  cluster_id=$(python3 -c '
import base64, uuid
while True:
    id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not id.startswith("-"):
        print(id)
        break
')
  "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USERNAME,password=$(cat "$SASL_PASSWORD_FILE")]" \
    -c "$dir/server.properties" >"$RUN_DIR/kafka.log" 2>&1 \
    || { cat "$RUN_DIR/kafka.log" >&2; fail "formatting the Kafka log directory failed"; }
}

launch() {
  local service=$1
  case $service in
    kafka)
      prepare_kafka
      "${KAFKA_JAVA[@]}" kafka.Kafka "$RUN_DIR/kafka/server.properties" >>"$RUN_DIR/kafka.log" 2>&1 </dev/null &
      ;;
    mongodb)
      ensure_port mongodb
      mkdir -p "$RUN_DIR/mongodb/data"
      "$FERRETDB_BIN" --listen-addr="127.0.0.1:$(port_of mongodb)" --sqlite-dir="$RUN_DIR/mongodb/data" \
        >>"$RUN_DIR/mongodb.log" 2>&1 </dev/null &
      ;;
  esac
  echo $! >"$RUN_DIR/$service.pid"
}

wait_until_answering() {
  local service=$1
  for _ in $(seq 1 240); do
    if answers "$service"; then return 0; fi
    if ! alive "$service"; then
      say "$service exited during start-up; last log lines:"; tail -n 20 "$RUN_DIR/$service.log" >&2
      return 1
    fi
    sleep 0.25
  done
  say "$service did not answer within 60 s; last log lines:"; tail -n 20 "$RUN_DIR/$service.log" >&2
  return 1
}

print_env() {
  echo "export EVENTFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$(port_of kafka)"
  # The secured listener (SASL_SSL, SCRAM-SHA-512): its address, the CA that signed its
  # certificate, the user, and the file holding the password (the password is never printed).
  echo "export EVENTFLOW_KAFKA_SASL_BOOTSTRAP=127.0.0.1:$(port_of kafka-sasl)"
  sasl_vars | sed 's/^/export /'
  echo "export EVENTFLOW_MONGODB_URI=mongodb://127.0.0.1:$(port_of mongodb)/?directConnection=true"
  echo "export EVENTFLOW_DEV_SERVICES_DIR=$RUN_DIR"
}

start_service() {
  local service=$1 started
  if alive "$service" && answers "$service"; then
    say "$service already running on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"))"
    return
  fi
  if [ -n "$(pid_of "$service")" ]; then
    say "$service (pid $(pid_of "$service")) had stopped or stopped answering; last log lines:"
    tail -n 5 "$RUN_DIR/$service.log" >&2 || true
    kill_service "$service"
  fi
  started=$(date +%s%N)
  launch "$service"
  wait_until_answering "$service" || exit 1
  say "$service answering on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"), $(( ($(date +%s%N) - started) / 1000000 )) ms)"
}

cmd_start() {
  install_kafka
  install_ferretdb
  mkdir -p "$RUN_DIR"
  if alive kafka && [ -z "$(port_of kafka-sasl)" ]; then
    say "kafka (pid $(pid_of kafka)) was started before the SASL_SSL listener existed: restarting it with it"
    kill_service kafka
  fi
  for service in "${SERVICES[@]}"; do start_service "$service"; done
  print_env >"$RUN_DIR/env"
  print_env
}

cmd_status() {
  local failed=0 service
  for service in "${SERVICES[@]}"; do
    if [ -z "$(pid_of "$service")" ]; then
      echo "$service: stopped"; failed=1
    elif ! alive "$service"; then
      echo "$service: CRASHED (pid $(pid_of "$service") gone; log $RUN_DIR/$service.log)"; failed=1
    elif ! answers "$service"; then
      echo "$service: NOT ANSWERING on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"))"; failed=1
    else
      echo "$service: running on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"))"
    fi
  done
  return $failed
}

# Stops the process (SIGTERM: Kafka shuts down cleanly; SIGKILL after 20 s); ports and data stay.
kill_service() {
  local service=$1 pid
  pid=$(pid_of "$service")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$service.pid"
}

cmd_restart() {
  local service=${1:-}
  [[ " ${SERVICES[*]} " == *" $service "* ]] || fail "restart what? one of: ${SERVICES[*]}"
  [ -n "$(port_of "$service")" ] || fail "$service was never started in $RUN_DIR"
  kill_service "$service"
  start_service "$service"
}

cmd_stop() {
  for service in "${SERVICES[@]}"; do kill_service "$service"; done
  rm -rf "$RUN_DIR/kafka" "$RUN_DIR/mongodb" "$RUN_DIR"/*.port "$RUN_DIR/env"
  say "stopped (run directory $RUN_DIR)"
}

case ${1:-} in
  install) install_kafka; install_ferretdb ;;
  versions) printf '%s\n' "kafka=$KAFKA_VERSION" "kafka_home=$KAFKA_HOME" "ferretdb=$FERRETDB_VERSION" "ferretdb_bin=$FERRETDB_BIN" ;;
  start) cmd_start ;;
  restart) cmd_restart "${2:-}" ;;
  env) [ -f "$RUN_DIR/env" ] || fail "not running (no $RUN_DIR/env)"; cmd_status >/dev/null || { cmd_status >&2; exit 1; }; cat "$RUN_DIR/env" ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
