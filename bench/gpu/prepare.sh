#!/usr/bin/env bash
# Prepares the folder that bench/gpu/run.sh takes to a GPU machine: it builds
# nothing there. Everything is compiled here, with --target=host-cuda.
#
#   [BUILD_DIR=build] bench/gpu/prepare.sh [DIR]     (default DIR: build/gpu-bench)
#
# DIR holds (under 64 MiB together):
#   bin/mlp, bin/cnn        examples/fmnist_mlp.bnn and fmnist_cnn.bnn, GPU and host
#                           kernels in one binary each
#   lib/                    the shared libraries they need beyond glibc
#                           (libstdc++, libgomp, zlib, TOML++), found with ldd
#   data/                   the Fashion-MNIST files of dataset-fashion-mnist
#   parity/NAME/            small models for the GPU/CPU parity check: the binary,
#                           initial params (init.bin), a batch (batch.bin), and
#                           the losses and logits bnn-reference (the IR run op
#                           by op with bnnrt's float reference, on this machine)
#                           returns for one step from them (reference/)
#   ref/mlp_epoch.jsonl     one epoch of fmnist_mlp on this machine's CPU, the
#                           figure the GPU epoch's test error is held to
#   run.sh, torch_bnn.py    the check itself and the PyTorch reference
#
# DIR-host/parity/NAME/ keeps what stays here: bnn-reference's whole step
# (checkpoint included) and the host kernels' step (cpu/).
# Then: the device tool carries DIR and runs `DIR/run.sh DIR`; back here,
# bench/gpu/check-parity.sh compares the GPU's step outputs with DIR-host.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-build/gpu-bench}
BUILD_DIR=${BUILD_DIR:-build}
BUILD_DIR=$BUILD_DIR scripts/build.sh > /dev/null
BNNC=$BUILD_DIR/bin/bnnc
REFERENCE=$BUILD_DIR/bin/bnn-reference

HOST=$DIR-host
rm -rf "$DIR" "$HOST"
mkdir -p "$DIR/bin" "$DIR/lib" "$DIR/data" "$DIR/ref" "$DIR/parity"
echo "compiling the example models for the GPU (about a minute each)"
"$BNNC" compile --target=host-cuda examples/fmnist_mlp.bnn -o "$DIR/bin/mlp"
"$BNNC" compile --target=host-cuda examples/fmnist_cnn.bnn -o "$DIR/bin/cnn"

# Parity models: the lit tests' small MLP and convnets (real, binary,
# residual), at the differential tests' batch of 16 (larger models and
# batches put some pre-activation within float noise of 0, where sign() and
# so the whole step differ between any two summation orders: the host
# kernels fail the comparison as often as the GPU's there).
parity_model() {
  local name=$1 source=$2 batch=$3; shift 3
  local out=$DIR/parity/$name host=$HOST/parity/$name
  mkdir -p "$out/reference" "$host"
  "$BNNC" compile --target=host-cuda "$@" "$source" -o "$out/model"
  "$BNNC" --emit=train "$@" "$source" -o "$host/ir.mlir"
  "$out/model" init --checkpoint "$out/init.bin"
  "$REFERENCE" make-batch "$host/ir.mlir" --batch "$batch" --seed 2 -o "$out/batch.bin"
  "$REFERENCE" run "$host/ir.mlir" --checkpoint "$out/init.bin" --batch "$out/batch.bin" \
    --out "$host/reference" --lr 0.01 > /dev/null
  cp "$host/reference/eval.bin" "$host/reference/train.bin" "$out/reference/"
  # The host kernels of the same binary, as the lit tests check them.
  "$out/model" step --device cpu --checkpoint "$out/init.bin" --batch "$out/batch.bin" \
    --out "$host/cpu" --lr 0.01
  strip "$out/model"
}
echo "parity models and their reference steps"
parity_model tiny_mlp test/lit/E2E/Inputs/tiny.bnn 16
parity_model tiny_cnn test/lit/E2E/Inputs/tiny_cnn.bnn 16
parity_model tiny_bcnn test/lit/E2E/Inputs/tiny_bcnn.bnn 16
parity_model tiny_bresnet test/lit/E2E/Inputs/tiny_bresnet.bnn 16

# Shared libraries beyond glibc (which the GPU machine has, newer).
for binary in "$DIR/bin/mlp" "$DIR/bin/cnn"; do
  ldd "$binary" | awk '/=> \// {print $3}'
done | sort -u | while read -r library; do
  case "$(basename "$library")" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*) ;;
    *) cp -L "$library" "$DIR/lib/" ;;
  esac
done

strip "$DIR/bin/mlp" "$DIR/bin/cnn"
DATA=${BNN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cp "$DATA"/*-idx?-ubyte.gz "$DIR/data/"

echo "one epoch of fmnist_mlp on this machine's CPU (the accuracy the GPU is held to)"
cat > "$DIR/ref/epoch.toml" <<EOF
[train]
epochs = 1
batch = 100
EOF
BNN_FASHION_MNIST_DIR=$DIR/data "$DIR/bin/mlp" train --device cpu --config "$DIR/ref/epoch.toml" \
  --metrics "$DIR/ref/mlp_epoch.jsonl" > /dev/null

cp bench/gpu/run.sh bench/reference/torch_bnn.py "$DIR/"
du -sh "$DIR"
