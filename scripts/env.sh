# Sourced by the scripts: where caches live, so repeated runs are fast and the clone stays clean.
export EVENTFLOW_CACHE=${EVENTFLOW_CACHE:-$HOME/.cache/eventflow}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$EVENTFLOW_CACHE/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
