#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, then runs the
# compiler on the bundled example organization: check it, compile it into
# the plan deployd will run, and explain one unit.
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
