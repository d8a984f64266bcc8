#!/usr/bin/python3
"""Independent PyTorch reference of examples/fmnist_mlp.bnn and examples/fmnist_cnn.bnn (BinaryNet).

--model mlp (default): 784 -> 1024 -> 1024 -> 1024 -> 10.
--model cnn: 2x64C3 - MP2 - 2x128C3 - MP2 - 2x256C3 - MP2 - FC512 - FC10 on
1x28x28 images, 3x3 convolutions with zero padding 1, and in each
"conv, maxpool" stage the pool comes before the batch norm (std/blocks.bnn's
bconv_pool). The first convolution reads the real image scaled to [-1, 1].

Both: binary weights in every layer (sign forward, straight-through gradient
1{|w| <= 1} to the latent weight, which is clipped to [-1, 1] after each
step), glorot-uniform latent weights (fan_in = in_channels * k * k, fan_out =
out_channels * k * k for convolutions), no bias, batch norm (per feature or
per channel, bnnc's momentum 0.9 = torch's 0.1) before every sign with the
shift beta ~ U(-lambda, lambda), sign activations with the STE 1{|x| <= 1},
a final batch norm on the logits, softmax cross-entropy, Adam with the
learning rate decayed geometrically per epoch from lr to lr_final.

Written from the paper's description and the model files, not from bnnc's
code, to serve as the reference bnnc is compared against.

Checked against what a compiled bnnc model does (runtime/Trainer.cpp,
Params::initialize; runtime/Reference.cpp): glorot_uniform draws
U(-a, a), a = sqrt(6 / (fan_in + fan_out)), with fan_in = shape[1] * k * k and
fan_out = shape[0] * k * k for a [filters, channels, k, k] convolution weight
(shape[1] and shape[0] for dense), which is torch's xavier_uniform_ (gain 1);
Adam (0.9, 0.999, 1e-8, bias-corrected), the running variance (unbiased,
momentum 0.9) and sign(0) = +1 agree too. What differs: the random streams
(bnnc draws each param from its own mt19937_64 seeded by the seed and the
param's index, and shuffles with its own generator), so the same seed gives
the same distributions but not the same numbers or batch order.

Run it with OpenBLAS (bench/compare_fmnist.sh does), e.g.
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
    /usr/bin/python3 bench/reference/torch_bnn.py --lambda 2 --epochs 10
  ... torch_bnn.py --model cnn --lambda 2 --epochs 3

Timing (bench/cnn_speed.sh): --steps N runs --warmup steps, then N timed
steps, and prints "images/s X" (no test evaluation). --mode train (default)
times training steps on the first --train-limit training images; --mode infer
times inference (batch norm with running statistics, no gradients) on the
test images, of the binary model or, with --float-infer, of the same
architecture with real weights and --float-act relu|htanh activations.

--device cuda (bench/gpu/run.sh) runs on the GPU with the whole data set
held there (the fastest a PyTorch user gets, no loader in the way); timers
are read after torch.cuda.synchronize().
"""
import argparse
import gzip
import json
import os
import resource
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

DATA = os.environ.get("BNN_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load_idx(prefix, limit=None):
    """Images as float32 [count, 784] in [-1, 1] and int64 labels; only the
    first `limit` are kept (the rest is not held in memory)."""
    with gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz") as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        images = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, rows * cols)
    with gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz") as f:
        struct.unpack(">II", f.read(8))
        labels = np.frombuffer(f.read(), dtype=np.uint8)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
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


class BinaryWeights(torch.nn.Module):
    """A latent real weight used as sign(w). freeze() (inference only) keeps
    sign(w) once instead of computing it every call."""

    def __init__(self, shape):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(*shape))
        torch.nn.init.xavier_uniform_(self.weight)  # glorot_uniform
        self.frozen = None

    def freeze(self):
        with torch.no_grad():
            self.frozen = torch.where(self.weight >= 0, 1.0, -1.0).contiguous()

    def binary(self):
        return self.frozen if self.frozen is not None else SignSTE.apply(self.weight)


class BinaryLinear(BinaryWeights):
    def __init__(self, fan_in, fan_out):
        super().__init__((fan_out, fan_in))

    def forward(self, x):
        return x @ self.binary().t()


class BinaryConv2d(BinaryWeights):
    def __init__(self, in_channels, out_channels, kernel=3, pad=1):
        super().__init__((out_channels, in_channels, kernel, kernel))
        self.pad = pad

    def forward(self, x):
        return F.conv2d(x, self.binary(), padding=self.pad)


def random_shift(norm, lam):
    with torch.no_grad():
        norm.bias.uniform_(-lam, lam)
    return norm


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

    def binary_layers(self):
        return list(self.linears)


