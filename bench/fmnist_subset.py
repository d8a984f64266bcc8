"""Writes the first images of Fashion-MNIST as raw IDX files, for runs on a
subset: DIR/train-images, DIR/train-labels (TRAIN images) and
DIR/t10k-images, DIR/t10k-labels (TEST images).

  fmnist_subset.py DIR TRAIN TEST
"""
import gzip
import os
import sys

work, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.environ.get("BNN_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
for prefix, count in (("train", train), ("t10k", test)):
    with gzip.open(f"{data}/{prefix}-images-idx3-ubyte.gz") as f:
        head = bytearray(f.read(16))
        if count > int.from_bytes(head[4:8], "big"):
            sys.exit(f"error: {prefix} has fewer than {count} images")
        head[4:8] = count.to_bytes(4, "big")
        open(f"{work}/{prefix}-images", "wb").write(bytes(head) + f.read(count * 784))
    with gzip.open(f"{data}/{prefix}-labels-idx1-ubyte.gz") as f:
        head = bytearray(f.read(8))
        head[4:8] = count.to_bytes(4, "big")
        open(f"{work}/{prefix}-labels", "wb").write(bytes(head) + f.read(count))
