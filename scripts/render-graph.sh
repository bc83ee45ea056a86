#!/usr/bin/env bash
# Regenerates docs/acme-graph.png from `deployc graph examples/acme`.
# Needs Graphviz (`apt-get install graphviz`); not part of the build.
set -euo pipefail
cd "$(dirname "$0")/.."
build/bin/deployc graph examples/acme --format dot | dot -Tpng -Gdpi=100 -o docs/acme-graph.png
echo "wrote docs/acme-graph.png"
