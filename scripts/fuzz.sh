#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target (or those named: scripts/fuzz.sh envelope query ...)
# for FUZZ_SECONDS each (default 60), one at a time, and prints executions and exec/s per target.
#
# Stable Rust only: cargo-fuzz builds with `--sanitizer none`, which needs no nightly flag
# (coverage instrumentation is plain `-C` options; libFuzzer is built from C++ by libfuzzer-sys).
# What is lost without AddressSanitizer is nothing for this code (no unsafe); panics, hangs
# (-timeout) and memory blow-ups (-rss_limit_mb, -malloc_limit_mb) are all caught.
#
# Everything it writes lives in $EVENTFLOW_CACHE/fuzz: build output (or FUZZ_TARGET_DIR), the growing corpora
# (seeded from <crate>/fuzz/seeds/<target>) and crash artefacts. A crash stops that target,
# prints the input, and the run goes on with the next; the exit status says whether any failed.
# To keep a crash as a regression test: copy the artefact into <crate>/fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

CARGO_FUZZ_VERSION=0.13.2
TOOLS=$EVENTFLOW_CACHE/tools/cargo-fuzz
WORK=$EVENTFLOW_CACHE/fuzz
# One build directory for both crates: the operator's build reuses the shared dependencies.
TARGET_DIR=${FUZZ_TARGET_DIR:-$WORK/target}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
# crate:target, in the order they run.
ALL=(workloads:envelope workloads:consumer_record workloads:query workloads:kafka_properties
  operator:pipeline_yaml)

step() { printf '\n==> %s\n' "$*"; }

if [ "$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS"
  CARGO_TARGET_DIR=$WORK/install cargo install --locked cargo-fuzz \
    --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
fi
export PATH=$TOOLS/bin:$PATH

selected=()
for entry in "${ALL[@]}"; do
  if [ $# -eq 0 ] || [[ " $* " == *" ${entry#*:} "* ]]; then selected+=("$entry"); fi
done
[ ${#selected[@]} -gt 0 ] || { echo "no such target: $* (known: ${ALL[*]#*:})" >&2; exit 2; }

results=()
failed=0
for entry in "${selected[@]}"; do
  crate=${entry%%:*} target=${entry#*:}
  corpus=$WORK/corpus/$target artifacts=$WORK/artifacts/$target log=$WORK/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  step "$crate/fuzz: building $target"
  (cd "$crate" && cargo fuzz build --sanitizer none --target-dir "$TARGET_DIR" "$target")
  step "$crate/fuzz: $target for ${SECONDS_PER_TARGET}s (log: $log)"
  set +e
  # The new corpus entries go to the first directory; the committed seeds and regressions are
  # read only. libFuzzer's progress lines (pulse, new coverage) are shown as they come.
  # libFuzzer stops at a corpus directory that does not exist: pass only those that do.
  inputs=()
  for dir in "fuzz/seeds/$target" "fuzz/regressions/$target"; do
    [ -d "$crate/$dir" ] && inputs+=("$dir")
  done
  (cd "$crate" && cargo fuzz run --sanitizer none --target-dir "$TARGET_DIR" "$target" \
    "$corpus" "${inputs[@]}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=65536 -artifact_prefix="$artifacts/" -print_final_stats=1) >"$log" 2>&1 &
  runner=$!
  tail -n +1 --pid=$runner -f "$log" | grep --line-buffered -E 'INITED|pulse|DONE|panicked|ERROR|SUMMARY|Test unit written'
  wait $runner
  status=$?
  set -e
  runs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ { print $NF }' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "---- $target FAILED (exit $status); the end of its log:"
    tail -n 40 "$log"
    echo "---- crash inputs in $artifacts; keep them as regressions: cp $artifacts/* $crate/fuzz/regressions/$target/"
  fi
  results+=("$(printf '%-18s %-10s %12s executions %8s exec/s  %s' "$target" "$crate" \
    "${runs:-?}" "${rate:-?}" "$([ "$status" -eq 0 ] && echo ok || echo FAILED)")")
done

step "fuzz summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${results[@]}"
exit "$failed"
