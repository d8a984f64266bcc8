#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-16 under AddressSanitizer
# and UndefinedBehaviorSanitizer in build-fuzz/, then runs each for SECONDS
# (default 60) and prints the executions per target. Inputs that crash,
# hang or trip a sanitizer are saved in build-fuzz/fuzz-findings/TARGET/.
#
#   scripts/fuzz.sh [SECONDS]            every target
#   FUZZ_TARGETS="fuzz_idx" scripts/fuzz.sh 300
#
# The corpora (build-fuzz/fuzz-corpus/TARGET/) grow from run to run; they
# start from examples/, the tests and fuzz/make_seeds. Exit status 1 if any
# target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(${FUZZ_TARGETS:-fuzz_frontend fuzz_runconfig fuzz_idx fuzz_cifar10 fuzz_checkpoint fuzz_packed_weights})

if ! command -v clang++-16 >/dev/null; then
  echo "fuzz: clang++-16 not found; run scripts/install-deps.sh" >&2
  exit 1
fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
    -DBNNC_FUZZ=ON -DBNNC_SANITIZE=address,undefined
fi
ninja -C "$BUILD_DIR" fuzzers

# Seeds: every model file and run configuration in the repository, and the
# binary files make_seeds writes.
corpus=$BUILD_DIR/fuzz-corpus
findings=$BUILD_DIR/fuzz-findings
for t in "${TARGETS[@]}"; do mkdir -p "$corpus/$t" "$findings/$t"; done
# Every corpus folder, also of targets not run now: the seeds go to all.
mkdir -p "$corpus"/{fuzz_frontend,fuzz_runconfig,fuzz_idx,fuzz_cifar10,fuzz_checkpoint,fuzz_packed_weights}
"$BUILD_DIR/fuzz/make_seeds" "$corpus"
find examples stdlib test -name '*.bnn' -exec cp -n {} "$corpus/fuzz_frontend/" \;
find examples test -name '*.toml' -exec cp -n {} "$corpus/fuzz_runconfig/" \;

dictionary() {
  case $1 in
    fuzz_frontend) echo "-dict=fuzz/frontend.dict" ;;
    fuzz_runconfig) echo "-dict=fuzz/runconfig.dict" ;;
  esac
}

status=0
summary=()
# Every input that once crashed or hung a target (fuzz/regressions/TARGET/)
# must now run cleanly; the unit and lit tests hold each as a test too.
for t in "${TARGETS[@]}"; do
  if [ -d "fuzz/regressions/$t" ]; then
    "$BUILD_DIR/fuzz/$t" -timeout=10 -rss_limit_mb=2048 fuzz/regressions/$t/* \
      >"$BUILD_DIR/fuzz-$t-regressions.log" 2>&1 ||
      { echo "fuzz: $t fails on a regression input:"; tail -30 "$BUILD_DIR/fuzz-$t-regressions.log"; status=1; }
  fi
done
for t in "${TARGETS[@]}"; do
  log=$BUILD_DIR/fuzz-$t.log
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s (log: $log)"
  rc=0
  # -timeout: an input taking 10 s is a hang; -rss_limit_mb: a loader that
  # allocates what the file only claims to hold is a finding.
  "$BUILD_DIR/fuzz/$t" "$corpus/$t" $(dictionary "$t") \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/$t/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$findings/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -40 "$log"
  fi
  summary+=("$(printf '%-22s %12s executions  %4s s  corpus %5s files  exit %s  findings %s' \
    "$t" "${execs:-?}" "$SECONDS_PER_TARGET" "$(ls "$corpus/$t" | wc -l)" "$rc" "$found")")
done
printf '%s\n' "${summary[@]}"
exit "$status"
