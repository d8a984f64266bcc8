#!/usr/bin/python3
"""Independent PyTorch reference of examples/fmnist_mlp.bnn (BinaryNet MLP).

784 -> 1024 -> 1024 -> 1024 -> 10, binary weights in every layer (sign
forward, straight-through gradient 1{|w| <= 1} to the latent weight, which is
clipped to [-1, 1] after each step), batch norm before every sign with the
shift beta ~ U(-lambda, lambda), sign activations with the STE 1{|x| <= 1},
a final batch norm on the logits, softmax cross-entropy, Adam with the
learning rate decayed geometrically per epoch from lr to lr_final.

Written from the paper's description and the model file, not from bnnc's
code, to serve as the reference bnnc is compared against. Run it with
OpenBLAS (bench/compare_fmnist.sh does), e.g.
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    /usr/bin/python3 bench/reference/torch_bnn.py --lambda 2 --epochs 10
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

DATA = os.environ.get("BNN_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load_idx(prefix):
    with gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz") as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        images = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, rows * cols)
    with gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz") as f:
        struct.unpack(">II", f.read(8))
        labels = np.frombuffer(f.read(), dtype=np.uint8)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    return x, torch.from_numpy(labels.astype(np.int64))


class SignSTE(torch.autograd.Function):
    """sign(x) with sign(0) = +1; gradient passed where |x| <= 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class BinaryLinear(torch.nn.Module):
    def __init__(self, fan_in, fan_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(fan_out, fan_in))
        torch.nn.init.xavier_uniform_(self.weight)  # glorot_uniform

    def forward(self, x):
        return x @ SignSTE.apply(self.weight).t()


class BinaryMLP(torch.nn.Module):
    def __init__(self, lam, hidden=1024):
        super().__init__()
        sizes = [784, hidden, hidden, hidden, 10]
        self.linears = torch.nn.ModuleList(
            BinaryLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        # bnnc's momentum 0.9 (running = 0.9 running + 0.1 batch) is torch's 0.1.
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(b, eps=1e-5, momentum=0.1) for b in sizes[1:])
        with torch.no_grad():
            for norm in self.norms[:-1]:
                norm.bias.uniform_(-lam, lam)

    def forward(self, x):
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            x = norm(linear(x))
            if i < len(self.linears) - 1:
                x = SignSTE.apply(x)
        return x


def error_rate(model, x, y, batch):
    model.eval()
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            wrong += (model(x[i:i + batch]).argmax(1) != y[i:i + batch]).sum().item()
    model.train()
    return 100.0 * wrong / len(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lambda", dest="lam", type=float, default=2.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-final", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metrics", help="JSON lines, one per epoch")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    blas = "openblas" if "openblas" in os.environ.get("LD_LIBRARY_PATH", "") else "system default BLAS"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS: {blas}", flush=True)
    train_x, train_y = load_idx("train")
    test_x, test_y = load_idx("t10k")
    model = BinaryMLP(args.lam)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    binary_weights = [linear.weight for linear in model.linears]
    metrics = open(args.metrics, "w") if args.metrics else None

    for epoch in range(args.epochs):
        lr = args.lr * (args.lr_final / args.lr) ** (epoch / max(1, args.epochs - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(train_x))
        started = time.perf_counter()
        total_loss, wrong, batches = 0.0, 0, len(train_x) // args.batch
        for b in range(batches):
            index = order[b * args.batch:(b + 1) * args.batch]
            x, y = train_x[index], train_y[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for w in binary_weights:
                    w.clamp_(-1, 1)
            total_loss += loss.item()
            wrong += (logits.argmax(1) != y).sum().item()
        seconds = time.perf_counter() - started
        row = {"epoch": epoch + 1, "train_loss": total_loss / batches,
               "train_error": 100.0 * wrong / (batches * args.batch),
               "test_error": error_rate(model, test_x, test_y, args.batch),
               "seconds": seconds, "images_per_s": batches * args.batch / seconds,
               "lr": lr, "lambda": args.lam}
        print(f"epoch {row['epoch']}/{args.epochs}  loss {row['train_loss']:.4f}  "
              f"train error {row['train_error']:.2f}%  test error {row['test_error']:.2f}%  "
              f"{seconds:.1f} s  {row['images_per_s']:.0f} images/s  lr {lr:.2e}", flush=True)
        if metrics:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()


if __name__ == "__main__":
    main()
