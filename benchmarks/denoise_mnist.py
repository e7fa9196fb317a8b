"""Noisy-MNIST denoising: convolutional denoisers vs a dense DAE vs tuned classical filters.

The notes' example "Apply 2-Layers Conv AutoEncoder on NOISY Mnist dataset":
x̃ = clip(x + 0.5·N(0, 1), 0, 1); a Conv32-Pool-Conv32-Pool / Conv32-Up-Conv32-Up-Conv1
denoiser (the well-known Keras example, here with the notes' Conv + BN + ReLU block) is
trained to map x̃ to the clean x. Reported on the fixed noisy test set: PSNR and SSIM
(scikit-image) of the noisy input, of each model, and of a median and a Gaussian filter
whose parameter is tuned on noisy *training* images. Goal: the conv denoiser at least
3 dB above the best classical filter.

    python benchmarks/denoise_mnist.py                       # the full experiment (60k images, 20 epochs)
    python benchmarks/denoise_mnist.py --n-train 12000 --epochs 3     # what a busy 2-core machine affords
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import aekit
from aekit import viz
from aekit.data import load_mnist
from aekit.io import atomic_write_text

HERE = Path(__file__).resolve().parent
MODELS = ("notes", "masci", "dense")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--data-root", default=os.environ.get("AEKIT_DATA", str(HERE.parent.parent / "shared/data/mnist"))
    )
    p.add_argument("--sigma", type=float, default=0.5, help="noise σ (x + σ·N(0,1), clipped)")
    p.add_argument("--n-train", type=int, default=60000, help="training images for the models")
    p.add_argument("--n-test", type=int, default=10000, help="test images scored")
    p.add_argument("--n-tune", type=int, default=2000, help="noisy training images used to tune the filters")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument(
        "--dense-epochs", type=int, default=None, help="epochs of the dense DAE (default --epochs)"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {MODELS}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    p.add_argument(
        "--speed-batches",
        type=int,
        default=8,
        help="batches timed for the channels_last vs contiguous speed ratio (0: skip)",
    )
    p.add_argument("--out", default=str(HERE / "results" / "denoise_mnist.json"))
    p.add_argument("--figure", default=str(HERE / "results" / "denoise_mnist.png"))
    return p.parse_args(argv)


def scores(clean: np.ndarray, estimate: np.ndarray) -> dict:
    """Mean PSNR and SSIM (scikit-image, data range 1) over (N, H, W) images."""
    estimate = np.clip(estimate, 0.0, 1.0)
    psnr = [peak_signal_noise_ratio(c, e, data_range=1.0) for c, e in zip(clean, estimate)]
    ssim = [structural_similarity(c, e, data_range=1.0) for c, e in zip(clean, estimate)]
    return {"psnr_db": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}


def add_noise(X: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(X + sigma * rng.standard_normal(X.shape, dtype=np.float32), 0.0, 1.0).astype(np.float32)


FILTERS = {
    "median": ([3, 5, 7], lambda X, s: ndimage.median_filter(X, size=(1, s, s))),
    "gaussian": ([0.5, 0.75, 1.0, 1.25, 1.5, 2.0], lambda X, s: ndimage.gaussian_filter(X, sigma=(0, s, s))),
}


def tune_filters(clean_tr, noisy_tr, clean_te, noisy_te) -> dict:
    """Pick each filter's parameter by PSNR on noisy training images; score it on the test set."""
    out = {}
    for name, (grid, apply) in FILTERS.items():
        tuning = {str(p): scores(clean_tr, apply(noisy_tr, p))["psnr_db"] for p in grid}
        best = max(grid, key=lambda p: tuning[str(p)])
        start = time.perf_counter()
        est = apply(noisy_te, best)
        out[name] = {
            "parameter": best,
            "tuning_psnr_db": tuning,
            **scores(clean_te, est),
            "seconds_test": time.perf_counter() - start,
            "_estimate": est,
        }
    return out


