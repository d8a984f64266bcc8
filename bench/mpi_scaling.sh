#!/usr/bin/env bash
# Data-parallel speed on this machine: examples/fmnist_mlp.bnn (or, with
# the argument `cnn`, examples/fmnist_cnn.bnn) compiled with --mpi, trained
# by 1 process with threads on all cores, by 1 process on one core
# (OMP_NUM_THREADS = HL_NUM_THREADS = 1) and by 2 processes under mpirun
# (bound to one core each), these with the gradient all-reduces overlapped
# with the backward pass (the default) and blocking ([distributed] overlap
# = false), alternately, REPEATS rounds. Prints every run, then the medians: images/s,
# train step time, and per step the time rank 0 spent copying and starting
# the buckets and waiting for them (--profile). The blocking runs' wait is
# the whole all-reduce; the overlapped runs' wait is the part the backward
# pass did not hide. docs/distributed.md reports and models these figures.
#
#   [REPEATS=3] [STEPS=60] [BATCH=100] [BUILD_DIR=build] [BNNC=...]
#   bench/mpi_scaling.sh [mlp|cnn]
#
# Each run trains 2 epochs of STEPS batches on the first STEPS*BATCH
# Fashion-MNIST images; images/s is the second epoch's (start-up and
# first-touch costs stay out), the profile covers both epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-mlp}
case "$MODEL" in
  cnn) SOURCE=examples/fmnist_cnn.bnn ;;
  mlp) SOURCE=examples/fmnist_mlp.bnn ;;
  *) echo "usage: $0 [mlp|cnn]" >&2; exit 2 ;;
esac
REPEATS=${REPEATS:-3}
STEPS=${STEPS:-60}
BATCH=${BATCH:-100}
BUILD_DIR=${BUILD_DIR:-build}
MPIRUN="mpirun --allow-run-as-root -x OMP_NUM_THREADS=1"

if [ -z "${BNNC:-}" ]; then
  BUILD_DIR=$BUILD_DIR scripts/build.sh > /dev/null
  BNNC=$BUILD_DIR/bin/bnnc
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BNNC" compile --mpi "$SOURCE" -o "$work/model"
/usr/bin/python3 bench/fmnist_subset.py "$work" $((STEPS * BATCH)) 1000
cat > "$work/overlap.toml" <<EOF
[data]
train = "idx:$work/train-images,$work/train-labels"
test = "idx:$work/t10k-images,$work/t10k-labels"
[train]
epochs = 2
batch = $BATCH
EOF
cp "$work/overlap.toml" "$work/blocking.toml"
printf '[distributed]\noverlap = false\n' >> "$work/blocking.toml"

# run NAME CONFIG [mpirun -n 2]: one training run, its metrics and profile.
run() {
  local name=$1 config=$2; shift 2
  "$@" "$work/model" train --config "$work/$config.toml" --metrics "$work/$name.jsonl" \
    --profile="$work/$name.profile.json" > "$work/$name.out" 2>&1 ||
    { echo "error: $name failed:" >&2; tail -n 20 "$work/$name.out" >&2; exit 1; }
  /usr/bin/python3 - "$work/$name" <<'PY'
import json, sys
base = sys.argv[1]
epoch = [json.loads(line) for line in open(base + ".jsonl")][1]
train = json.load(open(base + ".profile.json"))["train"]
steps = train["steps"]
def per_step(kind):
    return sum(s["total_ms"] for s in train["sites"]
               if s["op"] == "bnn.allreduce" and s["kernel"].endswith(kind)) / steps
json.dump({"images_per_s": epoch["images_per_s"], "step_ms": train["step_ms"] / steps,
           "start_ms": per_step("copy, start"), "wait_ms": per_step("wait")},
          open(base + ".json", "w"))
PY
}

for i in $(seq "$REPEATS"); do
  run "one$i" overlap
  run "core$i" overlap env OMP_NUM_THREADS=1 HL_NUM_THREADS=1
  run "two$i" overlap $MPIRUN -n 2
  run "blocking$i" blocking $MPIRUN -n 2
  for name in one core two blocking; do
    /usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1])); \
print(f'round $i: {sys.argv[2]:9} {r[\"images_per_s\"]:7.0f} images/s, step {r[\"step_ms\"]:6.1f} ms, ' \
      f'all-reduce start {r[\"start_ms\"]:5.2f} ms, wait {r[\"wait_ms\"]:5.2f} ms')" \
      "$work/$name$i.json" "$name"
  done
done

/usr/bin/python3 - "$work" "$REPEATS" "$MODEL" <<'PY'
import json, statistics, sys
work, repeats, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def median(name, key):
    return statistics.median(json.load(open(f"{work}/{name}{i}.json"))[key]
                             for i in range(1, repeats + 1))
print(f"\nmedians of {repeats} rounds, {model}:")
print("| processes | all-reduce | images/s | step ms | start ms/step | wait ms/step |")
print("|---|---|---|---|---|---|")
for name, label in (("one", "1, 2 threads | -"), ("core", "1, 1 thread | -"),
                    ("two", "2 | overlapped"), ("blocking", "2 | blocking")):
    print(f"| {label} | {median(name, 'images_per_s'):.0f} | {median(name, 'step_ms'):.1f} | "
          f"{median(name, 'start_ms'):.2f} | {median(name, 'wait_ms'):.2f} |")
hidden = 1 - median("two", "wait_ms") / median("blocking", "wait_ms")
two = median('two', 'images_per_s')
print(f"\n2 processes against 1 with 2 threads: {two / median('one', 'images_per_s'):.2f}x, "
      f"against 1 on one core: {two / median('core', 'images_per_s'):.2f}x; "
      f"communication hidden by the overlap: {100 * hidden:.0f} %")
PY
