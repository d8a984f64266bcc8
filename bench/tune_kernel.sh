#!/usr/bin/env bash
# Times one kernel of a model under several schedules, side by side: the
# hand schedule, Halide's three autoschedulers (for that kernel only, via a
# schedule file's `autoscheduler` key) and any hand-edited schedule files
# given. Each variant is a training binary; rounds alternate between them
# (the machine is shared and noisy) and the median time per call is
# reported, with its ratio to the hand schedule.
#
#   bench/tune_kernel.sh [--model M.bnn] [--kernel SYMBOL] [--rounds N]
#                        [--steps N] [EDITED.toml ...]
#
# Defaults: examples/fmnist_mlp.bnn, its hottest kernel in a profiled run,
# 5 rounds of 150 training steps at batch 100 on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
BNNC=${BNNC:-build/bin/bnnc}
PYTHON=/usr/bin/python3
model=examples/fmnist_mlp.bnn kernel="" rounds=5 steps=150 edited=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) edited+=("$1"); shift ;;
  esac
done
work=$(mktemp -d /tmp/bnnc-tune-XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '[data]\ntrain = "fashion-mnist:train"\ntest = "fashion-mnist:test"\n[train]\nepochs = 1\nbatch = 100\n' > "$work/run.toml"

# Total ms and calls of $kernel in a profile, summed over its call sites.
kernel_ms_per_call() {
  "$PYTHON" - "$1" "$kernel" <<'PY'
import json, sys
profile, kernel = json.load(open(sys.argv[1])), sys.argv[2]
sites = [s for s in profile["train"]["sites"] if s["kernel"] == kernel]
print(sum(s["total_ms"] for s in sites) / sum(s["calls"] for s in sites))
PY
}

echo "compiling $model (hand schedule)" >&2
"$BNNC" compile "$model" -o "$work/hand"
if [ -z "$kernel" ]; then
  # --max-steps stops mid-epoch, which the binary reports with status 1.
  "$work/hand" train --config "$work/run.toml" --max-steps "$steps" \
    --profile="$work/first.json" > /dev/null 2>&1 || true
  kernel=$("$PYTHON" -c 'import json,sys,collections
t=collections.Counter()
for s in json.load(open(sys.argv[1]))["train"]["sites"]: t[s["kernel"]]+=s["total_ms"]
print(t.most_common(1)[0][0])' "$work/first.json")
fi
echo "kernel: $kernel" >&2

variants=(hand)
for scheduler in Mullapudi2016 Adams2019 Li2018; do
  printf '[%s]\nautoscheduler = "%s"\n' "$kernel" "$scheduler" > "$work/$scheduler.toml"
  echo "compiling with $scheduler for $kernel" >&2
  "$BNNC" compile --schedule "$work/$scheduler.toml" "$model" -o "$work/$scheduler"
  variants+=("$scheduler")
done
for file in "${edited[@]}"; do
  name=$(basename "$file" .toml)
  echo "compiling with $file" >&2
  "$BNNC" compile --schedule "$file" "$model" -o "$work/$name"
  variants+=("$name")
done

for ((round = 1; round <= rounds; ++round)); do
  for variant in "${variants[@]}"; do
    "$work/$variant" train --config "$work/run.toml" --max-steps "$steps" \
      --profile="$work/$variant-$round.json" > /dev/null 2>&1 || true
    kernel_ms_per_call "$work/$variant-$round.json" >> "$work/$variant.times"
  done
  echo "round $round/$rounds done" >&2
done

echo "kernel $kernel of $model: ms per call, median of $rounds rounds of $steps steps (batch 100)"
printf '%-28s %10s %10s %s\n' schedule "ms/call" "vs hand" "all rounds"
hand=$(sort -g "$work/hand.times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
for variant in "${variants[@]}"; do
  median=$(sort -g "$work/$variant.times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-28s %10.3f %9.2fx  %s\n' "$variant" "$median" \
    "$(awk -v h="$hand" -v m="$median" 'BEGIN {print h / m}')" "$(tr '\n' ' ' < "$work/$variant.times")"
done
