#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and checks the
# bundled example organization, printing its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
echo
echo "$ build/bin/deployc check examples/acme"
build/bin/deployc check examples/acme
