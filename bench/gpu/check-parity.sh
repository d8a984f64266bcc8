#!/usr/bin/env bash
# Back on the build machine: compares the GPU's step outputs (parity.tgz,
# written by bench/gpu/run.sh) with bnn-reference's steps that
# bench/gpu/prepare.sh computed from the same params and batches, with the
# differential test's own comparison (bnn-reference compare, its default
# tolerances: the same judgement as the lit tests give the host kernels).
# The host kernels' step (cpu/) is compared too, as a control.
#
#   [BUILD_DIR=build] bench/gpu/check-parity.sh PARITY.tgz [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVE=$(realpath "${1:?usage: check-parity.sh PARITY.tgz [DIR]}")
DIR=${2:-build/gpu-bench}
REFERENCE=${BUILD_DIR:-build}/bin/bnn-reference
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$ARCHIVE" -C "$work"
status=0
for model in "$DIR-host"/parity/*/; do
  name=$(basename "$model")
  for run in gpu cpu; do
    outputs=$work/parity/$name
    [ "$run" = cpu ] && outputs=$model/cpu
    if [ ! -f "$outputs/train.bin" ]; then
      echo "FAIL $name ($run): no step outputs"
      status=1
      continue
    fi
    if "$REFERENCE" compare "$outputs" "$model/reference" --lr 0.01 > "$work/$name-$run.txt"; then
      echo "PASS $name ($run): $(tail -n 1 "$work/$name-$run.txt")"
    else
      echo "FAIL $name ($run):"
      grep -v "^ok" "$work/$name-$run.txt" | head -n 20
      status=1
    fi
  done
done
exit $status
