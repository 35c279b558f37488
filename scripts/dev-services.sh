#!/usr/bin/env bash
# Dev services for tests, benchmarks and the local runtime: a Kafka-protocol broker (tansu) and a
# MongoDB-wire-protocol server (nx-27017), installed pinned from crates.io and PyPI into a cache
# outside the checkout and run on free loopback ports.
#
#   scripts/dev-services.sh install   install both (no-op when present)
#   scripts/dev-services.sh start     install if needed, start both, wait until they answer, print env
#   scripts/dev-services.sh env       print the addresses as `export` lines
#   scripts/dev-services.sh status    running / crashed / not answering, per service (exit 1 unless all answer)
#   scripts/dev-services.sh stop      stop exactly the processes this run directory started (by PID)
#
# EVENTFLOW_CACHE (default ~/.cache/eventflow) holds the installs; EVENTFLOW_RUN_DIR (default
# $EVENTFLOW_CACHE/run/default) holds PIDs, ports, logs and data of one set of running services,
# so separate run directories give independent sets.
set -euo pipefail

TANSU_VERSION=0.6.0
NX_VERSION=0.8.1
CACHE=${EVENTFLOW_CACHE:-$HOME/.cache/eventflow}
RUN_DIR=${EVENTFLOW_RUN_DIR:-$CACHE/run/default}
TANSU_ROOT=$CACHE/tools/tansu-$TANSU_VERSION
TANSU_BIN=$TANSU_ROOT/bin/tansu
NX_VENV=$CACHE/tools/nx-27017-$NX_VERSION
NX_BIN=$NX_VENV/bin/nx-27017
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$HERE/probe.py
SERVICES=(kafka mongodb)

say() { printf 'dev-services: %s\n' "$*" >&2; }

install_tansu() {
  [ -x "$TANSU_BIN" ] && return
  say "building tansu $TANSU_VERSION from crates.io into $TANSU_ROOT (about 10 minutes on 2 cores; once)"
  mkdir -p "$CACHE"
  CARGO_TARGET_DIR=$CACHE/tansu-target cargo install --locked tansu --version "$TANSU_VERSION" \
    --features libsql --root "$TANSU_ROOT" 2>&1 | grep --line-buffered -E 'Compiling|Installed|error' >&2 || true
  [ -x "$TANSU_BIN" ] || { say "tansu install failed"; exit 1; }
  rm -rf "$CACHE/tansu-target"
}

install_nx() {
  [ -x "$NX_BIN" ] && return
  say "installing nx-27017 $NX_VERSION from PyPI into $NX_VENV"
  python3 -m venv "$NX_VENV"
  "$NX_VENV/bin/pip" install --quiet --disable-pip-version-check "nx-27017==$NX_VERSION"
  [ -x "$NX_BIN" ] || { say "nx-27017 install failed"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
port_of() { cat "$RUN_DIR/$1.port" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
answers() { python3 "$PROBE" "$1" "127.0.0.1:$(port_of "$1")" >/dev/null 2>&1; }

launch() {
  local service=$1 port
  port=$(free_port)
  echo "$port" >"$RUN_DIR/$service.port"
  case $service in
    kafka)
      mkdir -p "$RUN_DIR/kafka-data"
      # tansu resolves the sqlite:// path against its working directory (a leading / is lost).
      (cd "$RUN_DIR" && NO_COLOR=1 exec "$TANSU_BIN" broker \
        --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "sqlite://kafka-data/tansu.db") >"$RUN_DIR/kafka.log" 2>&1 </dev/null &
      ;;
    mongodb)
      nohup "$NX_BIN" --db memory --host 127.0.0.1 -p "$port" \
        --log-file "$RUN_DIR/mongodb.server.log" --pid-file "$RUN_DIR/mongodb.server.pid" \
        >"$RUN_DIR/mongodb.log" 2>&1 </dev/null &
      ;;
  esac
  echo $! >"$RUN_DIR/$service.pid"
}

wait_until_answering() {
  local service=$1
  for _ in $(seq 1 120); do
    if answers "$service"; then return 0; fi
    if ! alive "$service"; then
      say "$service exited during start-up; last log lines:"; tail -n 20 "$RUN_DIR/$service.log" >&2
      return 1
    fi
    sleep 0.5
  done
  say "$service did not answer within 60 s; last log lines:"; tail -n 20 "$RUN_DIR/$service.log" >&2
  return 1
}

print_env() {
  echo "export EVENTFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$(port_of kafka)"
  echo "export EVENTFLOW_MONGODB_URI=mongodb://127.0.0.1:$(port_of mongodb)/?directConnection=true"
  echo "export EVENTFLOW_DEV_SERVICES_DIR=$RUN_DIR"
}

cmd_start() {
  install_tansu
  install_nx
  mkdir -p "$RUN_DIR"
  for service in "${SERVICES[@]}"; do
    if alive "$service" && answers "$service"; then
      say "$service already running on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"))"
      continue
    fi
    if [ -n "$(pid_of "$service")" ]; then
      say "$service (pid $(pid_of "$service")) had crashed or stopped answering; last log lines:"
      tail -n 10 "$RUN_DIR/$service.log" >&2 || true
      stop_service "$service"
    fi
    launch "$service"
    wait_until_answering "$service" || exit 1
    say "$service answering on 127.0.0.1:$(port_of "$service") (pid $(pid_of "$service"))"
  done
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

stop_service() {
  local service=$1 pid
  pid=$(pid_of "$service")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$service.pid" "$RUN_DIR/$service.port"
}

cmd_stop() {
  for service in "${SERVICES[@]}"; do stop_service "$service"; done
  rm -rf "$RUN_DIR/kafka-data" "$RUN_DIR/env"
  say "stopped (run directory $RUN_DIR)"
}

case ${1:-} in
  install) install_tansu; install_nx ;;
  start) cmd_start ;;
  env) [ -f "$RUN_DIR/env" ] || { say "not running (no $RUN_DIR/env)"; exit 1; }; cmd_status >/dev/null || { cmd_status >&2; exit 1; }; cat "$RUN_DIR/env" ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
