#!/usr/bin/env bash
# Checks that a folder bench/gpu/prepare.sh made needs nothing of this
# machine but the C library: it is copied into an empty root holding only
# glibc's loader, libc and libm, and there (chroot, so run it as root) the
# MLP binary trains a few steps on the host kernels and, with no CUDA driver
# in that root, says in one line that no GPU was found.
#
#   bench/gpu/check-standalone.sh [DIR]     (default DIR: build/gpu-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=$(realpath "${1:-build/gpu-bench}")
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/lib64" "$root/lib/x86_64-linux-gnu" "$root/tmp"
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp -L /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libm.so.6 "$root/lib/x86_64-linux-gnu/"
mkdir -p "$root/gpu"
cp -r "$DIR/bin" "$DIR/lib" "$DIR/data" "$DIR/ref" "$root/gpu/"
run() {
  LD_LIBRARY_PATH=/gpu/lib BNN_FASHION_MNIST_DIR=/gpu/data chroot "$root" "$@"
}
echo "the root holds: $(cd "$root" && find . -name '*.so*' | sort | tr '\n' ' ')"
# --max-steps ends the run with status 1 after those steps, on purpose.
run /gpu/bin/mlp train --device cpu --config /gpu/ref/epoch.toml --max-steps 3 > "$root/tmp/out" 2>&1 || true
tail -n 1 "$root/tmp/out"
grep -q "stopped after 3 steps" "$root/tmp/out"
if run /gpu/bin/mlp train --config /gpu/ref/epoch.toml > "$root/tmp/out" 2>&1; then
  echo "FAIL: train without a GPU succeeded"; exit 1
fi
tail -n 1 "$root/tmp/out"
grep -q "error: no GPU found" "$root/tmp/out"
echo "PASS: the prepared binaries run with glibc alone"
