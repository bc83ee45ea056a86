#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every test
# (GoogleTest unit tests and the lit/FileCheck golden tests) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
