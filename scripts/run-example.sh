#!/usr/bin/env bash
# The main job: builds bnnc, compiles the binary MLP of
# examples/fmnist_mlp.bnn into a training binary and trains it on
# Fashion-MNIST for a short run (examples/fmnist_quick.toml), printing the
# test error after each epoch. Pass another run configuration to change it:
#   scripts/run-example.sh examples/fmnist.toml
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CONFIG=${1:-examples/fmnist_quick.toml}

bash scripts/build.sh
echo "== bnnc compile examples/fmnist_mlp.bnn -o $BUILD_DIR/fmnist_mlp"
"$BUILD_DIR/bin/bnnc" compile examples/fmnist_mlp.bnn -o "$BUILD_DIR/fmnist_mlp"
echo "== $BUILD_DIR/fmnist_mlp train --config $CONFIG"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} \
  "$BUILD_DIR/fmnist_mlp" train --config "$CONFIG" \
  --metrics "$BUILD_DIR/fmnist_mlp.metrics.jsonl" \
  --checkpoint-dir "$BUILD_DIR/fmnist_mlp.checkpoints"
echo "== metrics: $BUILD_DIR/fmnist_mlp.metrics.jsonl, checkpoint: $BUILD_DIR/fmnist_mlp.checkpoints/checkpoint.bin"
