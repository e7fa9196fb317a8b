"""Hinton & Salakhutdinov (Science, 2006): the deep autoencoder 784-1000-500-250-30 on MNIST.

Logistic units everywhere except the linear 30-unit code. The paper pre-trains
with RBMs and fine-tunes with conjugate gradients; we train end to end with
Adam on the reconstruction cross-entropy (the paper's fine-tuning cost) with a
cosine learning-rate schedule. Reported: test squared error per image
(‖z − x‖² summed over the 784 pixels, averaged over the 10,000 test images),
next to PCA with 30 components on the same data and the paper's 3.00.

    python benchmarks/hinton_mnist.py --epochs 60
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA

import aekit
from aekit.data import load_mnist

from common import mnist_root, write_result

PAPER_DEEP = 3.00
PAPER_PCA = 13.87


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-size", type=int, default=60000, help="use the first N training images")
    ap.add_argument("--out", default=None, help="also save the trained model here")
    args = ap.parse_args()

    root = mnist_root(args.data_root)
    X, _ = load_mnist(root, "train")
    X_test, _ = load_mnist(root, "test")
    X = X[: args.train_size]

    pca = PCA(30, random_state=args.seed).fit(X)
    pca_err = float(np.mean(aekit.metrics.squared_error_per_sample(X_test, pca.inverse_transform(pca.transform(X_test)))))
    print(f"PCA-30 test squared error per image: {pca_err:.2f} (paper {PAPER_PCA})", flush=True)

    aekit.seed_everything(args.seed)
    model = aekit.Autoencoder(784, [1000, 500, 250, 30], activation="sigmoid", code_activation="linear",
                              output_activation="sigmoid", loss="bce")
    start = time.perf_counter()
    history = aekit.fit(model, X, X_val=X_test[:2000], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        lr_schedule="cosine", seed=args.seed, progress=True)
    seconds = time.perf_counter() - start
    Z = aekit.reconstruct(model, X_test)
    err = float(np.mean(aekit.metrics.squared_error_per_sample(X_test, Z)))
    print(f"deep autoencoder test squared error per image: {err:.3f} (paper {PAPER_DEEP}) in {seconds:.0f}s",
          flush=True)
    if args.out:
        model.save(args.out)
    path = write_result("hinton_mnist", {
        "data": f"MNIST from {root}: first {len(X)} training images, 10,000 test images",
        "architecture": "784-1000-500-250-30 (logistic, linear code), mirrored decoder, logistic output",
        "training": f"Adam lr {args.lr} cosine to lr/100, batch {args.batch_size}, cross-entropy loss, "
                    "no pre-training, end to end",
        "test_sq_error_per_image": err, "pca30_sq_error_per_image": pca_err,
        "paper_deep_autoencoder": PAPER_DEEP, "paper_pca30": PAPER_PCA, "goal": "below 3.00",
        "goal_met": err < PAPER_DEEP, "epochs": len(history["epoch"]), "seconds": seconds,
        "seconds_per_epoch": float(np.mean(history["seconds"])),
        "train_loss_last": history["train_loss"][-1], "val_loss_last": history["val_loss"][-1],
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
