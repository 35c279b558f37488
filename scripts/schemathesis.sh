#!/usr/bin/env bash
# Installs schemathesis (the OpenAPI fuzzer the producer's contract test runs), pinned, from PyPI
# into a virtualenv under the cache, and prints the path of its `st` command. pip's progress is
# shown on stderr; a failing install prints pip's output and exits non-zero.
#   scripts/schemathesis.sh            install when missing, print the path of `st`
#   scripts/schemathesis.sh --version  the pinned version
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

VERSION=4.32.5
if [ "${1:-}" = --version ]; then echo "$VERSION"; exit 0; fi
venv=$EVENTFLOW_CACHE/tools/schemathesis-$VERSION
st=$venv/bin/st

# schemathesis keeps a cache (.schemathesis/) in its working directory: never the checkout's.
if [ ! -x "$st" ] || ! (cd "$EVENTFLOW_CACHE" && "$st" --version 2>/dev/null) | grep -q "$VERSION"; then
  echo "schemathesis: installing $VERSION from PyPI into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  if ! "$venv/bin/pip" install --progress-bar on --disable-pip-version-check \
       "schemathesis==$VERSION" >&2; then
    echo "schemathesis: pip install schemathesis==$VERSION failed (output above)" >&2
    rm -rf "$venv"
    exit 1
  fi
fi
echo "$st"
