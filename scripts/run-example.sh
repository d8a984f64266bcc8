#!/usr/bin/env bash
# The main job: builds bnnc, compiles the example binary MLP for
# Fashion-MNIST and prints its verified bnn dialect IR.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

bash scripts/build.sh
echo "== bnnc examples/fmnist_mlp.bnn (bnn dialect IR)"
"$BUILD_DIR/bin/bnnc" examples/fmnist_mlp.bnn -o "$BUILD_DIR/fmnist_mlp.mlir"
cat "$BUILD_DIR/fmnist_mlp.mlir"
echo "== bnn-opt parses it back unchanged"
"$BUILD_DIR/bin/bnn-opt" "$BUILD_DIR/fmnist_mlp.mlir" | diff - "$BUILD_DIR/fmnist_mlp.mlir" && echo "round trip: identical"
echo "== Fashion-MNIST (for training, next): $(ls /usr/share/datasets/fashion-mnist 2>/dev/null | tr '\n' ' ')"
