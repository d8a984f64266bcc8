#!/usr/bin/env bash
# bnnc against the independent PyTorch reference (bench/reference/torch_bnn.py)
# on Fashion-MNIST: examples/fmnist_mlp.bnn, 10 epochs, batch 100, Adam
# 1e-3 -> 1e-5, seed 0, for each lambda given (default: 0 and 2). Both run
# one after the other with 2 threads; PyTorch uses OpenBLAS. Prints a table
# of final test errors and epoch throughput, and writes the per-epoch
# metrics to bench/results/.
#
#   bench/compare_fmnist.sh [EPOCHS] [LAMBDA...]
# Needs: scripts/install-bench-deps.sh (python3-torch, OpenBLAS).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-10}
shift || true
LAMBDAS=("${@:-0 2}")
read -r -a LAMBDAS <<< "${LAMBDAS[*]}"
BUILD_DIR=${BUILD_DIR:-build}
OUT=bench/results
mkdir -p "$OUT"
export OMP_NUM_THREADS=2
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp

"$BUILD_DIR/bin/bnnc" compile examples/fmnist_mlp.bnn -o "$BUILD_DIR/fmnist_mlp"
config=$(mktemp --suffix=.toml)
trap 'rm -f "$config"' EXIT
cat > "$config" <<TOML
[train]
epochs = $EPOCHS
batch = 100
seed = 0
[optimizer]
lr = 1e-3
lr_final = 1e-5
TOML

for lambda in "${LAMBDAS[@]}"; do
  echo "== bnnc, lambda = $lambda"
  "$BUILD_DIR/fmnist_mlp" train --config "$config" --set "lambda=$lambda" \
    --metrics "$OUT/bnnc_lambda$lambda.jsonl"
  echo "== PyTorch (OpenBLAS), lambda = $lambda"
  LD_LIBRARY_PATH=$OPENBLAS /usr/bin/python3 bench/reference/torch_bnn.py \
    --lambda "$lambda" --epochs "$EPOCHS" --metrics "$OUT/torch_lambda$lambda.jsonl"
done

/usr/bin/python3 - "$OUT" "${LAMBDAS[@]}" <<'PY'
import json, statistics, sys
out, lambdas = sys.argv[1], sys.argv[2:]
def rows(name):
    return [json.loads(line) for line in open(f"{out}/{name}.jsonl")]
lines = ["| lambda | bnnc test error % | PyTorch test error % | difference | bnnc images/s (median epoch) | PyTorch images/s | speed ratio |",
         "|---|---|---|---|---|---|---|"]
for lam in lambdas:
    ours, ref = rows(f"bnnc_lambda{lam}"), rows(f"torch_lambda{lam}")
    a, b = ours[-1]["test_error"], ref[-1]["test_error"]
    sa = statistics.median(r["images_per_s"] for r in ours)
    sb = statistics.median(r["images_per_s"] for r in ref)
    lines.append(f"| {lam} | {a:.2f} | {b:.2f} | {a - b:+.2f} | {sa:.0f} | {sb:.0f} | {sa / sb:.2f}x |")
table = "\n".join(lines)
print(table)
open(f"{out}/fmnist_compare.md", "w").write(table + "\n")
PY
