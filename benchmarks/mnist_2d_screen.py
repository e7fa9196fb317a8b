"""Quick screen of 2-D map variants: 30 cosine epochs in a plain PyTorch loop, one seed each.

An exploration tool, not a result: it ranks ideas for ``benchmarks/mnist_2d.py`` cheaply (about
15 min per variant on one thread) before the full 100-epoch, five-seed runs. Every variant is a
784-1000-500-250-2 map (linear code, cross-entropy against the clean image, masking noise 20%,
Adam lr 1e-3 annealed to 1e-5 per step, batch 128, PyTorch's default layer init) except where
its name says otherwise; it prints the k-NN accuracy (k = 5, fit on the 60,000 training codes,
scored on the 10,000 test codes) every 5 epochs:

    relu      the baseline                     gelu     GELU hidden units
    lr3       lr 3e-3 (annealed to 3e-5)       bnhid    BatchNorm after every hidden layer
    noisyS    standardised code (BatchNorm, no affine) + Gaussian noise of sd S in training
    convenc   conv encoder (32 and 64 3x3 filters, stride 2; dense 512-128-2), dense decoder
    conv      the same encoder, decoder mirrored with transposed convolutions

    python benchmarks/mnist_2d_screen.py gelu --threads 1
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from aekit.data import load_mnist  # noqa: E402
from aekit.evaluation import knn_accuracy  # noqa: E402
from common import mnist_root  # noqa: E402


class ConvEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, 2, 1), nn.Conv2d(32, 64, 3, 2, 1)
        self.d = nn.Sequential(
            nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 2)
        )

    def forward(self, x):
        x = F.relu(self.c2(F.relu(self.c1(x.view(-1, 1, 28, 28)))))
        return self.d(x.flatten(1))


class ConvDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = nn.Sequential(
            nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 512), nn.ReLU(), nn.Linear(512, 3136), nn.ReLU()
        )
        self.t1 = nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1)
        self.t2 = nn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1)

    def forward(self, z):
        return self.t2(F.relu(self.t1(self.d(z).view(-1, 64, 7, 7)))).flatten(1)


class NoisyCode(nn.Module):
    """A standardised code (BatchNorm without affine) plus N(0, sigma²) noise in training."""

    def __init__(self, sigma: float, generator: torch.Generator):
        super().__init__()
        self.bn, self.sigma, self.generator = nn.BatchNorm1d(2, affine=False), sigma, generator

    def forward(self, z):
        z = self.bn(z)
        return z + self.sigma * torch.randn(z.shape, generator=self.generator) if self.training else z


def dense(sizes, act, bn=False):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b)] if bn else []) + [act()]
    return nn.Sequential(*layers[: -2 if bn else -1])  # a linear last layer


def build(variant: str, generator: torch.Generator):
    act = nn.GELU if variant == "gelu" else nn.ReLU
    enc_sizes, dec_sizes = [784, 1000, 500, 250, 2], [2, 250, 500, 1000, 784]
    if variant in ("relu", "gelu", "lr3"):
        return dense(enc_sizes, act), dense(dec_sizes, act)
    if variant.startswith("noisy"):
        return nn.Sequential(dense(enc_sizes, act), NoisyCode(float(variant[5:]), generator)), dense(
            dec_sizes, act
        )
    if variant == "bnhid":
        return dense(enc_sizes, act, bn=True), dense(dec_sizes, act, bn=True)
    if variant == "convenc":
        return ConvEncoder(), dense(dec_sizes, act)
    if variant == "conv":
        return ConvEncoder(), ConvDecoder()
    raise SystemExit(f"unknown variant {variant!r}: relu, gelu, lr3, bnhid, noisyS, convenc or conv")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variant")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-root", default=None, help="MNIST IDX directory (default: ../shared/data/mnist)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    root = mnist_root(args.data_root)
    (X, y), (X_test, y_test) = load_mnist(root, "train"), load_mnist(root, "test")
    X, X_test = torch.tensor(X).float(), torch.tensor(X_test).float()
    generator = torch.Generator()
    encoder, decoder = build(args.variant, generator)
    generator.manual_seed(args.seed)
    lr = 3e-3 if args.variant == "lr3" else 1e-3
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, args.epochs * math.ceil(len(X) / 128), eta_min=lr / 100
    )
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        order, total = torch.randperm(len(X), generator=generator), 0.0
        for i in range(0, len(X), 128):
            x = X[order[i : i + 128]]
            x_tilde = x * (torch.rand(x.shape, generator=generator) >= 0.2)  # masking noise, 20%
            logits = decoder(encoder(x_tilde))
            loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
        line = f"{args.variant} epoch {epoch} loss {total / len(X):.2f}"
        if epoch % 5 == 0 or epoch == args.epochs:
            encoder.eval()
            with torch.no_grad():
                Z = torch.cat([encoder(X[i : i + 2000]) for i in range(0, len(X), 2000)]).numpy()
                Z_test = encoder(X_test).numpy()
            encoder.train()
            line += f" kNN {knn_accuracy(Z, y, Z_test, y_test, k=5):.4f}"
        print(f"{line} ({time.time() - start:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
