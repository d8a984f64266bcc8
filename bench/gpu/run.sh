#!/usr/bin/env bash
# The GPU check, run on a GPU machine from a folder bench/gpu/prepare.sh made
# (it builds nothing; it needs the NVIDIA driver, and python3 with PyTorch
# and numpy for the reference). Prints a table; writes its files to OUT.
#
#   [DEVICE=cuda|cpu] [TRAIN_IMAGES=10240] [BUDGET=420] DIR/run.sh DIR [OUT]
#
#   1. parity: one `step --device DEVICE` of each parity model from its
#      initial params and batch; the outputs go to OUT/parity.tgz, which
#      bench/gpu/check-parity.sh compares (here: the losses, at a glance)
#   2. accuracy: one epoch of fmnist_mlp (all of Fashion-MNIST, batch 100)
#      against the CPU epoch prepare.sh ran (issue 8: within 0.5 points)
#   3. speed: fmnist_mlp and fmnist_cnn training (the second of 2 epochs on
#      the first TRAIN_IMAGES training images) and inference (eval of 10000
#      test images) at batch 100 and 1024, against torch_bnn.py on the same
#      device, same images, same batch
# A run past BUDGET seconds skips the speed runs left (the table marks them
# "-"), so that the whole stays inside a GPU lease.
# DEVICE=cpu is the dry run on a machine without a GPU (bnnc's host kernels,
# PyTorch on the CPU).
set -uo pipefail
DIR=$(cd "${1:?usage: run.sh DIR [OUT]}" && pwd)
OUT=${2:-$DIR/out}
DEVICE=${DEVICE:-cuda}
TRAIN_IMAGES=${TRAIN_IMAGES:-10240}
BUDGET=${BUDGET:-420}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export LD_LIBRARY_PATH=$DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export BNN_FASHION_MNIST_DIR=$DIR/data
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "== $* (${SECONDS} s)"; }
in_budget() { [ "$SECONDS" -lt "$BUDGET" ] || { echo "skipped (past ${BUDGET} s): $*"; false; }; }

log "machine"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
grep -m1 "model name" /proc/cpuinfo
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || true

