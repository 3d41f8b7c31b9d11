#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when one is missing.
# Idempotent and quick when everything is present; non-interactive.
set -euo pipefail
pkgs=(
  cmake g++ make pkg-config git
  libsystemc-dev libboost-program-options-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev googletest libbenchmark-dev
  python3 python3-numpy python3-torch libopenblas0-pthread dataset-fashion-mnist
  python3-matplotlib libpagmo-dev libsqlite3-dev
  openmpi-bin libopenmpi-dev libboost-mpi-dev
)
# scripts/fuzz.sh: clang and libFuzzer
if [ "${HEATVIT_FUZZ_DEPS:-0}" = 1 ]; then pkgs+=(clang libfuzzer-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
