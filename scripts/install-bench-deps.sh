#!/usr/bin/env bash
# Extra Debian packages for bench/: the PyTorch reference and OpenBLAS (the
# default reference BLAS is about 13x slower; comparisons use OpenBLAS).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-openmp
