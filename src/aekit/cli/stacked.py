"""Sub-commands for stacked denoising autoencoders: ``train --model sda`` and ``filters``.

``aekit train --model sda`` pre-trains the stack greedily, adds an output layer
and fine-tunes the classifier (Vincent et al., JMLR 2010); ``aekit evaluate DIR``
then reports its error rate and confusion matrix; ``aekit filters DIR`` draws
the first layer's weights as image tiles.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import numpy as np

from . import core
from .common import (
    Model,
    is_main,
    load_data,
    nonnegative_int,
    out_file,
    positive_float,
    positive_int,
    say,
    write_json,
)

PRETRAINED = "pretrained"  # sub-directory of --out holding the pre-trained stack


def register(sub: argparse._SubParsersAction) -> None:
    group = core.add_trainer(
        sub,
        "sda",
        train_sda,
        "stacked denoising autoencoder classifier "
        "(greedy pre-training + supervised fine-tuning); --corruption takes one spec per "
        "layer, comma-separated: masking:0.1,masking:0.2,masking:0.3",
        takes=tuple(o for o in core.MODEL_OPTIONS if o != "code_activation"),  # every layer is --activation
    )
    group.add_argument(
        "--pretrain-epochs",
        type=nonnegative_int,
        default=10,
        help="greedy pre-training epochs per layer (default 10; 0: no pre-training)",
    )
    group.add_argument(
        "--pretrain-lr", type=positive_float, default=None, help="pre-training learning rate (default: --lr)"
    )

    p = sub.add_parser(
        "filters",
        help="draw the first layer's weights as image tiles (Vincent et al. 2010), or a CAE's first "
        "convolution kernels",
    )
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument(
        "--n", type=positive_int, default=100, help="number of filters to draw (default 100, at least 1)"
    )
    p.add_argument("--out", required=True, type=out_file(".png"), help="filters.png")
    p.set_defaults(func=cmd_filters)


def parse_corruptions(text: str | None, n_layers: int) -> list | None:
    """``"masking:0.1,masking:0.2,masking:0.3"`` -> one q_D per layer (one spec is shared by all layers)."""
    from .. import corruption

    if text is None:
        return None
    specs = [t.strip() for t in text.split(",") if t.strip()]
    if len(specs) not in (1, n_layers):
        raise ValueError(
            f"--corruption has {len(specs)} specs for {n_layers} layers: give one for all "
            "layers or one per layer, e.g. masking:0.1,masking:0.2,masking:0.3"
        )
    corruptions = [None if s.lower() == "none" else corruption.parse(s) for s in specs]
    return corruptions * n_layers if len(corruptions) == 1 else corruptions


def _label_classes(y: np.ndarray | None, data: str) -> int:
    """K of labels 0..K-1, checked before any training."""
    y = np.asarray(y)
    if y.size == 0 or y.dtype.kind not in "iuf" or y.min() < 0 or not np.array_equal(y, np.round(y)):
        shown = f"{y.min()!r} .. {y.max()!r}" if y.size and y.dtype.kind in "iuf" else f"of type {y.dtype}"
        raise ValueError(f"--model sda needs class labels 0, 1, ..., K-1: --data {data} has labels {shown}")
    return int(y.max()) + 1


def train_sda(args: argparse.Namespace) -> int:
    """Pre-train a stacked denoising autoencoder, add a softmax layer and fine-tune it on the labels."""
    from ..train import fit_classifier, seed_everything
    from .runs import finish_run, run_directory

    X, y, n_classes, X_test, y_test = _sda_data(args)
    X_tr, y_tr, X_val, y_val = core.split_off_validation(X, y, args)
    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    options = core.fit_options(args)
    seed_everything(args.seed)
    start = time.perf_counter()
    stack = _pretrained_stack(args, X.shape[1], X_tr, options, out)
    pretrain_seconds = time.perf_counter() - start
    model = stack.to_classifier(n_classes)
    history = fit_classifier(
        model,
        X_tr,
        y_tr,
        X_val=X_val,
        y_val=y_val,
        checkpoint_dir=out,
        resume_from=out if args.resume else None,
        **options,
    )
    seconds = time.perf_counter() - start
    if not is_main():  # under torchrun: rank 0 evaluates and writes the report and figures
        return 0
    report = {
        "model": "sda",
        "data": args.data,
        "architecture": [X.shape[1], *stack.config["hidden"], n_classes],
        "corruption": stack.config["corruption"],
        "pretrain_epochs": args.pretrain_epochs,
        "finetune_epochs": len(history["epoch"]),
        "best_epoch": history["best_epoch"],
        "pretrain_seconds": pretrain_seconds,
        "seconds": seconds,
        "pretrain_loss": [h["train_loss"] for h in (stack.pretrain_history or [])],
    }
    for name, X_split, y_split in (("validation", X_val, y_val), ("test", X_test, y_test)):
        if X_split is not None:
            report[name] = core.classification_metrics(model, X_split, y_split, n_classes)
    write_json(out / "metrics.json", report)
    _sda_figures(model, history, out)
    _say_sda(report, finish_run(out))
    return 0


def _sda_data(args: argparse.Namespace) -> tuple:
    """``(X, y, n_classes, X_test, y_test)`` of --data, its labels and the options checked before training."""
    from .runs import load_test

    X, y = load_data(args, "train")
    if y is None:
        raise ValueError(f"--model sda trains a classifier: --data {args.data} has no labels")
    n_classes = _label_classes(y, args.data)
    if args.pretrain_epochs < 0:
        raise ValueError(f"--pretrain-epochs must be >= 0, got {args.pretrain_epochs}")
    if args.pretrain_lr is not None and not 0 < args.pretrain_lr < float("inf"):
        raise ValueError(f"--pretrain-lr must be a number > 0, got {args.pretrain_lr}")
    X_test, y_test = load_test(args)
    if y_test is not None:
        _label_classes(y_test, f"{args.data} (test split)")
    return X, y, n_classes, X_test, y_test


def _pretrained_stack(
    args: argparse.Namespace, n_inputs: int, X_train: np.ndarray, options: dict, out: Path
) -> Model:
    """The greedily pre-trained stack: loaded from ``out/pretrained`` with --resume, else trained (and saved)."""
    from ..io import load, save
    from ..nn import StackedAutoencoder
    from ..train import pretrain
    from .runs import resumed_model

    stack = StackedAutoencoder(
        n_inputs,
        args.hidden,
        activation=args.activation or "sigmoid",  # logistic units, as Vincent et al. (2010)
        output_activation=args.output_activation,
        tied=args.tied,
        loss=args.loss or core.LOSS,
        corruption=parse_corruptions(args.corruption, len(args.hidden)),
    )
    if args.resume and (out / PRETRAINED).is_dir():
        resumed_model(args, stack, out / PRETRAINED)  # the run's architecture: a changed option is an error
        resumed = load(out / PRETRAINED)
        say(f"resuming: pre-trained stack loaded from {out / PRETRAINED}")
        return resumed
    if args.pretrain_epochs:
        lr = args.lr if args.pretrain_lr is None else args.pretrain_lr
        pretrain(stack, X_train, **dict(options, epochs=args.pretrain_epochs, lr=lr, patience=None))
    if is_main():  # under torchrun only rank 0 writes
        save(stack, out / PRETRAINED)
    return stack


def _sda_figures(model: Model, history: dict, out: Path) -> None:
    from .. import viz

    viz.training_curves(history, out / "curves.png", title="supervised fine-tuning")
    _draw_filters(model, out / "filters.png")


def _say_sda(report: dict, out: Path) -> None:
    where = "test" if "test" in report else "validation" if "validation" in report else None
    result = f"{where} error {report[where]['error_pct']:.2f}%" if where else "trained"
    say(
        f"stacked denoising autoencoder {'-'.join(map(str, report['architecture']))}: {result} "
        f"(pre-training {report['pretrain_seconds']:.0f}s, total {report['seconds']:.0f}s) -> {out}"
    )


def _draw_filters(model: Model, path: str | os.PathLike) -> None:
    from .. import viz

    with contextlib.suppress(ValueError):  # inputs that are not square images: no figure
        viz.filter_grid(_first_layer_weights(model), path)


def _first_layer_weights(model: Model) -> np.ndarray:
    """W of the first encoder layer (dense rows), or the first convolution's kernels (a CAE, a CNN)."""
    from .. import viz

    layers = getattr(model, "encoder_layers", None)
    if layers:
        return layers[0].weight.detach().cpu().numpy()
    return viz.first_layer_weights(model)


def cmd_filters(args: argparse.Namespace) -> int:
    from .. import viz
    from ..io import load

    model = load(args.model_dir)
    path = viz.filter_grid(
        _first_layer_weights(model),
        args.out,
        n=args.n,
        title=f"first-layer filters of {Path(args.model_dir).name}",
    )
    say(f"wrote {path}")
    return 0
