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
* the machine's float32 matmul rate (2·m·n·k FLOPs / s) measured in the same
  run, next to the rate aekit's dense training reaches (6 FLOPs per weight per
  sample for forward + backward: 2 forward, 4 backward);
* greedy layer-wise pre-training of a 3-layer stack 784-1000-500-250 with each
  layer's input computed once for the data set (cached, as aekit's stacks do)
  against recomputing the frozen lower layers for every batch; same fit loop,
  same batches.

    python -m venv .bench-venv --system-site-packages && .bench-venv/bin/pip install pythae
    .bench-venv/bin/python benchmarks/perf.py
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))   # this checkout's aekit, also from the benchmark's own venv

import aekit  # noqa: E402
from aekit.data import load_mnist  # noqa: E402

from common import mnist_root, write_result  # noqa: E402

SMALL, DEEP = [32], [1000, 500, 250, 30]
STACK = [1000, 500, 250]
PARTS = ("small", "deep", "conv", "pretrain")


# ====================================================================== the networks, shared by all systems
def dense_ae(hidden, code_activation):
    """aekit's Autoencoder (logistic units, MSE); its layers are copied into the peers' modules."""
    return aekit.Autoencoder(784, hidden, activation="sigmoid", code_activation=code_activation,
                             output_activation="sigmoid", loss="mse")


class DenseEncoder(nn.Module):
    def __init__(self, ae):
        super().__init__()
        self.layers = nn.ModuleList(_copy_linear(l) for l in ae.encoder_layers)
        self.acts = list(ae.encoder_activations)

    def forward(self, x):
        for layer, act in zip(self.layers, self.acts):
            x = aekit.nn.activations.apply(act, layer(x))
        return x


class DenseDecoder(nn.Module):
    def __init__(self, ae):
        super().__init__()
        self.layers = nn.ModuleList(_copy_linear(l) for l in ae.decoder_layers)
        self.acts = list(ae.decoder_activations)

    def forward(self, y):
        for layer, act in zip(self.layers, self.acts):
            y = aekit.nn.activations.apply(act, layer(y))
        return y


def _copy_linear(layer):
    new = nn.Linear(layer.in_features, layer.out_features)
    new.load_state_dict(layer.state_dict())
    return new


class ConvEncoder(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),      # (N, 16, 14, 14)
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())     # (N, 32, 7, 7)


class ConvDecoder(nn.Sequential):
    def __init__(self):
        super().__init__(nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())


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
            x = torch.from_numpy(X_test[i:i + 1000])
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
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X)),
                                         batch_size=args.batch_size, shuffle=True)
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
        trainer = BaseTrainer(model, BaseDataset(data, torch.zeros(len(data))),
                              training_config=BaseTrainerConfig(
                                  output_dir=tmp, num_epochs=epochs, learning_rate=args.lr,
                                  per_device_train_batch_size=args.batch_size, optimizer_cls="Adam",
                                  keep_best_on_train=True, no_cuda=True, seed=args.seed))
        trainer.train()
        seconds = time.perf_counter() - start
    net = nn.Sequential(encoder, decoder).eval()    # trained in place by pythae
    return seconds, net


def pythae_status() -> str | None:
    try:
        import pythae  # noqa: F401
        return None
    except Exception as err:   # report why, compare what can run
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


def weights(hidden) -> int:
    sizes = [784, *hidden]
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# ====================================================================== greedy pre-training
class Recompute(nn.Module):
    """Layer k's autoencoder fed by the frozen layers below, recomputed for every batch."""

    def __init__(self, lower, ae):
        super().__init__()
        self.lower = nn.ModuleList(lower)
        self.ae = ae

    def loss(self, x):
        with torch.no_grad():
            for enc in self.lower:
                x = enc.encode(x)
        return self.ae.loss(x)


