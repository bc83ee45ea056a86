#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, checks and
# compiles the bundled example organization into the plan deployd runs, then
# runs deployd on it: 1.0.0 of every service rolls out through
# dev -> staging -> prod-eu | prod-us on real local processes, and a failing
# api 2.0.0 is rolled back in staging (scripts/demo-rollout.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p .deploy
run() { echo; echo "\$ $*"; "$@"; }
run build/bin/deployc check examples/acme
run build/bin/deployc compile examples/acme -o .deploy/plan.json
echo "wrote .deploy/plan.json ($(wc -c < .deploy/plan.json) bytes, $(grep -m1 '"hash"' .deploy/plan.json | tr -d ' ,'))"
run build/bin/deployc explain examples/acme api@prod-eu
echo
python3 scripts/demo-rollout.py