log "1. parity: one step of each parity model on $DEVICE"
mkdir -p "$OUT/parity"
for model in "$DIR"/parity/*/; do
  name=$(basename "$model")
  timeout 120 "$model/model" step --device "$DEVICE" --checkpoint "$model/init.bin" \
    --batch "$model/batch.bin" --out "$OUT/parity/$name" --lr 0.01 ||
    echo "parity $name: step FAILED (status $?)"
done
tar czf "$OUT/parity.tgz" -C "$OUT" parity
"$PYTHON" - "$DIR" "$OUT" <<'PY' | tee "$OUT/parity.txt"
import struct, sys, os
root, out = sys.argv[1], sys.argv[2]
def loss(path):
    with open(path, "rb") as f:
        batch, classes = struct.unpack("<qq", f.read(16))
        return struct.unpack("<f", f.read(4))[0]
for name in sorted(os.listdir(f"{root}/parity")):
    for step in ("eval", "train"):
        mine = f"{out}/parity/{name}/{step}.bin"
        if not os.path.exists(mine):
            print(f"parity {name} {step}: no output"); continue
        a, b = loss(mine), loss(f"{root}/parity/{name}/reference/{step}.bin")
        print(f"parity {name} {step} loss: {a:.6f} here, {b:.6f} reference, "
              f"|diff| {abs(a - b):.2e}")
PY

log "2. accuracy: one epoch of fmnist_mlp on $DEVICE"
timeout 150 "$DIR/bin/mlp" train --device "$DEVICE" --config "$DIR/ref/epoch.toml" \
  --metrics "$OUT/mlp_epoch.jsonl" --checkpoint-dir "$work/epoch" || echo "epoch FAILED (status $?)"
# The checkpoint is the same format on either device: evaluated by both.
for device in "$DEVICE" cpu; do
  echo "eval --device $device of that checkpoint:"
  timeout 120 "$DIR/bin/mlp" eval --device "$device" --checkpoint "$work/epoch/checkpoint.bin" \
    --config "$DIR/ref/epoch.toml" 2>&1 | tail -n 1
done

log "3. speed"
"$PYTHON" - "$work" "$TRAIN_IMAGES" <<'PY'
import gzip, os, sys
work, train = sys.argv[1], int(sys.argv[2])
data = os.environ["BNN_FASHION_MNIST_DIR"]
for prefix, count in (("train", train), ("t10k", 10000)):
    with gzip.open(f"{data}/{prefix}-images-idx3-ubyte.gz") as f:
        head = bytearray(f.read(16)); head[4:8] = count.to_bytes(4, "big")
        open(f"{work}/{prefix}-images", "wb").write(bytes(head) + f.read(count * 784))
    with gzip.open(f"{data}/{prefix}-labels-idx1-ubyte.gz") as f:
        head = bytearray(f.read(8)); head[4:8] = count.to_bytes(4, "big")
        open(f"{work}/{prefix}-labels", "wb").write(bytes(head) + f.read(count))
PY
for model in mlp cnn; do
  for batch in 100 1024; do
    cat > "$work/$model$batch.toml" <<EOF
[data]
train = "idx:$work/train-images,$work/train-labels"
test = "idx:$work/t10k-images,$work/t10k-labels"
[train]
epochs = 2
batch = $batch
EOF
    run=$model-b$batch
    in_budget "$run" || continue
    timeout 120 "$DIR/bin/$model" train --device "$DEVICE" --config "$work/$model$batch.toml" \
      --metrics "$OUT/bnnc-train-$run.jsonl" > "$work/log" 2>&1 ||
      { echo "bnnc train $run FAILED"; tail -3 "$work/log"; }
    "$DIR/bin/$model" init --checkpoint "$work/init.bin" > /dev/null
    timeout 60 "$DIR/bin/$model" eval --device "$DEVICE" --config "$work/$model$batch.toml" \
      --checkpoint "$work/init.bin" --profile="$OUT/bnnc-infer-$run.json" > "$work/log" 2>&1 ||
      { echo "bnnc eval $run FAILED"; tail -3 "$work/log"; }
    steps=$((TRAIN_IMAGES / batch))
    torch=("$PYTHON" "$DIR/torch_bnn.py" --model "$model" --device "$DEVICE" --batch "$batch")
    timeout 120 "${torch[@]}" --steps "$steps" --train-limit "$TRAIN_IMAGES" \
      --metrics "$OUT/torch-train-$run.json" > /dev/null || echo "torch train $run FAILED"
    timeout 60 "${torch[@]}" --mode infer --steps $((10000 / batch)) \
      --metrics "$OUT/torch-infer-$run.json" > /dev/null || echo "torch infer $run FAILED"
    timeout 60 "${torch[@]}" --mode infer --float-infer --steps $((10000 / batch)) \
      --metrics "$OUT/torch-float-$run.json" > /dev/null || echo "torch float $run FAILED"
  done
done

log "where a CNN training step's time goes on $DEVICE (30 steps, kernels timed one by one)"
timeout 60 "$DIR/bin/cnn" train --device "$DEVICE" --config "$work/cnn100.toml" --max-steps 30 \
  --profile="$OUT/bnnc-profile-cnn-train.json" 2>/dev/null | head -n 40

log "results ($DEVICE)"
"$PYTHON" - "$DIR" "$OUT" "$DEVICE" <<'PY' | tee "$OUT/table.md"
import json, os, sys
root, out, device = sys.argv[1:]
def last_line(path, key):
    try:
        lines = [l for l in open(path) if l.strip()]
        return json.loads(lines[-1])[key]
    except (OSError, ValueError, KeyError, IndexError):
        return None
def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"
def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"
cpu = last_line(f"{root}/ref/mlp_epoch.jsonl", "test_error")
gpu = last_line(f"{out}/mlp_epoch.jsonl", "test_error")
print(f"fmnist_mlp, 1 epoch: test error {fmt(gpu, 2)} % on {device}, {fmt(cpu, 2)} % on the CPU "
      f"(difference {fmt(None if gpu is None or cpu is None else gpu - cpu, 2)} points; target within 0.5)\n")
print(f"| model | batch | bnnc train img/s | PyTorch train img/s | ratio | bnnc infer img/s | "
      f"PyTorch binary infer | PyTorch float infer | ratio (vs float) |")
print("|---|---|---|---|---|---|---|---|---|")
for model in ("mlp", "cnn"):
    for batch in (100, 1024):
        run = f"{model}-b{batch}"
        bt = last_line(f"{out}/bnnc-train-{run}.jsonl", "images_per_s")
        tt = last_line(f"{out}/torch-train-{run}.json", "images_per_s")
        prof = f"{out}/bnnc-infer-{run}.json"
        try:
            e = json.load(open(prof))["eval"]
            bi = 10000 * 1000.0 / e["step_ms"]
        except (OSError, ValueError, KeyError):
            bi = None
        ti = last_line(f"{out}/torch-infer-{run}.json", "images_per_s")
        tf = last_line(f"{out}/torch-float-{run}.json", "images_per_s")
        print(f"| {model} | {batch} | {fmt(bt)} | {fmt(tt)} | {ratio(bt, tt)} | {fmt(bi)} | "
              f"{fmt(ti)} | {fmt(tf)} | {ratio(bi, tf)} |")
PY
