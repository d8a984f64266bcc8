#!/usr/bin/env bash
# Training and inference speed and peak memory of examples/fmnist_cnn.bnn
# (or, with the argument `mlp`, examples/fmnist_mlp.bnn) against the PyTorch
# reference bench/reference/torch_bnn.py (OpenBLAS, 2 threads), measured
# alternately in the same rounds, REPEATS rounds (default 3); prints every
# run, then a table of medians with bnnc / PyTorch ratios.
#
#   [REPEATS=3] [STEPS=20] [INFER_STEPS=20] [BATCH=100] [BUILD_DIR=build]
#   [BNNC=path/to/bnnc] bench/cnn_speed.sh [cnn|mlp]
#
# Per round:
#   bnnc train        the compiled binary trains 2 epochs on the first
#                     STEPS*BATCH Fashion-MNIST training images (raw IDX files
#                     in a temporary folder, `idx:IMAGES,LABELS`); the figure
#                     is the second epoch's images/s from --metrics, so
#                     start-up and first-touch costs stay out of it (the
#                     binary has no option to time a number of steps)
#   bnnc train bf16   the same with `backward = "bf16"` (the default; convolution
#                     gradients with bfloat16 products, vdpbf16ps)
#   PyTorch train     torch_bnn.py --steps STEPS after 2 warm-up steps on the
#                     same images (--train-limit), same batch
#   bnnc infer        `eval` of the initial params on INFER_STEPS*BATCH test
#                     images with --profile: images / (the eval steps' total
#                     time, "step_ms" of the profile; the first, cold, batch
#                     included)
#   PyTorch infer     torch_bnn.py --mode infer (binary model, sign(w) kept
#                     once) and --mode infer --float-infer (real weights, relu)
#                     on the same images, after 2 warm-up batches
#   XNOR peak         bench/xnor_peak/xnor_peak.cpp (built here with g++ -O3):
#                     XOR + VPOPCNTQ + add on registers only, 1 and 2 threads;
#                     the kernel table sets each XNOR kernel's binary GOP/s
#                     in bnnc's inference profile against the 2-thread peak
#                     of the same round
# Peak RSS is each process's "Maximum resident set size" from /usr/bin/time -v
# (the PyTorch processes hold only the images they use).
#
# Without BNNC, bnnc is built first with scripts/build.sh into BUILD_DIR.
# The machine should be otherwise idle; every figure is a median.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-cnn}
case "$MODEL" in
  cnn) SOURCE=examples/fmnist_cnn.bnn ;;
  mlp) SOURCE=examples/fmnist_mlp.bnn ;;
  *) echo "usage: $0 [cnn|mlp]" >&2; exit 2 ;;
esac
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-20}
INFER_STEPS=${INFER_STEPS:-20}
BATCH=${BATCH:-100}
BUILD_DIR=${BUILD_DIR:-build}
export OMP_NUM_THREADS=2
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
TORCH="/usr/bin/python3 bench/reference/torch_bnn.py --model $MODEL --threads 2 --batch $BATCH"

if [ -z "${BNNC:-}" ]; then
  BUILD_DIR=$BUILD_DIR scripts/build.sh > /dev/null
  BNNC=$BUILD_DIR/bin/bnnc
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BNNC" compile "$SOURCE" -o "$work/model"

# The first images of Fashion-MNIST as raw IDX files: the training subset
# and the inference set.
/usr/bin/python3 bench/fmnist_subset.py "$work" $((STEPS * BATCH)) $((INFER_STEPS * BATCH))
cat > "$work/train.toml" <<EOF
[data]
train = "idx:$work/train-images,$work/train-labels"
test = "idx:$work/t10k-images,$work/t10k-labels"
[train]
epochs = 2
batch = $BATCH
EOF
# The same run with the convolution gradients in f32, in bf16 (vdpbf16ps,
# the default) and int8 (vpdpbusd for the binary weight gradients), each
# named.
cp "$work/train.toml" "$work/train_bf16.toml"
cp "$work/train.toml" "$work/train_int8.toml"
echo 'backward = "f32"' >> "$work/train.toml"
echo 'backward = "bf16"' >> "$work/train_bf16.toml"
echo 'backward = "int8"' >> "$work/train_int8.toml"
cat > "$work/infer.toml" <<EOF
[data]
test = "idx:$work/t10k-images,$work/t10k-labels"
[train]
batch = $BATCH
EOF
"$work/model" init --checkpoint "$work/init.bin" --config "$work/train.toml"
g++ -O3 -fopenmp -o "$work/xnor_peak" bench/xnor_peak/xnor_peak.cpp

