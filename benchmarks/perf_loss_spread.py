"""How much the test loss of perf.py moves with the shuffling seed alone (conv autoencoder, aekit vs torch loop).

perf.py trains each system once; the systems draw different batch orders, so
their test losses differ by the seed-to-seed spread even with equal
optimisation. This measures that spread: same initial weights, seeds 0..S-1.
It also settles where a gap between aekit and the plain loop comes from: the
row ``torch_same_order`` is the plain loop fed aekit's batch order (the
permutation ``torch.randperm(n, generator=Generator().manual_seed(seed))``
that ``aekit.fit(seed=seed)`` draws). If it matches aekit to rounding, the
gap is the batch order, not channels-last or the loss's reduction.

    python benchmarks/perf_loss_spread.py
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import perf  # noqa: E402
from aekit.data import load_mnist  # noqa: E402
from common import mnist_root, write_result  # noqa: E402


def _loop_in_aekits_order(encoder, decoder, X, args) -> torch.nn.Module:
    """The plain loop (contiguous NCHW, ``(z − x)²`` summed per image, no ½), one epoch in aekit's batch order."""
    model = torch.nn.Sequential(encoder, decoder)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    X = torch.from_numpy(X)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(args.seed))
    model.train()
    for i in range(0, len(X), args.batch_size):
        x = X[order[i : i + args.batch_size]]
        opt.zero_grad()
        loss = (model(x) - x).pow(2).flatten(1).sum(1).mean()
        loss.backward()
        opt.step()
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--train-size", type=int, default=15000)
    ap.add_argument("--test-size", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = mnist_root(args.data_root)
    X = load_mnist(root, "train")[0][: args.train_size].reshape(-1, 1, 28, 28)
    X_test = load_mnist(root, "test")[0][: args.test_size].reshape(-1, 1, 28, 28)
    rows: dict[str, list] = {"aekit": [], "torch": [], "torch_same_order": []}
    for seed in range(args.seeds):
        run = argparse.Namespace(batch_size=128, lr=1e-3, seed=seed)
        enc, dec = perf.conv_pair(0)  # the same initial weights for every run
        _, net = perf.run_aekit(perf.ConvAE(copy.deepcopy(enc), copy.deepcopy(dec)), X, run, 1)
        rows["aekit"].append(round(perf.test_loss(net, X_test), 4))
        _, net = perf.run_torch_loop(copy.deepcopy(enc), copy.deepcopy(dec), X, run, 1)
        rows["torch"].append(round(perf.test_loss(net, X_test), 4))
        net = _loop_in_aekits_order(copy.deepcopy(enc), copy.deepcopy(dec), X, run)
        rows["torch_same_order"].append(round(perf.test_loss(net, X_test), 4))
        print(seed, {k: v[-1] for k, v in rows.items()}, flush=True)
    result = {
        "data": f"MNIST, first {len(X)} training / {len(X_test)} test images, 1 epoch, batch 128, Adam 1e-3",
        "model": "perf.py's 2-layer conv autoencoder",
        "test_loss_by_seed": rows,
        "mean": {k: round(float(np.mean(v)), 4) for k, v in rows.items()},
        "std": {k: round(float(np.std(v, ddof=1)), 4) for k, v in rows.items()},
    }
    print("wrote", write_result("perf_loss_spread", result))


if __name__ == "__main__":
    main()