# examples/fmnist_cnn.bnn: (filters, max pooling after the convolution).
CNN_STAGES = [(64, False), (64, True), (128, False), (128, True), (256, False), (256, True)]
CNN_HIDDEN = 512


class CNN(torch.nn.Module):
    """conv [-> maxpool] -> batchnorm -> act, x 6 (CNN_STAGES), flatten,
    dense(512) -> batchnorm -> act, dense(10) -> batchnorm. `conv` and
    `linear` make the layers (in, out); every batchnorm before an activation
    starts at beta ~ U(-lam, lam)."""

    def __init__(self, conv, linear, act, lam):
        super().__init__()
        self.act = act
        self.convs = torch.nn.ModuleList()
        self.conv_norms = torch.nn.ModuleList()
        self.pools = []
        channels, side = 1, 28
        for filters, pool in CNN_STAGES:
            self.convs.append(conv(channels, filters))
            self.conv_norms.append(random_shift(
                torch.nn.BatchNorm2d(filters, eps=1e-5, momentum=0.1), lam))
            self.pools.append(pool)
            channels, side = filters, side // 2 if pool else side
        self.fc1 = linear(channels * side * side, CNN_HIDDEN)  # 256 * 3 * 3
        self.norm1 = random_shift(torch.nn.BatchNorm1d(CNN_HIDDEN, eps=1e-5, momentum=0.1), lam)
        self.fc2 = linear(CNN_HIDDEN, 10)
        self.norm2 = torch.nn.BatchNorm1d(10, eps=1e-5, momentum=0.1)  # beta = 0

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        for conv, norm, pool in zip(self.convs, self.conv_norms, self.pools):
            x = conv(x)
            if pool:
                x = F.max_pool2d(x, 2)
            x = self.act(norm(x))
        x = self.act(self.norm1(self.fc1(x.flatten(1))))
        return self.norm2(self.fc2(x))

    def binary_layers(self):
        return [layer for layer in [*self.convs, self.fc1, self.fc2]
                if isinstance(layer, BinaryWeights)]


def binary_cnn(lam):
    """examples/fmnist_cnn.bnn: binary weights everywhere, sign activations."""
    return CNN(BinaryConv2d, BinaryLinear, SignSTE.apply, lam)


def float_cnn(act):
    """The CNN's architecture with real weights and relu or htanh in place of
    sign: what a PyTorch user would run for float inference."""
    return CNN(lambda a, b: torch.nn.Conv2d(a, b, 3, padding=1, bias=False),
               lambda a, b: torch.nn.Linear(a, b, bias=False),
               F.relu if act == "relu" else F.hardtanh, 0.0)