# Runs a command under /usr/bin/time -v, keeping its peak RSS in $1.rss.
timed() {
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 ||
    { echo "error: $* failed:" >&2; tail -n 20 "$work/$name.out" >&2; exit 1; }
  grep -o 'Maximum resident set size (kbytes): [0-9]*' "$work/$name.time" | grep -o '[0-9]*$' > "$work/$name.rss"
}
json() { /usr/bin/python3 -c "import json, sys; print(f'{$2:.1f}')" < "$1"; }

for i in $(seq "$REPEATS"); do
  timed "bnnc_train$i" "$work/model" train --config "$work/train.toml" --metrics "$work/bnnc_train$i.jsonl"
  sed -n 2p "$work/bnnc_train$i.jsonl" > "$work/bnnc_train$i.json"
  timed "bnnc_bf16_train$i" "$work/model" train --config "$work/train_bf16.toml" \
    --metrics "$work/bnnc_bf16_train$i.jsonl"
  sed -n 2p "$work/bnnc_bf16_train$i.jsonl" > "$work/bnnc_bf16_train$i.json"
  timed "bnnc_int8_train$i" "$work/model" train --config "$work/train_int8.toml" \
    --metrics "$work/bnnc_int8_train$i.jsonl"
  sed -n 2p "$work/bnnc_int8_train$i.jsonl" > "$work/bnnc_int8_train$i.json"
  timed "torch_train$i" env LD_LIBRARY_PATH=$OPENBLAS $TORCH --steps "$STEPS" \
    --train-limit $((STEPS * BATCH)) --metrics "$work/torch_train$i.json"
  timed "bnnc_infer$i" "$work/model" eval --checkpoint "$work/init.bin" --config "$work/infer.toml" \
    --profile="$work/bnnc_profile$i.json"
  /usr/bin/python3 -c "import json, sys; e = json.load(open(sys.argv[1]))['eval']; \
print(json.dumps({'images_per_s': e['steps'] * $BATCH * 1000.0 / e['step_ms'], 'steps': e['steps']}))" \
    "$work/bnnc_profile$i.json" > "$work/bnnc_infer$i.json"
  "$work/xnor_peak" > "$work/xnor_peak$i.txt"
  timed "torch_infer$i" env LD_LIBRARY_PATH=$OPENBLAS $TORCH --mode infer --steps "$INFER_STEPS" \
    --metrics "$work/torch_infer$i.json"
  timed "torch_float$i" env LD_LIBRARY_PATH=$OPENBLAS $TORCH --mode infer --float-infer --steps "$INFER_STEPS" \
    --metrics "$work/torch_float$i.json"
  for run in bnnc_train bnnc_bf16_train bnnc_int8_train torch_train bnnc_infer torch_infer torch_float; do
    echo "round $i: $run $(json "$work/$run$i.json" 'json.load(sys.stdin)["images_per_s"]') images/s," \
         "peak RSS $(( $(cat "$work/$run$i.rss") / 1024 )) MiB"
  done
done

/usr/bin/python3 - "$work" "$REPEATS" "$MODEL" "$STEPS" "$INFER_STEPS" "$BATCH" <<'PY'
import json, os, statistics, sys
work, repeats, model, steps, infer_steps, batch = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def median(run, what):
    values = []
    for i in range(1, repeats + 1):
        if what == "rss":
            values.append(int(open(f"{work}/{run}{i}.rss").read()) / 1024)
        else:
            values.append(json.load(open(f"{work}/{run}{i}.json"))["images_per_s"])
    return statistics.median(values)
