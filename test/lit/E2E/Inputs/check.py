"""Checks for the end-to-end tests: metrics files and checkpoints.

  check.py loss-falls METRICS.jsonl MAX_FINAL_TEST_ERROR
  check.py same-init CKPT_A CKPT_B     (weights equal, only beta differs)
  check.py identical CKPT_A CKPT_B     (every param and moment equal)
  check.py close A.jsonl B.jsonl --key KEY [--rtol R] [--atol A] [--last]
      (every epoch's KEY agrees: |a - b| <= atol + rtol * max(|a|, |b|);
      with --last, the last epoch's only)
  check.py fails-within SECONDS CMD...
      (CMD exits non-zero within SECONDS; its output is printed, then
      "exit status N within SECONDS s"; a CMD still running then is killed
      with its processes and fails the check)
"""
import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib


def read_checkpoint(path):
    """Parses a checkpoint (runtime/bnnrt/Checkpoint.h, format version 2)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"BNNCHKPT", "not a checkpoint"
    version, size, crc = struct.unpack_from("<IQI", data, 8)
    assert version == 2, f"format version {version}"
    payload = data[24:]
    assert len(payload) == size and zlib.crc32(payload) == crc, "damaged"
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, payload, pos)
        pos += struct.calcsize(fmt)
        return values

    def string():
        (n,) = take("<I")
        return take(f"<{n}s")[0].decode()

    model = string()
    (count,) = take("<I")
    shapes = []
    for _ in range(count):
        name = string()
        (rank,) = take("<I")
        shapes.append((name, take(f"<{rank}q")))
    epochs, step_in_epoch, steps, seed, _, _ = take("<qqqQdq")
    (hyper_count,) = take("<I")
    hyper = {}
    for _ in range(hyper_count):
        name = string()
        hyper[name] = take("<d")[0]
    params = {}
    for name, shape in shapes:
        size = 1
        for d in shape:
            size *= d
        params[name] = [take(f"<{size}f") for _ in range(3)]
    return {"model": model, "epochs": epochs, "steps": steps, "hyper": hyper,
            "step_in_epoch": step_in_epoch, "params": params}


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


command = sys.argv[1]
if command == "loss-falls":
    rows = [json.loads(line) for line in open(sys.argv[2])]
    keys = {"epoch", "train_loss", "train_error", "test_error", "seconds",
            "images_per_s", "lr"}
    for row in rows:
        if not keys <= row.keys():
            fail(f"metrics row lacks {keys - row.keys()}")
    first, last = rows[0]["train_loss"], rows[-1]["train_loss"]
    if not last < 0.7 * first:
        fail(f"loss did not fall: {first} -> {last}")
    if rows[-1]["test_error"] > float(sys.argv[3]):
        fail(f"test error {rows[-1]['test_error']} above {sys.argv[3]}")
    print(f"loss {first:.4f} -> {last:.4f}, test error {rows[-1]['test_error']:.2f}%")
elif command == "same-init":
    a, b = read_checkpoint(sys.argv[2]), read_checkpoint(sys.argv[3])
    if a["hyper"] == b["hyper"]:
        fail("the two checkpoints have the same hyper-parameters")
    for name, (value_a, _, _) in a["params"].items():
        value_b = b["params"][name][0]
        if name.endswith(".beta") and any(value_a):
            if value_a == value_b:
                fail(f"{name} is identical for different lambda")
            # U(-l, l) from the same draws: beta scales with lambda.
            ratio = b["hyper"]["lambda"] / a["hyper"]["lambda"]
            if any(abs(y - ratio * x) > 1e-5 for x, y in zip(value_a, value_b)):
                fail(f"{name} is not the same draws scaled by lambda")
        elif value_a != value_b:
            fail(f"{name} differs between the two runs")
    if not any(name.endswith(".beta") and any(v[0]) for name, v in a["params"].items()):
        fail("no beta depends on lambda")
    print("weights identical, only beta differs (scaled by lambda)")
elif command == "identical":
    a, b = read_checkpoint(sys.argv[2]), read_checkpoint(sys.argv[3])
    if (a["epochs"], a["steps"]) != (b["epochs"], b["steps"]):
        fail(f"runs ended at different points: {a['epochs'], a['steps']} vs {b['epochs'], b['steps']}")
    for name, arrays in a["params"].items():
        if arrays != b["params"][name]:
            fail(f"{name} differs")
    print(f"identical after {a['epochs']} epochs, {a['steps']} steps")
elif command == "fails-within":
    limit = float(sys.argv[2])
    started = time.monotonic()
    process = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        sys.stdout.write(output.decode(errors="replace"))
        fail(f"still running after {limit:g} s")
    sys.stdout.write(output.decode(errors="replace"))
    if process.returncode == 0:
        fail("the command succeeded")
    print(f"exit status {process.returncode} within {limit:g} s "
          f"({time.monotonic() - started:.1f} s)")
elif command == "close":
    parser = argparse.ArgumentParser(prog="check.py close")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--key", required=True)
    parser.add_argument("--rtol", type=float, default=0.0)
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument("--last", action="store_true")
    args = parser.parse_args(sys.argv[2:])
    rows_a = [json.loads(line) for line in open(args.a)]
    rows_b = [json.loads(line) for line in open(args.b)]
    if not rows_a or len(rows_a) != len(rows_b):
        fail(f"{len(rows_a)} epochs in {args.a}, {len(rows_b)} in {args.b}")
    if args.last:
        rows_a, rows_b = rows_a[-1:], rows_b[-1:]
    worst = 0.0
    for row_a, row_b in zip(rows_a, rows_b):
        if row_a["epoch"] != row_b["epoch"]:
            fail(f"epoch {row_a['epoch']} against epoch {row_b['epoch']}")
        if args.key not in row_a or args.key not in row_b:
            fail(f"epoch {row_a['epoch']} lacks {args.key}")
        a, b = row_a[args.key], row_b[args.key]
        allowed = args.atol + args.rtol * max(abs(a), abs(b))
        if not abs(a - b) <= allowed:
            fail(f"epoch {row_a['epoch']}: {args.key} {a} vs {b}, "
                 f"|a - b| = {abs(a - b):.3g} > {allowed:.3g}")
        worst = max(worst, abs(a - b))
    print(f"{args.key} within {args.atol} + {args.rtol}*|x| over "
          f"{len(rows_a)} epochs; largest |a - b| = {worst:.3g}")
    if args.last:
        print(f"last epoch: {rows_a[-1][args.key]} and {rows_b[-1][args.key]}")
else:
    fail(f"unknown command {command}")
