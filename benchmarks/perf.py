"""Performance suite: aekit's fit loop against pythae and a plain PyTorch DataLoader loop.

Same data (MNIST), architecture, initial weights, batch size, optimizer (Adam),
learning rate and number of epochs for every system; reported: training
samples per second, the ratio to aekit, and the test loss reached (‖z − x‖²
summed over pixels, averaged over the test images, the same formula for all).

* models: the small 784-32-784 autoencoder (logistic units), the deep
  784-1000-500-250-30 autoencoder (Hinton & Salakhutdinov 2006, linear code)
  and a 2-layer convolutional autoencoder (stride-2 convolutions, transposed
  convolutions back);
* pythae (Chadebec et al., NeurIPS 2022 datasets track) is the PyPI library,
  installed in the benchmark's own environment (never an aekit dependency);
  its ``AE`` with our encoder/decoder, trained by its ``BaseTrainer``;
* "torch loop": ``DataLoader(TensorDataset(X), shuffle=True)`` and
  ``loss.item()`` per batch, as in the common tutorials;
* the machine's float32 matmul rate (2·m·n·k FLOPs / s, 2048×2048 products)
  measured in the same run, next to the rate aekit's dense training reaches
  (6 FLOPs per weight per sample for forward + backward: 2 forward, 4
  backward): around each aekit epoch of the deep model, and in 15 alternating
  slices of about a second each (products, 20 training batches, products, ...);
* every model is trained ``--repeats`` times (default 3) by every system, in
  rotated order; times and speed-ups are medians over the rounds;
* greedy layer-wise pre-training of a 3-layer stack 784-1000-500-250 by the
  library's routine, ``aekit.train.pretrain``: each layer's input computed
  once for the data set (``cache=True``, the default) against recomputing the
  frozen lower layers for every batch (``cache=False``); same fit loop, same
  batches.

    python -m venv .bench-venv --system-site-packages && .bench-venv/bin/pip install pythae
    .bench-venv/bin/python benchmarks/perf.py
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # this checkout's aekit, also from the benchmark's own venv

import aekit  # noqa: E402
from aekit.data import load_mnist  # noqa: E402
from aekit.train import pretrain  # noqa: E402
from common import mnist_root, write_result  # noqa: E402

SMALL, DEEP = [32], [1000, 500, 250, 30]
STACK = [1000, 500, 250]
PARTS = ("small", "deep", "conv", "pretrain")


# ====================================================================== the networks, shared by all systems
def dense_ae(hidden, code_activation):
    """aekit's Autoencoder (logistic units, MSE); its layers are copied into the peers' modules."""
    return aekit.Autoencoder(
        784,
        hidden,
        activation="sigmoid",
        code_activation=code_activation,
        output_activation="sigmoid",
        loss="mse",
    )


class DenseEncoder(nn.Module):
    """A copy of aekit's encoder layers (its dense block y = φ(W x + b)) for the peers."""

    def __init__(self, ae):
        super().__init__()
        self.layers = copy.deepcopy(ae.encoder_layers)

    def forward(self, x):
        return self.layers(x)


class DenseDecoder(nn.Module):
    """A copy of aekit's (untied) decoder layers for the peers."""

    def __init__(self, ae):
        super().__init__()
        self.layers = copy.deepcopy(ae.decoder_layers)

    def forward(self, y):
        return self.layers(y)


class ConvEncoder(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 16, 3, stride=2, padding=1),
            nn.ReLU(),  # (N, 16, 14, 14)
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
        )  # (N, 32, 7, 7)


class ConvDecoder(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )


