# Sourced by the scripts: where caches live, so repeated runs are fast and the clone stays clean.
export EVENTFLOW_CACHE=${EVENTFLOW_CACHE:-$HOME/.cache/eventflow}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$EVENTFLOW_CACHE/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# zlib linked statically into every build, as the runtime image (no libz.so) needs: one setting
# for the images' release build, the benchmarks and the tests, so none rebuilds the others' crates.
export LIBZ_SYS_STATIC=1
# Go builds of the dev servers (FerretDB, the Kubernetes control plane, kwok, helm) keep their module
# and build caches there too, use the machine's Go only (no toolchain download) and need no cgo.
export GOMODCACHE=${GOMODCACHE:-$EVENTFLOW_CACHE/go/mod}
export GOCACHE=${GOCACHE:-$EVENTFLOW_CACHE/go/build}
export GOTOOLCHAIN=local CGO_ENABLED=0
