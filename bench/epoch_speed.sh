#!/usr/bin/env bash
# One training epoch of examples/fmnist_mlp.bnn (Fashion-MNIST, batch 100,
# 2 threads): bnnc against the PyTorch reference (OpenBLAS), alternating,
# REPEATS times each (default 3). Prints every run and the medians and their
# ratio. Run it on an otherwise idle machine. With BASELINE_BNNC set to the
# bnnc of an earlier build, its binary is timed in the same rounds too (a
# regression check that does not depend on PyTorch's own noise).
#
#   [BASELINE_BNNC=old/build/bin/bnnc] bench/epoch_speed.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
BUILD_DIR=${BUILD_DIR:-build}
export OMP_NUM_THREADS=2
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp

"$BUILD_DIR/bin/bnnc" compile examples/fmnist_mlp.bnn -o "$BUILD_DIR/fmnist_mlp"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${BASELINE_BNNC:-}" ]; then
  "$BASELINE_BNNC" compile examples/fmnist_mlp.bnn -o "$work/baseline"
fi
printf '[train]\nepochs = 1\nbatch = 100\n' > "$work/one.toml"

for i in $(seq "$REPEATS"); do
  "$BUILD_DIR/fmnist_mlp" train --config "$work/one.toml" --metrics "$work/bnnc$i.jsonl" > /dev/null 2>&1
  if [ -n "${BASELINE_BNNC:-}" ]; then
    "$work/baseline" train --config "$work/one.toml" --metrics "$work/baseline$i.jsonl" > /dev/null 2>&1
    echo "run $i: baseline bnnc $(grep -o '"images_per_s": [0-9.]*' "$work/baseline$i.jsonl" | cut -d' ' -f2) images/s"
  fi
  LD_LIBRARY_PATH=$OPENBLAS /usr/bin/python3 bench/reference/torch_bnn.py --epochs 1 \
    --metrics "$work/torch$i.jsonl" > /dev/null
  echo "run $i: bnnc $(grep -o '"images_per_s": [0-9.]*' "$work/bnnc$i.jsonl" | cut -d' ' -f2) images/s," \
       "PyTorch $(grep -o '"images_per_s": [0-9.]*' "$work/torch$i.jsonl" | cut -d' ' -f2) images/s"
done
/usr/bin/python3 - "$work" "$REPEATS" <<'PY'
import json, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
def median(name):
    return statistics.median(json.loads(open(f"{work}/{name}{i}.jsonl").readline())["images_per_s"]
                             for i in range(1, repeats + 1))
ours, ref = median("bnnc"), median("torch")
print(f"median images/s over {repeats} epochs: bnnc {ours:.0f}, PyTorch (OpenBLAS, 2 threads) {ref:.0f}, "
      f"ratio {ours / ref:.2f}x")
import os
if os.path.exists(f"{work}/baseline1.jsonl"):
    base = median("baseline")
    print(f"baseline bnnc {base:.0f} images/s (ratio to PyTorch {base / ref:.2f}x); "
          f"this build / baseline {ours / base:.2f}x")
PY