class ConvAE(nn.Module):
    """The 2-layer convolutional autoencoder with aekit's model interface (``loss(x)``, ½‖z − x‖²)."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def loss(self, x):
        return 0.5 * (self(x) - x).pow(2).flatten(1).sum(1).mean()


def conv_pair(seed):
    torch.manual_seed(seed)
    return ConvEncoder(), ConvDecoder()


def test_loss(reconstruct, X_test) -> float:
    """Mean over test images of ‖z − x‖² (pixels summed)."""
    total = 0.0
    with torch.inference_mode():
        for i in range(0, len(X_test), 1000):
            x = torch.from_numpy(X_test[i : i + 1000])
            total += float((reconstruct(x) - x).pow(2).flatten(1).sum(1).sum())
    return total / len(X_test)


# ====================================================================== the systems
def run_aekit(model, X, args, epochs):
    start = time.perf_counter()
    aekit.fit(model, X, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=False)
    seconds = time.perf_counter() - start
    model.eval()
    return seconds, model


def run_torch_loop(encoder, decoder, X, args, epochs):
    """The tutorial loop: DataLoader over a TensorDataset, .item() per batch."""
    torch.manual_seed(args.seed)
    model = nn.Sequential(encoder, decoder)
    start = time.perf_counter()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X)), batch_size=args.batch_size, shuffle=True
    )
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    model.train()
    for _ in range(epochs):
        running = 0.0
        for (x,) in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(x), x, reduction="none").flatten(1).sum(1).mean()
            loss.backward()
            opt.step()
            running += loss.item()
    seconds = time.perf_counter() - start
    model.eval()
    return seconds, model


def run_pythae(encoder, decoder, X, args, epochs, input_dim, latent_dim):
    from pythae.data.datasets import BaseDataset
    from pythae.models import AE, AEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    logging.getLogger("pythae").setLevel(logging.WARNING)

    class Enc(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = encoder

        def forward(self, x):
            return ModelOutput(embedding=self.net(x))

    class Dec(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = decoder

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    model = AE(AEConfig(input_dim=input_dim, latent_dim=latent_dim), encoder=Enc(), decoder=Dec())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = torch.from_numpy(X)
        trainer = BaseTrainer(
            model,
            BaseDataset(data, torch.zeros(len(data))),
            training_config=BaseTrainerConfig(
                output_dir=tmp,
                num_epochs=epochs,
                learning_rate=args.lr,
                per_device_train_batch_size=args.batch_size,
                optimizer_cls="Adam",
                keep_best_on_train=True,
                no_cuda=True,
                seed=args.seed,
            ),
        )
        trainer.train()
        seconds = time.perf_counter() - start
    net = nn.Sequential(encoder, decoder).eval()  # trained in place by pythae
    return seconds, net


def pythae_status() -> str | None:
    try:
        import pythae  # noqa: F401

        return None
    except Exception as err:  # report why, compare what can run
        return f"pythae cannot be imported here: {type(err).__name__}: {err}"


# ====================================================================== matmul ceiling
def matmul_rate(m, k, n, seconds=0.5) -> float:
    """float32 FLOP/s of (m×k)·(k×n) products, 2·m·n·k FLOPs each."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    for _ in range(3):
        torch.mm(a, b, out=out)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        reps += 1
    return 2 * m * n * k * reps / (time.perf_counter() - start)


