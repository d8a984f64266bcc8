#!/usr/bin/env bash
# Builds bnnc and runs every test: GoogleTest units and the lit suite (one
# ctest entry; lit prints each file), through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

bash scripts/build.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