def pretrain(X, args, cached: bool):
    """Train 784-1000-500-250 layer by layer; returns seconds per layer and each layer's final training loss."""
    seconds, trained, losses, H = [], [], [], X
    torch.manual_seed(args.seed)
    for k, h in enumerate(STACK):
        start = time.perf_counter()
        ae = aekit.Autoencoder(([784] + STACK)[k], [h], loss="bce")
        model = ae if cached else Recompute(trained, ae)
        hist = aekit.fit(model, H if cached else X, epochs=args.pretrain_epochs, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, progress=False)
        for p in ae.parameters():
            p.requires_grad_(False)
        trained.append(ae)
        losses.append(hist["train_loss"][-1])
        if cached and k + 1 < len(STACK):
            H = aekit.encode(ae, H)                    # the next layer's input, computed once
        seconds.append(time.perf_counter() - start)
    return seconds, losses


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
    """Train one architecture with each system; returns the rows of the table."""
    rows = {}
    status = pythae_status() if "pythae" in args.systems else "not requested (--systems)"
    for system in args.systems:
        aek, enc, dec, input_dim, latent_dim = make()
        if system == "aekit":
            before = matmul_rate(2048, 2048, 2048) if flops_per_sample else None
            seconds, net = run_aekit(aek, X, args, epochs)
            after = matmul_rate(2048, 2048, 2048) if flops_per_sample else None
            recon = aekit_reconstruct(net)
        elif system == "pythae":
            if status is not None:
                rows[system] = {"skipped": status}
                continue
            seconds, net = run_pythae(enc, dec, X, args, epochs, input_dim, latent_dim)
            recon = net
        else:
            seconds, net = run_torch_loop(enc, dec, X, args, epochs)
            recon = net
        row = {"seconds": round(seconds, 3), "samples_per_s": round(len(X) * epochs / seconds, 1),
               "test_loss": round(test_loss(recon, X_test), 4)}
        if system == "aekit" and flops_per_sample:
            peak = (before + after) / 2
            achieved = flops_per_sample * row["samples_per_s"]
            row.update(gflops=round(achieved / 1e9, 2), matmul_gflops_2048=round(peak / 1e9, 2),
                       fraction_of_matmul=round(achieved / peak, 3))
        rows[system] = row
        print(f"{name:8s} {system:10s} {row}", flush=True)
    base = rows.get("aekit", {}).get("samples_per_s")
    for system, row in rows.items():
        if base and "samples_per_s" in row and system != "aekit":
            row["aekit_speedup"] = round(base / row["samples_per_s"], 2)
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
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", default="aekit,pythae,torch", type=lambda s: s.split(","))
    ap.add_argument("--parts", default=",".join(PARTS), type=lambda s: s.split(","))
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for every system (default 1: on a machine shared with other "
                         "jobs, spinning OpenMP threads make every op wait for a time slice)")
    ap.add_argument("--name", default="perf", help="results/NAME.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _warm_up()

    root = mnist_root(args.data_root)
    X = load_mnist(root, "train")[0][: args.train_size]
    X_test = load_mnist(root, "test")[0][: args.test_size]
    wall = time.perf_counter()
    result = {"data": f"MNIST, {len(X)} training / {len(X_test)} test images, pixels in [0, 1]",
              "settings": {"batch_size": args.batch_size, "optimizer": "adam", "lr": args.lr, "seed": args.seed,
                           "threads": torch.get_num_threads()},
              "pythae": pythae_status() or _version("pythae")}

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
        result["small_784_32"] = {"epochs": args.epochs_small, "rows": compare(
            "small", X, X_test, args, args.epochs_small, dense(SMALL, "sigmoid"))}
    if "deep" in args.parts:
        result["matmul_gflops_layers_b%d" % args.batch_size] = round(layer_matmul_rate(args.batch_size, DEEP) / 1e9, 2)
        result["deep_784_1000_500_250_30"] = {"epochs": args.epochs_deep, "rows": compare(
            "deep", X, X_test, args, args.epochs_deep, dense(DEEP, "linear"), flops_per_sample=6 * weights(DEEP))}
        row = result["deep_784_1000_500_250_30"]["rows"].get("aekit", {})
        if "gflops" in row:
            layers = result["matmul_gflops_layers_b%d" % args.batch_size]
            row["fraction_of_layer_matmul"] = round(row["gflops"] / layers, 3)
    if "conv" in args.parts:
        Xc, Xc_test = X.reshape(-1, 1, 28, 28), X_test.reshape(-1, 1, 28, 28)
        result["conv_2layer"] = {"epochs": args.epochs_conv, "rows": compare(
            "conv", Xc, Xc_test, args, args.epochs_conv, conv)}
    if "pretrain" in args.parts:
        Xp = X[: args.pretrain_size]
        cached_s, cached_loss = pretrain(Xp, args, cached=True)
        recompute_s, recompute_loss = pretrain(Xp, args, cached=False)
        result["greedy_pretraining_784_1000_500_250"] = {
            "train_images": len(Xp), "epochs_per_layer": args.pretrain_epochs,
            "cached_seconds": round(sum(cached_s), 3), "recompute_seconds": round(sum(recompute_s), 3),
            "speedup": round(sum(recompute_s) / sum(cached_s), 2),
            "cached_seconds_per_layer": [round(v, 3) for v in cached_s],
            "recompute_seconds_per_layer": [round(v, 3) for v in recompute_s],
            "speedup_per_layer": [round(r / c, 2) for r, c in zip(recompute_s, cached_s)],
            "flop_bound_speedup": round(pretrain_flop_bound(args.pretrain_epochs), 2),
            "cached_layer_losses": [round(v, 4) for v in cached_loss],
            "recompute_layer_losses": [round(v, 4) for v in recompute_loss]}
        print("pretrain", result["greedy_pretraining_784_1000_500_250"], flush=True)
    result["seconds"] = round(time.perf_counter() - wall, 1)
    command = ".bench-venv/bin/python " + " ".join(["benchmarks/perf.py", *sys.argv[1:]])
    previous = HERE / "results" / f"{args.name}.json"
    if set(args.parts) != set(PARTS) and previous.is_file():   # a partial run updates its sections only
        old = json.loads(previous.read_text())
        runs = old.get("partial_runs", [])
        runs.append({"command": command, "parts": args.parts, "seconds": result.pop("seconds"),
                     "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
        result = {**{k: v for k, v in old.items() if k not in ("machine", "date")}, **result, "partial_runs": runs}
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
