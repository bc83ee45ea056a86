#!/usr/bin/env bash
# Installs every Debian package deployc needs to build and test. Idempotent:
# runs `apt-get update` (once) and `apt-get install` only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3
  antlr4 libantlr4-runtime-dev
  llvm-14-dev llvm-14-tools libfmt-dev libyaml-cpp-dev libsqlite3-dev
  libgtest-dev libgmock-dev libcli11-dev tzdata python3-jsonschema
  libhowardhinnant-date-dev libcurl4-openssl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