def build(name: str, sigma: float):
    noise = f"gaussian:{sigma}"
    if name == "notes":  # Conv32-Pool-Conv32-Pool / Conv32-Up-Conv32-Up-Conv1, Conv + BN + ReLU
        return aekit.ConvAutoencoder(1, (32, 32), block="modern", unpool="upsample", corruption=noise)
    if name == "masci":  # Φ = tanh(Ψ(X * W + b)), decoder with the "spread" inverse of Ψ
        return aekit.ConvAutoencoder(1, (32, 32), block="masci", unpool="spread", corruption=noise)
    if name == "dense":  # dense DAE 784-256-64 on flattened images
        return aekit.Autoencoder(784, [256, 64], corruption=noise)
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def speed_ratio(X: np.ndarray, batches: int, batch_size: int, sigma: float) -> dict:
    """Training samples/s of the notes CAE with channels_last vs the default contiguous layout, same run."""
    out = {}
    x = torch.from_numpy(X[:batch_size])
    for channels_last in (True, False):
        torch.manual_seed(0)
        model = aekit.ConvAutoencoder(
            1, (32, 32), corruption=f"gaussian:{sigma}", channels_last=channels_last
        )
        opt = torch.optim.Adam(model.parameters())
        for i in range(batches + 2):  # two warm-up steps
            if i == 2:
                start = time.perf_counter()
            loss = model.loss(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        out["channels_last" if channels_last else "contiguous"] = (
            batches * len(x) / (time.perf_counter() - start)
        )
    out["ratio"] = out["channels_last"] / out["contiguous"]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    X_tr, _ = load_mnist(args.data_root, "train", flatten=False)
    X_te, _ = load_mnist(args.data_root, "test", flatten=False)
    X_tr = X_tr[np.random.default_rng(args.seed).permutation(len(X_tr))[: args.n_train]]
    X_te = X_te[: args.n_test]
    noisy_te = add_noise(X_te, args.sigma, seed=10_000 + args.seed)  # the fixed noisy test set
    tune = X_tr[: args.n_tune]
    result = {
        "benchmark": "denoise_mnist",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "data": f"MNIST, {len(X_tr)} training images, first {len(X_te)} test images, "
        f"x + {args.sigma}·N(0,1) clipped to [0, 1]",
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "figure")},
        "torch_threads": torch.get_num_threads(),
        "methods": {},
    }
    methods = result["methods"]
    methods["noisy input"] = scores(X_te[:, 0], noisy_te[:, 0])
    filters = tune_filters(
        tune[:, 0], add_noise(tune, args.sigma, seed=20_000 + args.seed)[:, 0], X_te[:, 0], noisy_te[:, 0]
    )
    estimates = {}
    for name, res in filters.items():
        estimates[f"{name} filter"] = res.pop("_estimate")
        methods[f"{name} filter"] = res
    print(json.dumps({k: v for k, v in methods.items()}, default=float), flush=True)

    for name in [m for m in args.models.split(",") if m]:
        aekit.seed_everything(args.seed)
        model = build(name, args.sigma)
        data = X_tr.reshape(len(X_tr), -1) if name == "dense" else X_tr
        epochs = args.dense_epochs if (name == "dense" and args.dense_epochs is not None) else args.epochs
        start = time.perf_counter()
        history = aekit.fit(
            model, data, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=False
        )
        seconds = time.perf_counter() - start
        noisy_in = noisy_te.reshape(len(noisy_te), -1) if name == "dense" else noisy_te
        start = time.perf_counter()
        denoised = aekit.reconstruct(model, noisy_in).reshape(X_te.shape)
        infer = time.perf_counter() - start
        estimates[name] = denoised[:, 0]
        methods[name] = {
            "model": type(model).__name__,
            "config": model.config,
            "epochs": epochs,
            "train_seconds": seconds,
            "train_samples_per_second": len(data) * epochs / seconds,
            "inference_images_per_second": len(X_te) / infer,
            "final_train_loss": history["train_loss"][-1],
            **scores(X_te[:, 0], denoised[:, 0]),
        }
        print(name, json.dumps({k: v for k, v in methods[name].items() if k != "config"}), flush=True)

    if args.speed_batches:
        result["speed_train_samples_per_second"] = speed_ratio(
            X_tr, args.speed_batches, args.batch_size, args.sigma
        )
        print("speed", json.dumps(result["speed_train_samples_per_second"]), flush=True)
    classical = max(("median filter", "gaussian filter"), key=lambda k: methods[k]["psnr_db"])
    convs = [m for m in ("notes", "masci") if m in methods]
    summary = {"best_classical_filter": classical, "best_classical_psnr_db": methods[classical]["psnr_db"]}
    if convs:
        best = max(convs, key=lambda k: methods[k]["psnr_db"])
        summary.update(best_aekit_model=best, best_aekit_psnr_db=methods[best]["psnr_db"])
        if "notes" in methods:
            gain = methods["notes"]["psnr_db"] - methods[classical]["psnr_db"]
            summary.update(
                notes_cae_gain_over_best_filter_db=gain,
                goal="notes CAE >= best filter + 3 dB",
                goal_met=bool(gain >= 3.0),
            )
    result["summary"] = summary
    result["seconds"] = time.perf_counter() - t0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2, default=float) + "\n")
    rows = {"clean": X_te[:10], "noisy": noisy_te[:10]}
    rows.update({k: v[:10, None] for k, v in estimates.items() if k in ("gaussian filter", "median filter")})
    rows.update({k: v[:10, None] for k, v in estimates.items() if k in MODELS})
    viz.reconstruction_grid(rows, args.figure, title=f"noisy MNIST, σ = {args.sigma}")
    print(json.dumps(summary, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