def layer_matmul_rate(batch, hidden) -> float:
    """FLOP-weighted rate of the forward products of the deep autoencoder's layer shapes at this batch size."""
    sizes = [784, *hidden]
    shapes = [(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    shapes += [(b, a) for a, b in reversed(shapes)]
    flops = [2 * batch * a * b for a, b in shapes]
    times = [f / matmul_rate(batch, a, b, 0.2) for f, (a, b) in zip(flops, shapes)]
    return sum(flops) / sum(times)


def paired_fraction(make, X, args, flops_per_sample, rounds: int, size: int) -> dict:
    """aekit's dense training rate over the 2048² matmul rate, measured in alternating slices of about a
    second each (a fixed number of 2048² products, one aekit epoch on ``size`` images, ...): this machine's
    speed drifts by ±15% from one second to the next, so each training slice is compared with the products
    run just before and just after it."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    out = torch.empty(2048, 2048)

    def products(reps=4):
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        return 2 * 2048**3 * reps, time.perf_counter() - start

    probes, trained = [products()], []
    for _ in range(rounds):
        seconds, _ = run_aekit(make()[0], X[:size], args, 1)
        trained.append((flops_per_sample * size, seconds))
        probes.append(products())
    rate = [f / t for f, t in probes]
    ratios = [f / t / ((rate[i] + rate[i + 1]) / 2) for i, (f, t) in enumerate(trained)]
    q1, median, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    overall = (sum(f for f, _ in trained) / sum(t for _, t in trained)) / (
        sum(f for f, _ in probes) / sum(t for _, t in probes)
    )
    return {
        "median": round(median, 3),
        "quartiles": [round(q1, 3), round(q3, 3)],
        "ratio_of_totals": round(overall, 3),
        "rounds": [round(r, 3) for r in ratios],
        "matmul_gflops": [round(r / 1e9, 1) for r in rate],
        "images_per_round": size,
    }


def weights(hidden) -> int:
    sizes = [784, *hidden]
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# ====================================================================== greedy pre-training
def pretrain_stack(X, args, cached: bool):
    """aekit.train.pretrain of 784-1000-500-250, each layer's input cached or recomputed per batch.

    Returns the wall seconds of the whole call, the seconds of each layer's training epochs and each
    layer's final training loss.
    """
    torch.manual_seed(args.seed)
    stack = aekit.StackedAutoencoder(784, STACK, tied=False, loss="bce")
    start = time.perf_counter()
    histories = pretrain(
        stack,
        X,
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        progress=False,
        cache=cached,
    )
    seconds = time.perf_counter() - start
    return seconds, [sum(h["seconds"]) for h in histories], [h["train_loss"][-1] for h in histories]


def pretrain_flop_bound(epochs: int) -> float:
    """recompute / cached FLOPs: 6 per weight per sample to train each layer's autoencoder (W and W'),
    2 per lower weight per sample to recompute its input (every epoch, or once when cached)."""
    sizes = [784, *STACK]
    w = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    train = sum(6 * 2 * wk for wk in w) * epochs
    lower = sum(2 * sum(w[:k]) for k in range(len(w)))
    return (train + lower * epochs) / (train + lower)


# ====================================================================== the run
def compare(name, X, X_test, args, epochs, make, flops_per_sample=None):
    """Train one architecture with each system, ``args.repeats`` rounds in rotated order; returns the rows.

    Every round starts each system from the same initial weights. Seconds and the speed-ups are medians
    over the rounds, a speed-up being the ratio of two systems' times in the same round: on shared cores
    the speed of the machine drifts between runs, and one run per system left a 1-epoch row to chance."""
    status = pythae_status() if "pythae" in args.systems else "not requested (--systems)"
    systems = [s for s in args.systems if s != "pythae" or status is None]
    _, enc, dec, _, _ = make()  # untimed: the first calls of a model's kernels (e.g. ~2 s for the conv
    run_torch_loop(enc, dec, X[: 8 * args.batch_size], args, 1)  # shapes) would be paid by the first system
    seconds = {s: [] for s in systems}
    losses = {s: [] for s in systems}
    fractions = []
    for r in range(args.repeats):
        for system in systems[r % len(systems) :] + systems[: r % len(systems)]:
            aek, enc, dec, input_dim, latent_dim = make()
            if system == "aekit":
                before = matmul_rate(2048, 2048, 2048) if flops_per_sample else None
                sec, net = run_aekit(aek, X, args, epochs)
                if flops_per_sample:
                    peak = (before + matmul_rate(2048, 2048, 2048)) / 2
                    fractions.append((flops_per_sample * len(X) * epochs / sec, peak))
                net = aekit_reconstruct(net)
            elif system == "pythae":
                sec, net = run_pythae(enc, dec, X, args, epochs, input_dim, latent_dim)
            else:
                sec, net = run_torch_loop(enc, dec, X, args, epochs)
            seconds[system].append(sec)
            losses[system].append(test_loss(net, X_test))
            print(
                f"{name:8s} round {r + 1} {system:8s} {sec:8.3f} s  test loss {losses[system][-1]:.4f}",
                flush=True,
            )
    rows = {}
    for system in args.systems:
        if system not in systems:
            rows[system] = {"skipped": status}
            continue
        median = statistics.median(seconds[system])
        row = rows[system] = {
            "seconds": round(median, 3),
            "samples_per_s": round(len(X) * epochs / median, 1),
            "test_loss": round(statistics.median(losses[system]), 4),
            "seconds_per_round": [round(v, 3) for v in seconds[system]],
        }
        if len({round(v, 4) for v in losses[system]}) > 1:
            row["test_loss_per_round"] = [round(v, 4) for v in losses[system]]
        if system != "aekit" and "aekit" in seconds:
            ratios = [t / a for t, a in zip(seconds[system], seconds["aekit"])]
            row["aekit_speedup"] = round(statistics.median(ratios), 2)
            row["aekit_speedup_per_round"] = [round(v, 2) for v in ratios]
    if fractions:
        row = rows["aekit"]
        achieved = statistics.median(a for a, _ in fractions)
        row.update(
            gflops=round(achieved / 1e9, 2),
            matmul_gflops_2048=round(statistics.median(p for _, p in fractions) / 1e9, 2),
            fraction_of_matmul=round(statistics.median(a / p for a, p in fractions), 3),
            fraction_of_matmul_per_round=[round(a / p, 3) for a, p in fractions],
        )
    for system, row in rows.items():
        print(f"{name:8s} {system:10s} {row}", flush=True)
    return rows


def aekit_reconstruct(net):
    if isinstance(net, aekit.nn.Autoencoder):
        return lambda x: net.decode(net.encode(x))
    return net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--train-size", type=int, default=60000, help="first N training images")
    ap.add_argument("--test-size", type=int, default=10000)
    ap.add_argument("--epochs-small", type=int, default=3)
    ap.add_argument("--epochs-deep", type=int, default=1)
    ap.add_argument("--epochs-conv", type=int, default=1)
    ap.add_argument("--pretrain-epochs", type=int, default=3, help="epochs per layer of the greedy stack")
    ap.add_argument("--pretrain-size", type=int, default=20000, help="first N training images for the stack")
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="rounds per model, every system once per round in rotated order; medians reported",
    )
    ap.add_argument(
        "--paired-rounds",
        type=int,
        default=15,
        help="rounds of the paired matmul-fraction measurement (matmul, one aekit epoch, matmul)",
    )
    ap.add_argument("--paired-size", type=int, default=2560, help="images per paired round")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", default="aekit,pythae,torch", type=lambda s: s.split(","))
    ap.add_argument("--parts", default=",".join(PARTS), type=lambda s: s.split(","))
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads for every system (default 1: on a machine shared with other "
        "jobs, spinning OpenMP threads make every op wait for a time slice)",
    )
    ap.add_argument("--name", default="perf", help="results/NAME.json")
    args = ap.parse_args()
    if min(args.repeats, args.paired_rounds, args.paired_size) < 1:
        ap.error("--repeats, --paired-rounds and --paired-size must be at least 1")
    torch.set_num_threads(args.threads)
    _warm_up()

    root = mnist_root(args.data_root)
    X = load_mnist(root, "train")[0][: args.train_size]
    X_test = load_mnist(root, "test")[0][: args.test_size]
    wall = time.perf_counter()
    result = {
        "data": f"MNIST, {len(X)} training / {len(X_test)} test images, pixels in [0, 1]",
        "settings": {
            "batch_size": args.batch_size,
            "optimizer": "adam",
            "lr": args.lr,
            "seed": args.seed,
            "threads": torch.get_num_threads(),
        },
        "pythae": pythae_status() or _version("pythae"),
    }

    def dense(hidden, code):
        def make():
            aekit.seed_everything(args.seed)
            ae = dense_ae(hidden, code)
            return ae, DenseEncoder(ae), DenseDecoder(ae), (784,), hidden[-1]

        return make

    def conv():
        enc, dec = conv_pair(args.seed)
        return ConvAE(copy.deepcopy(enc), copy.deepcopy(dec)), enc, dec, (1, 28, 28), 32 * 7 * 7

    if "small" in args.parts:
        result["small_784_32"] = {
            "epochs": args.epochs_small,
            "rows": compare("small", X, X_test, args, args.epochs_small, dense(SMALL, "sigmoid")),
        }
    if "deep" in args.parts:
        pairs = [(layer_matmul_rate(args.batch_size, DEEP), matmul_rate(2048, 2048, 2048)) for _ in range(3)]
        result[f"matmul_layer_shapes_b{args.batch_size}_vs_2048"] = round(
            statistics.median(layer / square for layer, square in pairs), 3
        )
        result["deep_784_1000_500_250_30"] = {
            "epochs": args.epochs_deep,
            "rows": compare(
                "deep",
                X,
                X_test,
                args,
                args.epochs_deep,
                dense(DEEP, "linear"),
                flops_per_sample=6 * weights(DEEP),
            ),
        }
        row = result["deep_784_1000_500_250_30"]["rows"].get("aekit", {})
        if "gflops" in row:
            row["fraction_of_matmul_paired"] = paired_fraction(
                dense(DEEP, "linear"),
                X,
                args,
                6 * weights(DEEP),
                args.paired_rounds,
                min(args.paired_size, len(X)),
            )
            print("deep     paired fraction of the 2048² rate", row["fraction_of_matmul_paired"], flush=True)
    if "conv" in args.parts:
        Xc, Xc_test = X.reshape(-1, 1, 28, 28), X_test.reshape(-1, 1, 28, 28)
        result["conv_2layer"] = {
            "epochs": args.epochs_conv,
            "rows": compare("conv", Xc, Xc_test, args, args.epochs_conv, conv),
        }
    if "pretrain" in args.parts:
        Xp = X[: args.pretrain_size]
        runs = {True: [], False: []}  # cached? -> [(wall seconds, epoch seconds per layer, losses)] per round
        for r in range(args.repeats):  # alternating which goes first
            for cached in (True, False) if r % 2 == 0 else (False, True):
                runs[cached].append(pretrain_stack(Xp, args, cached=cached))
        (cached_s, cached_l), (recompute_s, recompute_l) = (
            ([w for w, _, _ in runs[c]], [per for _, per, _ in runs[c]]) for c in (True, False)
        )
        med = statistics.median
        result["greedy_pretraining_784_1000_500_250"] = {
            "code": "aekit.pretrain(stack, X, cache=True) against cache=False",
            "train_images": len(Xp),
            "epochs_per_layer": args.pretrain_epochs,
            "rounds": args.repeats,
            "cached_seconds": round(med(cached_s), 3),
            "recompute_seconds": round(med(recompute_s), 3),
            "speedup": round(med(r / c for r, c in zip(recompute_s, cached_s)), 2),
            "speedup_per_round": [round(r / c, 2) for r, c in zip(recompute_s, cached_s)],
            "cached_epoch_seconds_per_layer": [round(med(v), 3) for v in zip(*cached_l)],
            "recompute_epoch_seconds_per_layer": [round(med(v), 3) for v in zip(*recompute_l)],
            "speedup_per_layer": [
                round(med(r / c for r, c in zip(rs, cs)), 2)
                for rs, cs in zip(zip(*recompute_l), zip(*cached_l))
            ],
            "flop_bound_speedup": round(pretrain_flop_bound(args.pretrain_epochs), 2),
            "cached_layer_losses": [round(v, 4) for v in runs[True][0][2]],
            "recompute_layer_losses": [round(v, 4) for v in runs[False][0][2]],
        }
        print("pretrain", result["greedy_pretraining_784_1000_500_250"], flush=True)
    result["seconds"] = round(time.perf_counter() - wall, 1)
    command = ".bench-venv/bin/python " + " ".join(["benchmarks/perf.py", *sys.argv[1:]])
    previous = HERE / "results" / f"{args.name}.json"
    if set(args.parts) != set(PARTS) and previous.is_file():  # a partial run updates its sections only
        old = json.loads(previous.read_text())
        runs = old.get("partial_runs", [])
        runs.append(
            {
                "command": command,
                "parts": args.parts,
                "seconds": result.pop("seconds"),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            }
        )
        result = {
            **{k: v for k, v in old.items() if k not in ("machine", "date")},
            **result,
            "partial_runs": runs,
        }
        command = old["command"]
    result["command"] = command
    print("wrote", write_result(args.name, result))


def _warm_up() -> None:
    """Pay the one-time costs (lazy imports of torch.optim / torch._dynamo, thread pools) before any timing."""
    net = nn.Linear(4, 4)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 4)).sum().backward()
    opt.step()
    if pythae_status() is None:
        import pythae.trainers  # noqa: F401


def _version(name):
    from importlib.metadata import version

    return f"{name} {version(name)}"


if __name__ == "__main__":
    main()