rows = [("training", "bnnc (f32 gradients)", "bnnc_train"),
        ("training", "bnnc backward=bf16", "bnnc_bf16_train"),
        ("training", "bnnc backward=int8", "bnnc_int8_train"),
        ("training", "PyTorch BinaryNet", "torch_train"),
        ("inference", "bnnc eval", "bnnc_infer"), ("inference", "PyTorch binary", "torch_infer"),
        ("inference", "PyTorch float (relu)", "torch_float")]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
            if line.startswith("model name")), "unknown CPU")
print(f"\n{model}: batch {batch}, training {steps} steps, inference {infer_steps} batches, "
      f"2 threads, median of {repeats} rounds; {cpu}, {os.cpu_count()} CPUs, "
      f"load average {os.getloadavg()[0]:.1f} at the end")
print(f"{'':10} {'':22} {'images/s':>10} {'peak RSS MiB':>13}")
for kind, name, run in rows:
    print(f"{kind:10} {name:22} {median(run, 'ips'):10.1f} {median(run, 'rss'):13.0f}")
train = median("bnnc_train", "ips") / median("torch_train", "ips")
memory = median("bnnc_train", "rss") / median("torch_train", "rss")
targets = model == "cnn"  # issue 7's targets are the CNN's
train_bf16 = median("bnnc_bf16_train", "ips") / median("torch_train", "ips")
memory_bf16 = median("bnnc_bf16_train", "rss") / median("torch_train", "rss")
train_int8 = median("bnnc_int8_train", "ips") / median("torch_train", "ips")
memory_int8 = median("bnnc_int8_train", "rss") / median("torch_train", "rss")
print(f"\nbnnc / PyTorch training images/s: {train:.3f}x (f32 gradients), {train_bf16:.3f}x (bf16), "
      f"{train_int8:.3f}x (int8)" + (" (target >= 3x, floor 1.5x)" * targets))
print(f"bnnc / PyTorch training peak RSS: {memory:.3f}x (f32), {memory_bf16:.3f}x (bf16), "
      f"{memory_int8:.3f}x (int8)" + (" (target <= 0.333x)" * targets))
print(f"bnnc / PyTorch float inference images/s: "
      f"{median('bnnc_infer', 'ips') / median('torch_float', 'ips'):.3f}x" + (" (target >= 10x)" * targets))
print(f"bnnc / PyTorch binary inference images/s: "
      f"{median('bnnc_infer', 'ips') / median('torch_infer', 'ips'):.3f}x")

# The XNOR kernels of the inference profile against the measured peak.
peaks = [dict(line.split() for line in open(f"{work}/xnor_peak{i}.txt"))
         for i in range(1, repeats + 1)]
peak1 = statistics.median(float(p["xnor_peak_1_thread_gops"]) for p in peaks)
peak2 = statistics.median(float(next(v for k, v in p.items() if k.endswith("threads_gops")))
                          for p in peaks)
kernels = {}
for i in range(1, repeats + 1):
    for site in json.load(open(f"{work}/bnnc_profile{i}.json"))["eval"]["sites"]:
        if site["unit"] == "GOP/s" and site["gops"]:  # binary (XNOR) operations
            kernels.setdefault(site["kernel"], []).append(site["gops"])
print(f"\nXNOR-popcount peak (XOR + VPOPCNTQ + add, registers only): "
      f"{peak1:.0f} binary GOP/s on 1 thread, {peak2:.0f} on 2")
print(f"{'kernel (inference)':58} {'binary GOP/s':>12} {'% of peak':>10}")
for kernel, rates in sorted(kernels.items()):
    rate = statistics.median(rates)
    print(f"{kernel:58} {rate:12.1f} {100.0 * rate / peak2:9.1f}%")
PY
