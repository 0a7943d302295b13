#!/usr/bin/env python3
"""torch_train_fc.py - the `fc` BNN (784-2048-2048-10) with bit-flip training
in PyTorch on the CPU, for comparison with tests/bench/bench_train.c.

Same model and training step as betlab train: latent weights clipped to
[-1, 1], sign in the forward pass (STE), symmetric weight flips at p = 0.1
drawn fresh per minibatch (flip-ste), BN + sign with STE (|z| <= 1), a
learnable output scale, cross-entropy, Adam, batch 100, input codes / 255.
Not part of `make test`:  pip install torch;  python3 tests/bench/torch_train_fc.py
Prints images/s (2 threads) on N training images (default 2000).
"""
import gzip, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
P = 0.1
BATCH = 100
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
torch.manual_seed(1)


def load_images(n):
    path = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    lpath = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"
    try:
        with gzip.open(path) as f:
            f.read(16)
            x = np.frombuffer(f.read(n * 784), np.uint8).reshape(n, 784)
        with gzip.open(lpath) as f:
            f.read(8)
            y = np.frombuffer(f.read(n), np.uint8)
    except OSError:
        x = np.random.randint(0, 256, (n, 784), np.uint8)
        y = np.random.randint(0, 10, n, np.uint8)
    return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.long)


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return torch.where(z >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (z.abs() <= 1).to(g.dtype)


class FlipSign(torch.autograd.Function):
    """sign(w) with flips; gradient straight through (flip-ste)."""

    @staticmethod
    def forward(ctx, w, p):
        wb = torch.where(w >= 0, 1.0, -1.0)
        if p > 0:
            wb = torch.where(torch.rand_like(wb) < p, -wb, wb)
        return wb

    @staticmethod
    def backward(ctx, g):
        return g, None


class BinDense(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        a = 1.0 / n_in ** 0.5
        self.w = nn.Parameter(torch.empty(n_out, n_in).uniform_(-a, a))

    def forward(self, x):
        return x @ FlipSign.apply(self.w, P).t()


class FC(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = BinDense(784, 2048), BinDense(2048, 2048), BinDense(2048, 10)
        self.bn1, self.bn2 = nn.BatchNorm1d(2048), nn.BatchNorm1d(2048)
        self.alpha = nn.Parameter(torch.tensor(1.0 / 2048 ** 0.5))

    def forward(self, x):
        x = SignSTE.apply(self.bn1(self.l1(x)))
        x = SignSTE.apply(self.bn2(self.l2(x)))
        return self.alpha * self.l3(x)


x, y = load_images(N)
model = FC()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()
t0 = time.time()
for i in range(0, N - BATCH + 1, BATCH):
    opt.zero_grad()
    loss = lossf(model(x[i:i + BATCH]), y[i:i + BATCH])
    loss.backward()
    opt.step()
    with torch.no_grad():
        for l in (model.l1, model.l2, model.l3):
            l.w.clamp_(-1, 1)
dt = time.time() - t0
print(f"pytorch {torch.__version__} fc, {N} images, batch {BATCH}, p={P}: "
      f"{N / dt:.0f} images/s ({torch.get_num_threads()} threads) => 60k epoch ~ {60000 * dt / N:.0f} s")
