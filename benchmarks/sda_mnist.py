"""Vincent et al. (JMLR 2010), Table 3, MNIST: a 3-layer stacked denoising autoencoder classifier.

Network 784-1000-1000-1000-10 (logistic units, tied weights while pre-training,
masking noise per layer), greedily pre-trained layer by layer on the first
50,000 training images, then an output layer is added and the whole network is
fine-tuned on the cross-entropy with early stopping on the last 10,000 training
images; the error is measured on the 10,000 test images. The same network
without pre-training (same fine-tuning) is the baseline.

Fine-tuning differs from the paper's plain SGD: Adam with a cosine learning-rate
schedule over 100 epochs and dropout (0.2 on the input, 0.5 on the hidden layers,
Srivastava et al. 2014), for both networks. With weaker regularisation (0.2 on the
hidden layers only, 60 epochs, patience 10) the SdA stopped early at 1.38%: it
over-fits the 50,000 images within ~25 epochs.

Paper: SdA-3 1.28% (SAE-3 1.40%, DBN-3 1.24%, SVM-rbf 1.40%). Goal here: SdA-3
at or below 1.20%, pre-training better than none, under 60 minutes on 2 CPU cores.

The defaults are the real experiment; every budget is a flag:

    python benchmarks/sda_mnist.py                                   # full run
    python benchmarks/sda_mnist.py --pretrain-epochs 1 --epochs 4    # a reduced one
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import aekit
from aekit.cli.common import int_list
from aekit.cli.stacked import parse_corruptions
from aekit.data import load_mnist
from aekit.train import pretrain
from common import mnist_root, write_result

PAPER = {"SdA-3": 1.28, "SAE-3": 1.40, "DBN-3": 1.24, "SVM-rbf": 1.40}
DEFAULTS = {
    "hidden": [1000, 1000, 1000],
    "pretrain_epochs": 15,
    "epochs": 100,
    "train_size": 50000,
    "val_size": 10000,
    "test_size": 10000,
}


def error_pct(model, X, y) -> float:
    return 100.0 * float(np.mean(aekit.predict(model, X) != y))


def finetune(model, data, args, label: str) -> dict:
    X_tr, y_tr, X_val, y_val, X_test, y_test = data
    start = time.perf_counter()
    history = aekit.fit_classifier(
        model,
        X_tr,
        y_tr,
        X_val=X_val,
        y_val=y_val,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule="cosine",
        patience=args.patience,
        seed=args.seed,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    result = {
        "test_error_pct": error_pct(model, X_test, y_test),
        "val_error_pct": 100 * min(history["val_error"]),
        "epochs_run": len(history["epoch"]),
        "best_epoch": history["best_epoch"],
        "seconds": seconds,
        "val_error_pct_per_epoch": [100 * e for e in history["val_error"]],
    }
    print(
        f"{label}: test error {result['test_error_pct']:.2f}% (validation {result['val_error_pct']:.2f}%, "
        f"{result['epochs_run']} epochs, {seconds:.0f}s)",
        flush=True,
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument(
        "--hidden", type=int_list, default=DEFAULTS["hidden"], help="layer sizes (1000,1000,1000)"
    )
    ap.add_argument(
        "--corruption", default="masking:0.1,masking:0.2,masking:0.3", help="q_D per layer (or one for all)"
    )
    ap.add_argument("--pretrain-epochs", type=int, default=DEFAULTS["pretrain_epochs"], help="per layer")
    ap.add_argument("--pretrain-lr", type=float, default=1e-3)
    ap.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="supervised fine-tuning epochs (max)"
    )
    ap.add_argument("--patience", type=int, default=25, help="early stopping on the validation error")
    ap.add_argument(
        "--lr", type=float, default=1e-3, help="fine-tuning learning rate (Adam, cosine schedule)"
    )
    ap.add_argument(
        "--dropout",
        type=float,
        default=0.5,
        help="dropout on the hidden layers while fine-tuning, both networks (0.5; the paper: none)",
    )
    ap.add_argument(
        "--input-dropout",
        type=float,
        default=0.2,
        help="dropout on the input while fine-tuning, both networks (0.2; the paper: none)",
    )
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument(
        "--train-size",
        type=int,
        default=DEFAULTS["train_size"],
        help="first N training images for training (50000)",
    )
    ap.add_argument(
        "--val-size",
        type=int,
        default=DEFAULTS["val_size"],
        help="last N training images for early stopping (10000)",
    )
    ap.add_argument("--test-size", type=int, default=DEFAULTS["test_size"])
    ap.add_argument("--no-baseline", action="store_true", help="skip the network without pre-training")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--save", default=None, help="save the pre-trained stack here (for svm_features.py --stack)"
    )
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    root = mnist_root(args.data_root)
    X, y = load_mnist(root, "train")
    X_test, y_test = load_mnist(root, "test")
    if args.train_size + args.val_size > len(X):
        raise SystemExit(f"--train-size + --val-size must be <= {len(X)}")
    data = (
        X[: args.train_size],
        y[: args.train_size],
        X[len(X) - args.val_size :],
        y[len(X) - args.val_size :],
        X_test[: args.test_size],
        y_test[: args.test_size],
    )
    n_classes = 10
    total = time.perf_counter()

    aekit.seed_everything(args.seed)
    stack = aekit.StackedAutoencoder(
        784, args.hidden, tied=True, corruption=parse_corruptions(args.corruption, len(args.hidden))
    )
    start = time.perf_counter()
    pretrain(
        stack,
        data[0],
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
        lr=args.pretrain_lr,
        seed=args.seed,
        progress=not args.quiet,
    )
    pretrain_seconds = time.perf_counter() - start
    print(
        f"pre-training: {args.pretrain_epochs} epochs x {len(args.hidden)} layers in {pretrain_seconds:.0f}s",
        flush=True,
    )
    if args.save:
        aekit.save(stack, args.save)
    classifier = stack.to_classifier(n_classes, dropout=args.dropout, input_dropout=args.input_dropout)
    sda = finetune(classifier, data, args, "SdA (pre-trained)")

    report(
        args, root, stack, sda, None, pretrain_seconds, time.perf_counter() - total, finished=args.no_baseline
    )
    if not args.no_baseline:
        aekit.seed_everything(args.seed)
        scratch = aekit.StackedClassifier(
            784, args.hidden, n_classes, dropout=args.dropout, input_dropout=args.input_dropout
        )
        baseline = finetune(scratch, data, args, "same network, no pre-training")
        report(args, root, stack, sda, baseline, pretrain_seconds, time.perf_counter() - total, finished=True)


def report(args, root, stack, sda, baseline, pretrain_seconds, seconds, *, finished: bool) -> None:
    """Write results/sda_mnist.json (also after the SdA alone, so a cut-off run leaves its figure)."""
    n_classes = 10
    reduced = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) != DEFAULTS[k]}
    arch = "-".join(map(str, [784, *args.hidden, n_classes]))
    sda_seconds = pretrain_seconds + sda["seconds"]
    result = {
        "data": f"MNIST from {root}: train on the first {args.train_size} training images, early-stop on the last "
        f"{args.val_size}, test on {args.test_size} test images",
        "architecture": f"{arch}, logistic units; pre-training: tied weights, cross-entropy, {args.corruption}",
        "training": f"pre-training Adam lr {args.pretrain_lr}, {args.pretrain_epochs} epochs per layer, batch "
        f"{args.batch_size}; fine-tuning Adam lr {args.lr} cosine, up to {args.epochs} epochs, "
        f"patience {args.patience}, cross-entropy, dropout {args.dropout} on the hidden layers and "
        f"{args.input_dropout} on the input",
        "test_error_pct": sda["test_error_pct"],
        "test_error_no_pretraining_pct": baseline["test_error_pct"] if baseline else None,
        "val_error_pct": sda["val_error_pct"],
        "val_error_no_pretraining_pct": baseline["val_error_pct"] if baseline else None,
        "sda": sda,
        "no_pretraining": baseline,
        "pretrain_seconds": pretrain_seconds,
        "pretrain_loss_per_layer": [h["train_loss"] for h in stack.pretrain_history],
        "sda_seconds": sda_seconds,
        "sda_seconds_note": 'pre-training + fine-tuning of the SdA alone (the goal\'s "under 60 minutes"); '
        "seconds adds the baseline",
        "seconds": seconds,
        "seconds_note": "pre-training + fine-tuning of the SdA + training of the baseline, data loading excluded",
        "paper_test_error_pct": PAPER,
        "goal": "SdA-3 <= 1.20% test error, pre-training better than none, < 60 min on 2 CPU cores",
        "goal_met": bool(
            sda["test_error_pct"] <= 1.20
            and baseline is not None
            and sda["test_error_pct"] < baseline["test_error_pct"]
            and sda_seconds < 3600
        ),
        "finished": finished,
        "reduced_budget": reduced or None,
        "note": (
            "budget reduced from the defaults (the real experiment) because CPU time was scarce: "
            + ", ".join(f"{k}={v} (default {DEFAULTS[k]})" for k, v in reduced.items())
        )
        if reduced
        else "full experiment (script defaults)",
    }
    path = write_result("sda_mnist", result)
    print(f"wrote {path} ({seconds:.0f}s)")


if __name__ == "__main__":
    main()
