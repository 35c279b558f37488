#!/usr/bin/env bash
# promtool, built pinned from the Go module proxy (wrapper module deploy/promtool/, Prometheus 3.x is
# Go module v0.3xx.y) into a cache outside the checkout, and the checks of the chart's alerting rules.
#
#   scripts/promtool.sh install   build promtool (no-op when the pinned version is present)
#   scripts/promtool.sh path      install if needed, print the binary's path
#   scripts/promtool.sh test      install if needed, then `promtool check rules` on the shipped rules and
#                                 `promtool test rules` on their unit tests (every alert fires in one)
#   scripts/promtool.sh -- ARGS   install if needed, run promtool with ARGS
#
# EVENTFLOW_CACHE (default ~/.cache/eventflow) holds the build in tools/promtool-<version>/bin.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/env.sh
source "$HERE/env.sh"
MOD=$(cd "$HERE/../deploy/promtool" && pwd)
RULES=$(cd "$HERE/../charts/eventflow/rules" && pwd)
MODULE=github.com/prometheus/prometheus
# The wrapper's go.mod is the single source of truth for the version.
VERSION=$(awk -v m="$MODULE" '$1 == m { print $2; exit }' "$MOD/go.mod")
# Module v0.316.0 is Prometheus 3.16.0.
RELEASE=$(echo "$VERSION" | sed -E 's/^v0\.([0-9])([0-9]{2})\.([0-9]+)$/\1.\2.\3/; s/\.0([0-9])/.\1/')
BIN=$EVENTFLOW_CACHE/tools/promtool-$RELEASE/bin
# Upstream's build tag that leaves every service-discovery plugin (and its cloud SDK) out: rule
# checks and rule tests need none, and the cold build gets much smaller.
TAGS=remove_all_sd
STAMP="$VERSION $TAGS"

say() { printf 'promtool: %s\n' "$*" >&2; }

installed() { [ -x "$BIN/promtool" ] && [ "$(cat "$BIN/.promtool.version" 2>/dev/null)" = "$STAMP" ]; }

cmd_install() {
  local start=$SECONDS v=github.com/prometheus/common/version
  installed && return
  mkdir -p "$BIN"
  say "building promtool $RELEASE ($MODULE $VERSION) into $BIN"
  # As upstream's release build stamps it (.promu.yml), so `promtool --version` names the release.
  local flags="-s -w -X $v.Version=$RELEASE -X $v.Branch=release -X $v.BuildUser=eventflow"
  # -mod=readonly: the committed go.sum must be complete; `go build -v` lists each package it
  # compiles: show a line every 100.
  go build -C "$MOD" -mod=readonly -trimpath -v -tags "$TAGS" -ldflags "$flags" -o "$BIN/.promtool.tmp" \
    "$MODULE/cmd/promtool" 2>&1 | awk '
      /^[^ :]+$/ { n++; if (n % 100 == 0) { printf "promtool:   %d packages compiled (%s)\n", n, $0; fflush() } next }
      { print; fflush() }
      END { if (n) printf "promtool:   %d packages compiled\n", n }' >&2
  [ "${PIPESTATUS[0]}" = 0 ] || { say "building promtool failed (output above)"; rm -f "$BIN/.promtool.tmp"; exit 1; }
  mv "$BIN/.promtool.tmp" "$BIN/promtool"
  echo "$STAMP" >"$BIN/.promtool.version"
  say "built promtool in $((SECONDS - start)) s"
}

cmd_test() {
  cmd_install
  say "check rules: $RULES/eventflow.rules.yaml"
  "$BIN/promtool" check rules "$RULES/eventflow.rules.yaml"
  say "test rules: $RULES/tests/*.yaml"
  (cd "$RULES/tests" && "$BIN/promtool" test rules ./*.yaml)
}

case ${1:-} in
  install) cmd_install ;;
  path) cmd_install; echo "$BIN/promtool" ;;
  test) cmd_test ;;
  --) shift; cmd_install; exec "$BIN/promtool" "$@" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
