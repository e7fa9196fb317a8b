"""Sub-commands for seeing what was learned: ``aekit map``, ``aekit plot ...`` and ``aekit report``."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .common import (
    add_data_arguments,
    corruption_spec,
    has_split,
    int_list,
    load_data,
    out_file,
    positive_int,
    say,
    write_json,
)
from .core import add_fit_arguments, check_fit_options, fit_options, split_off_validation

if TYPE_CHECKING:
    from ..nn.base import AEModule

PLOTS = ("recon", "filters", "curves", "codes", "rd")


def register(sub: argparse._SubParsersAction) -> None:
    _register_map(sub)
    _register_plot(sub)
    _register_report(sub)


def _register_map(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "map",
        help="2-D codes coloured by label beside PCA, with k-NN accuracy and trustworthiness",
        description="Draw the test set's 2-D codes (coloured by label) beside PCA's first two "
        "components and measure both maps: k-NN accuracy (k=5, fit on the training "
        "codes, scored on the test codes) and trustworthiness. With DIR, use that "
        "trained 2-code checkpoint; without, train a 784-1000-500-250-2 autoencoder "
        "(linear code, Hinton & Salakhutdinov 2006) first, or with --model cae a "
        "convolutional autoencoder with a dense 2-value code (the notes' last slide).",
    )
    p.add_argument(
        "model_dir",
        metavar="DIR",
        nargs="?",
        default=None,
        help="a trained checkpoint with a 2-unit code (default: train one)",
    )
    add_data_arguments(p, split=None)  # the training and test splits (20% held out without one)
    p.add_argument(
        "--model",
        default="ae",
        choices=["ae", "cae"],
        help="the map trained without DIR: ae, a dense autoencoder (--hidden); cae, a convolutional "
        "autoencoder with a dense 2-value code (--channels, --dense)",
    )
    p.add_argument(
        "--hidden",
        type=int_list,
        default=None,
        help="--model ae: encoder sizes, last must be 2 (default 1000,500,250,2: aekit.maps.HINTON_2D)",
    )
    p.add_argument(
        "--channels",
        type=int_list,
        default=None,
        help="--model cae: feature maps per conv level (default 8,16: aekit.maps.CAE_2D_CHANNELS)",
    )
    p.add_argument(
        "--dense",
        type=int_list,
        default=None,
        help="--model cae: hidden dense sizes before the 2-value code (default 1000,500,250: aekit.maps.CAE_2D_DENSE)",
    )
    p.add_argument(
        "--activation",
        default="gelu",
        choices=["gelu", "relu", "sigmoid", "tanh"],
        help="φ of the hidden (dense) layers (default gelu, the best measured on MNIST)",
    )
    p.add_argument(
        "--corruption",
        default=None,
        type=corruption_spec,
        metavar="SPEC",
        help="train a denoising map: q_D such as masking:0.2 (benchmarks/mnist_2d.py's best setting)",
    )
    add_fit_arguments(p, resume=False)  # --overwrite: of the --save directory
    p.set_defaults(epochs=30)
    p.add_argument(
        "--save", default=None, metavar="DIR", help="keep the trained model (checkpoint directory)"
    )
    p.add_argument("--k", type=positive_int, default=5, help="neighbours of the k-NN classifier (default 5)")
    p.add_argument(
        "--trust-samples",
        type=positive_int,
        default=3000,
        help="test points used for trustworthiness, which costs O(n^2) (default 3000)",
    )
    p.add_argument("--metrics-out", default=None, help="also write the measured figures to this JSON")
    p.add_argument("--out", required=True, type=out_file(".png"), help="figure (.png)")
    p.set_defaults(func=cmd_map)


def _register_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="one figure: recon, filters, curves, codes (histograms) or rd",
        description="recon: clean / (corrupted) / reconstructed grid; filters: first-layer "
        "filters as tiles; curves: training and validation loss; codes: histograms "
        "of the code units; rd: rate-distortion curves from a JSON of "
        "{method: [[bytes, psnr], ...]} (or a list of {method, bytes, psnr}).",
    )
    p.add_argument("kind", choices=PLOTS)
    p.add_argument("source", metavar="DIR_OR_JSON", help="checkpoint directory (rd: a JSON of points)")
    add_data_arguments(p)
    p.add_argument(
        "--corruption",
        default=None,
        type=corruption_spec,
        metavar="SPEC",
        help="recon: corrupt the inputs first (default: the model's own q_D, if any)",
    )
    p.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="samples (recon, 10), filters (100) or units (codes, 16); at least 1",
    )
    p.add_argument("--out", required=True, type=out_file(".png"), help="figure (.png)")
    p.set_defaults(func=cmd_plot)


def _register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page for a run directory",
        description="Collect a run directory (checkpoint config, metrics JSON, figures) into "
        "one HTML file with every figure embedded: configuration, training curves, "
        "metrics, reconstructions, filters, 2-D map and rate-distortion points where "
        "they apply. Missing figures are drawn from the checkpoint when possible.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_data_arguments(p, default=None, required=False)
    p.add_argument("--title", default=None)
    p.add_argument("--out", required=True, help="report.html")
    p.set_defaults(func=cmd_report)


# ---------------------------------------------------------------------- map
def _splits(args: argparse.Namespace, flatten: bool = True) -> tuple:
    """(X_train, y_train, X_test, y_test) with labels, from --data (20% held out when it has no test split)."""
    from ..data import holdout_split

    if has_split(args.data):
        X_tr, y_tr = load_data(args, "train", flatten=flatten)
        X_te, y_te = load_data(args, "test", flatten=flatten)
    else:
        X, y = load_data(args, flatten=flatten)
        if y is None:
            raise ValueError(f"--data {args.data} has no labels: a map is coloured and scored by label")
        X_tr, y_tr, held, y_te = holdout_split(X, y, 0.2, args.seed)
        if held is None:
            raise ValueError(
                f"--data {args.data} has {len(X)} samples: too few to hold 20% out as the test split"
            )
        X_te = held
    if y_tr is None or y_te is None:
        raise ValueError(f"--data {args.data} has no labels: a map is coloured and scored by label")
    return X_tr, y_tr, X_te, y_te


def _check_model_options(args: argparse.Namespace) -> None:
    """Refuse the options of the other --model (they would be silently ignored)."""
    ignored = ("--channels", "--dense") if args.model == "ae" else ("--hidden",)
    given = [flag for flag in ignored if getattr(args, flag[2:]) is not None]
    if given:
        other = "cae" if args.model == "ae" else "ae"
        raise ValueError(f"{', '.join(given)} size(s) --model {other}; this map is --model {args.model}")


def _map_model(args: argparse.Namespace, X_train: np.ndarray) -> tuple:
    """``(model, source, training seconds)``: a map autoencoder (--model ae or cae) trained on X_train."""
    from ..maps import CAE_2D_CHANNELS, CAE_2D_DENSE, HINTON_2D, map_autoencoder, map_cae
    from ..train import fit, seed_everything
    from .runs import run_directory

    X_fit, _, X_val, _ = split_off_validation(X_train, None, args)
    if args.save:
        args.save = run_directory(args.save, overwrite=args.overwrite)
    seed_everything(args.seed)
    model: AEModule
    if args.model == "cae":
        channels = list(CAE_2D_CHANNELS) if args.channels is None else args.channels
        dense = list(CAE_2D_DENSE) if args.dense is None else args.dense
        model = map_cae(
            X_train.shape[1:],
            channels,
            dense=dense,
            dense_activation=args.activation,
            corruption=args.corruption,
        )
        name = f"CAE conv {'-'.join(map(str, channels))}, dense {'-'.join(map(str, [*dense, 2]))}"
    else:
        hidden = list(HINTON_2D) if args.hidden is None else args.hidden
        model = map_autoencoder(
            X_train.shape[1], hidden, activation=args.activation, corruption=args.corruption
        )
        name = f"{X_train.shape[1]}-{'-'.join(map(str, hidden))} autoencoder"
    start = time.perf_counter()
    fit(model, X_fit, X_val=X_val, checkpoint_dir=args.save, **fit_options(args))
    return model, f"{name}, {args.epochs} epochs", time.perf_counter() - start


def cmd_map(args: argparse.Namespace) -> int:
    from .. import viz
    from ..maps import compare_maps
    from .runs import finish_run

    check_fit_options(args)
    if args.model_dir:
        from ..io import load

        model, source, seconds = load(args.model_dir), str(args.model_dir), None
        images = len(getattr(model, "input_shape", None) or ()) > 1  # a conv model takes images
        X_tr, y_tr, X_te, y_te = _splits(args, flatten=not images)
    else:
        _check_model_options(args)
        X_tr, y_tr, X_te, y_te = _splits(args, flatten=args.model == "ae")
        if args.model == "cae" and X_tr.ndim != 4:
            raise DataError(
                f"--model cae needs images (N, C, H, W) or (N, H, W); --data {args.data} gave shape {X_tr.shape}"
            )
        model, source, seconds = _map_model(args, X_tr)
    maps = compare_maps(model, X_tr, y_tr, X_te, y_te, k=args.k, trust_samples=args.trust_samples)
    a, p = maps["aekit"]["metrics"], maps["pca"]["metrics"]
    panels = {
        f"aekit ({source})\nkNN {a['knn_accuracy']:.3f}, trust. {a['trustworthiness']:.3f}": (
            maps["aekit"]["test"],
            y_te,
        ),
        f"PCA (first two components)\nkNN {p['knn_accuracy']:.3f}, trust. {p['trustworthiness']:.3f}": (
            maps["pca"]["test"],
            y_te,
        ),
    }
    viz.code_map(panels, args.out, title=f"{args.data}: test set in two dimensions")
    result = {
        "data": args.data,
        "model": source,
        "aekit": a,
        "pca": p,
        "train_seconds": seconds,
        "n_train": int(len(X_tr)),
        "n_test": int(len(X_te)),
    }
    if args.metrics_out:
        write_json(args.metrics_out, result)
    if args.save:
        write_json(Path(args.save) / "map_metrics.json", result)
        args.save = finish_run(args.save)
    say(
        f"k-NN accuracy (k={args.k}): aekit {a['knn_accuracy']:.4f}, PCA {p['knn_accuracy']:.4f}; "
        f"trustworthiness: aekit {a['trustworthiness']:.4f}, PCA {p['trustworthiness']:.4f} -> {args.out}"
    )
    return 0


# ---------------------------------------------------------------------- plot
def cmd_plot(args: argparse.Namespace) -> int:
    from .. import inference, viz
    from ..io import load

    if args.kind == "rd":
        viz.rate_distortion(load_rd_points(args.source), args.out)
    elif args.kind == "curves":
        model_history = _history(args.source)
        if not model_history:
            raise ValueError(f"{args.source} has no training history (config.json 'history')")
        viz.training_curves(model_history, args.out)
    else:
        from .codec_runs import codec_class, load_codec, plot_codec

        codec = codec_class(args.source) is not None
        model = load_codec(args.source) if codec else load(args.source)
        shape = getattr(model, "input_shape", None)
        if args.kind == "filters":
            viz.filter_tiles(
                viz.first_layer_weights(model),
                args.out,
                n=args.n or 100,
                sample_shape=shape if shape and None not in shape else None,
            )
        elif codec:  # through real bitstreams: decoded items, or the integer symbols written
            plot_codec(args, model)
        else:
            flat = len(getattr(model, "input_shape", None) or ()) <= 1  # dense models take flat vectors
            X, _ = load_data(args, flatten=flat)
            if args.kind == "codes":
                viz.code_histograms(inference.encode(model, X[:5000]), args.out, n_units=args.n or 16)
            else:
                viz.reconstruction_grid(
                    viz.reconstruction_rows(model, X[: args.n or 10], args.corruption),
                    args.out,
                    n=args.n or 10,
                )
    say(f"wrote {args.out}")
    return 0


def _history(source: str | os.PathLike) -> dict | None:
    path = Path(source)
    config = path / "config.json" if path.is_dir() else path
    if not config.is_file():
        raise FileNotFoundError(f"{config} not found: give a checkpoint directory")
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config} is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(
            f"{config} holds a JSON {type(doc).__name__}: expected a checkpoint config (an object "
            "with a 'history')"
        )
    history = doc.get("history")
    if history is None:
        return None
    expected = f"{config}: 'history' must map names to lists of numbers (epoch, train_loss, val_loss, ...)"
    if not isinstance(history, dict):
        raise ValueError(f"{expected}, got a JSON {type(history).__name__}")

    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for key in ("epoch", "train_loss", "val_loss", "val_error"):  # what the figure draws
        values = history.get(key)
        if values is not None and (
            not isinstance(values, list)
            or not all(number(v) or (v is None and key == "val_loss") for v in values)
        ):
            raise ValueError(f"{expected}; {key!r} holds {str(values)[:60]}")
    if history.get("best_epoch") is not None and not number(history["best_epoch"]):
        raise ValueError(f"{expected}; 'best_epoch' must be a number, got {str(history['best_epoch'])[:60]}")
    return history


def load_rd_points(path: str | os.PathLike) -> dict:
    """Read rate-distortion points from JSON: ``{method: [[bytes, psnr], ...]}``, or
    ``{"points": ...}``, or a list of ``{"method", "bytes", "psnr"}`` records."""
    from ..report import rd_points

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    points = rd_points(doc)
    if not points:
        raise ValueError(
            f"{path} holds no rate-distortion points: expected {{method: [[bytes, psnr], ...]}} "
            "or a list of {method, bytes, psnr} records"
        )
    return points


# ---------------------------------------------------------------------- report
def cmd_report(args: argparse.Namespace) -> int:
    from ..codec.measure import load_codec  # a training checkpoint without tables too: the report notes it
    from ..report import write_report
    from .codec_runs import codec_class, codec_items

    data = None
    if args.data and codec_class(args.run_dir):  # a codec's items, or photos of any size
        data = codec_items(args, load_codec(args.run_dir))
    elif args.data:
        data = load_data(args, flatten=False)[0]  # the report shapes it for the model
    path = write_report(args.run_dir, args.out, title=args.title, X=data)
    say(f"wrote {path} (open it in a browser: file://{Path(path).resolve()})")
    return 0
