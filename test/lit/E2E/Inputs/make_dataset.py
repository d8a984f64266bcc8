"""Writes a small learnable image classification set as gzipped IDX files:
class k (0..2) lights up a horizontal band k of a 6x6 image, with noise."""
import gzip
import random
import struct
import sys

prefix, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
images, labels = bytearray(), bytearray()
for _ in range(count):
    label = rng.randrange(3)
    for row in range(6):
        for col in range(6):
            bright = row // 2 == label
            value = rng.randrange(150, 256) if bright else rng.randrange(0, 110)
            images.append(value)
    labels.append(label)
with gzip.open(prefix + "-images.gz", "wb") as out:
    out.write(struct.pack(">IIII", 0x803, count, 6, 6) + bytes(images))
with gzip.open(prefix + "-labels.gz", "wb") as out:
    out.write(struct.pack(">II", 0x801, count) + bytes(labels))
