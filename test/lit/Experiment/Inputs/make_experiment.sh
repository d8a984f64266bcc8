#!/bin/sh
# make_experiment.sh DIR TESTDIR [EPOCHS] writes DIR/exp.toml: two variants (binary tiny, full-precision tiny_fp)
# over seeds 0, 1; tiny also over lambda 0 and 1.5. 6 points of EPOCHS
# epochs (default 2), 10 steps each, on the IDX files make_dataset.py wrote
# into DIR.
dir=$1 tests=$2 epochs=${3:-2}
cat > "$dir/exp.toml" <<TOML
[experiment]
results = "$dir/res"
[data]
train = "idx:$dir/train-images.gz,$dir/train-labels.gz"
test = "idx:$dir/test-images.gz,$dir/test-labels.gz"
[train]
epochs = $epochs
batch = 20
[sweep]
seed = [0, 1]
lambda = [0.0]
[variants.tiny]
model = "$tests/../E2E/Inputs/tiny.bnn"
label = "tiny binary"
sweep = { lambda = [0.0, 1.5] }
[variants.fp]
model = "$tests/Inputs/tiny_fp.bnn"
label = "tiny htanh"
TOML