class FloatMLP(torch.nn.Module):
    def __init__(self, act, hidden=1024):
        super().__init__()
        self.act = F.relu if act == "relu" else F.hardtanh
        sizes = [784, hidden, hidden, hidden, 10]
        self.linears = torch.nn.ModuleList(
            torch.nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = torch.nn.ModuleList(torch.nn.BatchNorm1d(b) for b in sizes[1:])

    def forward(self, x):
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            x = norm(linear(x))
            if i < len(self.linears) - 1:
                x = self.act(x)
        return x


def make_model(args):
    if args.float_infer:
        return float_cnn(args.float_act) if args.model == "cnn" else FloatMLP(args.float_act)
    return binary_cnn(args.lam) if args.model == "cnn" else BinaryMLP(args.lam)


def error_rate(model, x, y, batch):
    model.eval()
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            wrong += (model(x[i:i + batch]).argmax(1) != y[i:i + batch]).sum().item()
    model.train()
    return 100.0 * wrong / len(x)


def synchronize(device):
    """Waits for the GPU's queued work, so that a timer reads finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train_step(model, optimizer, binary_weights, x, y):
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for w in binary_weights:
            w.clamp_(-1, 1)
    return logits, loss


def timed(args, what, images, seconds, cpu_seconds, extra=None):
    """Prints and records one timing result. cpu_seconds (all threads) tells
    how much of the machine the steps had: on a busy machine images per CPU
    second times the thread count bounds the images/s an idle one would
    give."""
    row = {"model": args.model, "mode": args.mode, "what": what, "batch": args.batch,
           "steps": args.steps, "images": images, "seconds": seconds,
           "images_per_s": images / seconds, "cpu_seconds": cpu_seconds,
           "images_per_cpu_s": images / cpu_seconds, "threads": torch.get_num_threads(),
           "peak_rss_mib": peak_rss_mib()}
    row.update(extra or {})
    print(f"{what}: {args.steps} steps of batch {args.batch} in {seconds:.3f} s "
          f"({cpu_seconds:.3f} CPU s), images/s {row['images_per_s']:.1f}, "
          f"peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
    if args.metrics:
        with open(args.metrics, "w") as f:
            f.write(json.dumps(row) + "\n")


def time_training(args, model, train_x, train_y):
    """--warmup untimed steps, then --steps timed ones, cycling through the
    (limited) training set in a random order."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    binary_weights = [layer.weight for layer in model.binary_layers()]
    per_pass = len(train_x) // args.batch
    if per_pass == 0:
        raise SystemExit(f"error: {len(train_x)} training images are fewer than one batch")
    order = torch.randperm(len(train_x), device=train_x.device)

    def batch(b):
        index = order[(b % per_pass) * args.batch:(b % per_pass + 1) * args.batch]
        return train_x[index], train_y[index]

    for b in range(args.warmup):
        train_step(model, optimizer, binary_weights, *batch(b))
    synchronize(train_x.device)
    started, cpu_started = time.perf_counter(), time.process_time()
    for b in range(args.warmup, args.warmup + args.steps):
        _, loss = train_step(model, optimizer, binary_weights, *batch(b))
        loss.item()
    synchronize(train_x.device)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    timed(args, f"{args.model} binary training", args.steps * args.batch, seconds,
          cpu_seconds, {"loss": loss.item()})


def run_inference(args, model, test_x, test_y):
    """Inference with running statistics and no autograd: --steps batches
    after --warmup (or one pass over the test set without --steps)."""
    model.eval()
    for layer in getattr(model, "binary_layers", lambda: [])():
        layer.freeze()
    per_pass = len(test_x) // args.batch
    steps = args.steps if args.steps else per_pass
    wrong = 0
    with torch.inference_mode():
        for b in range(args.warmup):
            model(test_x[(b % per_pass) * args.batch:(b % per_pass + 1) * args.batch])
        synchronize(test_x.device)
        started, cpu_started = time.perf_counter(), time.process_time()
        for b in range(steps):
            x = test_x[(b % per_pass) * args.batch:(b % per_pass + 1) * args.batch]
            y = test_y[(b % per_pass) * args.batch:(b % per_pass + 1) * args.batch]
            wrong += (model(x).argmax(1) != y).sum().item()
        synchronize(test_x.device)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    kind = f"float ({args.float_act})" if args.float_infer else "binary"
    args.steps = steps
    timed(args, f"{args.model} {kind} inference", steps * args.batch, seconds, cpu_seconds,
          {"error": 100.0 * wrong / (steps * args.batch)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--lambda", dest="lam", type=float, default=2.0)
    parser.add_argument("--epochs", type=int, help="default 10 (mlp), 3 (cnn), as examples/*.toml")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-final", type=float, help="default 1e-5 (mlp), 1e-4 (cnn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metrics", help="JSON lines, one per epoch (one line with --steps or --mode infer)")
    parser.add_argument("--train-limit", type=int, help="use only the first N training images")
    parser.add_argument("--mode", choices=["train", "infer"], default="train")
    parser.add_argument("--float-infer", action="store_true",
                        help="--mode infer of the same architecture with real weights (untrained)")
    parser.add_argument("--float-act", choices=["relu", "htanh"], default="relu")
    parser.add_argument("--steps", type=int, help="time this many steps (after --warmup) instead of training epochs")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before --steps (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 3 if args.model == "cnn" else 10
    if args.lr_final is None:
        args.lr_final = 1e-4 if args.model == "cnn" else 1e-5
    if args.float_infer and args.mode != "infer":
        parser.error("--float-infer needs --mode infer")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    blas = "openblas" if "openblas" in os.environ.get("LD_LIBRARY_PATH", "") else "system default BLAS"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS: {blas}", flush=True)
    device = torch.device(args.device)
    model = make_model(args).to(device)
    if args.mode == "infer":
        limit = (args.steps + args.warmup) * args.batch if args.steps else None
        test_x, test_y = (t.to(device) for t in load_idx("t10k", limit))
        run_inference(args, model, test_x, test_y)
        return
    if args.steps:
        limit = args.train_limit or (args.steps + args.warmup) * args.batch
        train_x, train_y = (t.to(device) for t in load_idx("train", limit))
        time_training(args, model, train_x, train_y)
        return

    train_x, train_y = (t.to(device) for t in load_idx("train", args.train_limit))
    test_x, test_y = (t.to(device) for t in load_idx("t10k"))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    binary_weights = [layer.weight for layer in model.binary_layers()]
    metrics = open(args.metrics, "w") if args.metrics else None

    for epoch in range(args.epochs):
        lr = args.lr * (args.lr_final / args.lr) ** (epoch / max(1, args.epochs - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(train_x), device=device)
        started = time.perf_counter()
        total_loss, wrong, batches = 0.0, 0, len(train_x) // args.batch
        for b in range(batches):
            index = order[b * args.batch:(b + 1) * args.batch]
            x, y = train_x[index], train_y[index]
            logits, loss = train_step(model, optimizer, binary_weights, x, y)
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
