"""The deep command of the README with its defaults, against PCA with 30 components.

``aekit train --hidden 1000,500,250,30 --code-activation linear`` (20 epochs and every other option
left at its default) is run through the command line itself, in this process, on three data sets, and
its test squared error per image (‖z − x‖² summed over the pixels, averaged over the test images, from
the run's ``metrics.json``) is set beside PCA's with 30 components, fitted on the same training split:

- ``mnist``: the first ``--mnist-train`` MNIST training images and the first ``--mnist-test`` test
  images (a subset, to keep the run short on one thread);
- ``digits``: scikit-learn's embedded 8×8 digits (1,437 / 360), as ``--data digits``;
- ``patches``: a held-out 28×28 set never used while choosing the defaults: grey 56×56 crops of the
  photographs in ``../shared/data/denoise/train400`` (training) and ``bsd68`` (test), each averaged
  down 2×2 to 28×28, at random positions drawn with ``--seed``.

``--baseline`` also runs the same command with ``--activation sigmoid``, the default before the
dense autoencoder's hidden units became GELU (issue 17: 16.1 against PCA's 12.2 on a held-out set).

    python benchmarks/deep_vs_pca.py --threads 1 --baseline --sets patches digits
    python benchmarks/deep_vs_pca.py --threads 1 --baseline --sets mnist --result deep_vs_pca_mnist
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from aekit.cli import main as aekit_main  # noqa: E402
from aekit.data import find_images, load_dataset, load_mnist, read_image, save_idx  # noqa: E402
from aekit.metrics import squared_error_per_sample  # noqa: E402
from common import mnist_root, write_result  # noqa: E402

COMMAND = ["train", "--hidden", "1000,500,250,30", "--code-activation", "linear"]
PHOTOS = HERE.parent.parent / "shared" / "data" / "denoise"


def _write_idx(directory: Path, train: np.ndarray, test: np.ndarray) -> Path:
    """Images in [0, 1] as MNIST-named uint8 IDX files (labels all 0), so that --data DIR has both splits."""
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, X in (("train", train), ("t10k", test)):
        save_idx(directory / f"{prefix}-images-idx3-ubyte.gz", np.rint(X * 255).astype(np.uint8))
        save_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(len(X), np.uint8))
    return directory


def _patches(folder: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` grey 56×56 crops of the images in ``folder`` at random places, averaged 2×2 to 28×28."""
    images = [read_image(p, mode="L")[0] for p in find_images(folder)[0]]
    out = np.empty((n, 28, 28), np.float32)
    for i in range(n):
        image = images[rng.integers(len(images))]
        top, left = rng.integers(image.shape[0] - 55), rng.integers(image.shape[1] - 55)
        crop = image[top : top + 56, left : left + 56]
        out[i] = crop.reshape(28, 2, 28, 2).mean(axis=(1, 3))
    return out


def data_sets(args: argparse.Namespace, work: Path) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """name -> (the --data arguments, training images, test images), flattened."""
    sets = {}
    if "mnist" in args.sets:
        X, _ = load_mnist(mnist_root(args.data_root), "train")
        X_test, _ = load_mnist(mnist_root(args.data_root), "test")
        X, X_test = X[: args.mnist_train], X_test[: args.mnist_test]
        folder = _write_idx(work / "mnist", X.reshape(-1, 28, 28), X_test.reshape(-1, 28, 28))
        sets["mnist"] = (["--data", str(folder)], X, X_test)
    if "digits" in args.sets:
        X, _ = load_dataset("digits", split="train")
        X_test, _ = load_dataset("digits", split="test")
        sets["digits"] = (["--data", "digits"], X, X_test)
    if "patches" in args.sets:
        rng = np.random.default_rng(args.seed)
        train = _patches(PHOTOS / "train400", args.patches_train, rng)
        test = _patches(PHOTOS / "bsd68", args.patches_test, rng)
        folder = _write_idx(work / "patches", train, test)
        train, test = (np.rint(X * 255).reshape(len(X), -1) / np.float32(255) for X in (train, test))
        sets["patches"] = (["--data", str(folder)], train, test)
    return {name: sets[name] for name in args.sets}


def pca_error(X: np.ndarray, X_test: np.ndarray, seed: int) -> float:
    pca = PCA(30, random_state=seed).fit(X)
    return float(np.mean(squared_error_per_sample(X_test, pca.inverse_transform(pca.transform(X_test)))))


def run_cli(data: list[str], extra: list[str], out: Path, seed: int) -> dict:
    """``aekit train`` as a user types it; its metrics.json."""
    argv = ["-q", *COMMAND, *data, *extra, "--seed", str(seed), "--out", str(out)]
    start = time.perf_counter()
    if aekit_main(argv) != 0:
        raise SystemExit(f"aekit {' '.join(argv)} failed")
    report = json.loads((out / "metrics.json").read_text())
    return {
        "command": "aekit " + " ".join(argv[1:]),
        "test_sq_error_per_image": report["test"]["sq_error_per_sample"],
        "test_psnr_db": report["test"]["psnr_db"],
        "epochs": report["epochs"],
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sets", nargs="+", default=["patches", "digits", "mnist"], choices=["patches", "digits", "mnist"]
    )
    ap.add_argument("--data-root", default=None, help="MNIST directory (default ../shared/data/mnist)")
    ap.add_argument("--mnist-train", type=int, default=10000)
    ap.add_argument("--mnist-test", type=int, default=10000)
    ap.add_argument("--patches-train", type=int, default=10000)
    ap.add_argument("--patches-test", type=int, default=2000)
    ap.add_argument("--baseline", action="store_true", help="also run with --activation sigmoid")
    ap.add_argument("--result", default="deep_vs_pca", help="results/NAME.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (data, X, X_test) in data_sets(args, work).items():
            row = {"train": len(X), "test": len(X_test), "pca30": pca_error(X, X_test, args.seed)}
            row["aekit"] = run_cli(data, [], work / f"{name}-default", args.seed)
            if args.baseline:
                row["sigmoid"] = run_cli(
                    data, ["--activation", "sigmoid"], work / f"{name}-sigmoid", args.seed
                )
            row["beats_pca"] = row["aekit"]["test_sq_error_per_image"] < row["pca30"]
            results[name] = row
            shown = {k: v["test_sq_error_per_image"] for k, v in row.items() if isinstance(v, dict)}
            print(
                f"{name}: PCA-30 {row['pca30']:.3f}, " + ", ".join(f"{k} {v:.3f}" for k, v in shown.items())
            )
            path = write_result(args.result, {"what": __doc__.split("\n\n")[0], "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
