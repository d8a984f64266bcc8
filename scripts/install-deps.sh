#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running bnnc needs.
# Idempotent: apt-get skips what is already there. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ ccache pkg-config zlib1g-dev
  # compiler stack
  llvm-16-dev libmlir-16-dev mlir-16-tools llvm-16-tools
  libhalide14-0-dev
  libtomlplusplus-dev
  # tests
  libgtest-dev python3
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer, and its OpenMP runtime
  # for libbnnrt
  clang-16 libfuzzer-16-dev libomp-16-dev
  # data-parallel training (bnnc compile --mpi) and its tests (mpirun)
  libopenmpi-dev openmpi-bin
  # data for the examples
  dataset-fashion-mnist
  # plots of `bnnc report`
  gnuplot-nox
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
