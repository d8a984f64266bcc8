"""Writes COUNT random records in the CIFAR-10 binary format (1 label byte,
then 3072 pixel bytes: the R, G and B planes of 32x32) to FILE; labels cycle
through 0-9.

  make_cifar10.py FILE COUNT SEED
"""
import random
import sys

path, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
with open(path, "wb") as f:
    for i in range(count):
        f.write(bytes([i % 10]) + bytes(rng.randrange(256) for _ in range(3072)))
