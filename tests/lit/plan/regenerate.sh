#!/bin/sh
# Regenerates the golden plan(s) of tests/lit/plan from the examples with the
# built compiler. Golden outputs are never edited by hand: change the
# compiler or the example, run this script, and review the diff.
#
#   tests/lit/plan/regenerate.sh            # uses build/bin/deployc
#   DEPLOYC=/path/to/deployc tests/lit/plan/regenerate.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
deployc=${DEPLOYC:-"$root/build/bin/deployc"}
if [ ! -x "$deployc" ]; then
  echo "regenerate.sh: no compiler at $deployc (build first: cmake --build build)" >&2
  exit 1
fi
"$deployc" compile "$root/examples/acme" -o "$here/Inputs/acme.plan.json"
echo "regenerated $here/Inputs/acme.plan.json"
