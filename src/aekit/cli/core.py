"""Sub-commands for the dense family: train, evaluate, encode, reconstruct, demo.

The handlers import the library (torch, matplotlib) when they run, not when the parsers are built.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from .choices import ACTIVATION_NAMES
from .common import (
    Model,
    UsageError,
    add_data_arguments,
    add_run_arguments,
    corruption_specs,
    fraction,
    int_list,
    is_main,
    load_data,
    measured_data,
    nonnegative_float,
    out_file,
    positive_float,
    positive_int,
    say,
    seed_int,
    write_array,
    write_json,
)

# --model NAME -> function(args) -> exit code, and its one-line description; see add_trainer.
TRAINERS: dict = {}
TRAINER_HELP: dict = {}
#: φ of a dense autoencoder's hidden layers when --activation is not given: GELU a·Φ(a) (He-initialised,
#: as the map's) trains a deep stack from a random start, where logistic units need greedy pre-training
#: (Hinton & Salakhutdinov 2006); benchmarks/deep_vs_pca.py measures it against PCA and ReLU.
DENSE_ACTIVATION = "gelu"
#: --model ae's training defaults where the option is not given, chosen so that the README's deep command
#: beats PCA with as many components on data it was not tuned for (benchmarks/README.md, "Deep autoencoder
#: defaults against PCA"): the squared error E = ½‖z − x‖² of the notes (cross-entropy overfits the 8×8
#: digits), a small L2 penalty, and at least DENSE_MIN_STEPS batches, so a small data set gets more passes.
DENSE_LOSS = "mse"
DENSE_WEIGHT_DECAY = 1e-4
DENSE_MIN_STEPS = 5000
#: --epochs, --weight-decay and --loss when not given, for every other trainer (--model sda and cae: the
#: cross-entropy of Vincent et al. and Masci et al.).
EPOCHS, WEIGHT_DECAY, LOSS = 20, 0.0, "bce"
#: The options of `aekit train` that shape a model (by dest), shared by several --model values.
MODEL_OPTIONS = ("hidden", "tied", "activation", "output_activation", "code_activation", "loss", "corruption")
#: --model NAME -> the dests of the model options it uses: the shared ones it takes and its own group's.
TRAINER_OPTIONS: dict[str, set[str]] = {}


def add_trainer(
    sub: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
    *,
    takes: tuple[str, ...] = MODEL_OPTIONS,
) -> argparse._ArgumentGroup:
    """Make ``aekit train --model NAME`` call ``run(args)``; return an argument group for its own options.

    ``takes``: the shared model options (:data:`MODEL_OPTIONS`) the model uses; the others, and the
    options of the other models' groups, are refused with ``--model NAME`` (see :func:`check_model_options`).
    """
    train = sub.choices["train"]
    TRAINERS[name] = run
    TRAINER_HELP[name] = help
    train.model_action.choices = list(TRAINERS)
    train.model_action.help = "; ".join(f"{k}: {v}" for k, v in TRAINER_HELP.items())
    group = train.add_argument_group(f"--model {name}")
    TRAINER_OPTIONS[name] = set(takes)
    train.trainer_groups = {**getattr(train, "trainer_groups", {}), name: group}
    return group


def given_options(args: argparse.Namespace, dests: Collection[str]) -> list[str]:
    """The flags (as ``--flag VALUE``) among the options ``dests`` of ``args.parser`` whose value is not
    their default: the ones the user gave."""
    given, seen = [], set()
    for action in args.parser._actions:
        if action.dest not in dests or action.dest in seen or not action.option_strings:
            continue
        seen.add(action.dest)  # --noise and --corruption share one dest: named once
        value = getattr(args, action.dest, action.default)
        if value != action.default:
            given.append(action.option_strings[0] + ("" if isinstance(value, bool) else " " + _shown(value)))
    return given


def _shown(value: object) -> str:
    """An option's value as typed: ``[256, 64]`` -> ``256,64``, ``(28, 28)`` -> ``28x28``."""
    if isinstance(value, tuple):  # --size
        return "x".join(map(str, value))
    if isinstance(value, list):  # --hidden, --channels
        return ",".join(map(str, value))
    return str(value)


def check_model_options(args: argparse.Namespace) -> None:
    """Refuse an option that --model ignores (``--channels`` for a dense model, ``--hidden`` for a CAE):
    one line naming the option and the models that take it, before any data is read."""
    groups = getattr(args.parser, "trainer_groups", {})
    own = {name: {a.dest for a in group._group_actions} for name, group in groups.items()}
    uses = {name: TRAINER_OPTIONS[name] | own.get(name, set()) for name in TRAINER_OPTIONS}
    every = set(MODEL_OPTIONS).union(*own.values())
    ignored = every - uses[args.model]
    for flag in given_options(args, ignored):
        dest = next(a.dest for a in args.parser._actions if flag.split()[0] in a.option_strings)
        owners = [f"--model {name}" for name in uses if dest in uses[name]]
        raise UsageError(
            f"{flag} is not an option of --model {args.model} (it would be ignored): it applies to "
            f"{' and '.join(owners)}"
        )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model and write its checkpoint, metrics and figures",
        description="Train a model on --data and write to DIR: the checkpoint (config.json, "
        "model.safetensors, training_state.*), metrics.json and curves.png; with "
        "--model ae also reconstructions.png and filters.png, cae denoising.png, sda "
        "filters.png and the pre-trained stack in DIR/pretrained.",
    )
    p.model_action = p.add_argument("--model", default="ae", choices=["ae"])
    add_data_arguments(p, split=None)  # trains on the training split, reports the test split
    p.add_argument(
        "--hidden", type=int_list, default=[256, 64], help="encoder sizes, last is the code (256,64)"
    )
    p.add_argument("--tied", action="store_true", help="tie decoder weights to the encoder's: W' = Wᵀ")
    p.add_argument(
        "--activation",
        default=None,
        choices=ACTIVATION_NAMES,
        help=f"φ of the hidden layers (default: {DENSE_ACTIVATION} for --model ae, which trains deep stacks "
        "from a random start; sigmoid for --model sda, the logistic units of Vincent et al.)",
    )
    p.add_argument("--output-activation", default="sigmoid", choices=ACTIVATION_NAMES)
    p.add_argument(
        "--code-activation",
        default=None,
        choices=ACTIVATION_NAMES,
        help="activation of the code layer (default: --activation)",
    )
    p.add_argument(
        "--loss",
        default=None,
        choices=["bce", "mse"],
        help=f"reconstruction error (default: {DENSE_LOSS} for --model ae, the notes' E = ½‖z − x‖²; bce, "
        "the cross-entropy, for --model sda and cae)",
    )
    p.add_argument(
        "--corruption",
        default=None,
        type=corruption_specs,
        metavar="SPEC",
        help="q_D for a denoising model: masking:0.25, gaussian:0.5, saltpepper:0.1",
    )
    add_fit_arguments(p, model_defaults=True)
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.set_defaults(func=cmd_train, parser=p)  # parser: --resume tells the options given from the defaults
    add_trainer(sub, "ae", train_dense, "dense (denoising) autoencoder (default)")
    _register_checkpoint_commands(sub)


def _register_checkpoint_commands(sub: argparse._SubParsersAction) -> None:
    """evaluate, encode, reconstruct: read a checkpoint and --data; and demo."""
    p = sub.add_parser("evaluate", help="reconstruction (or classification) metrics of a checkpoint")
    p.add_argument("model_dir", metavar="DIR")
    add_data_arguments(p)
    p.add_argument("--out", default=None, help="also write the metrics to this JSON file")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "encode",
        help="write the codes of --data to a .npy, or a .npz (arrays 'codes' and the labels 'y'); of a "
        "codec, the integer symbols it writes (a photo codec's: one array per photo in a .npz)",
    )
    p.add_argument("model_dir", metavar="DIR")
    add_data_arguments(p)
    p.add_argument("--out", required=True, type=out_file(".npy", ".npz"), help="codes.npy or codes.npz")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "reconstruct",
        help="reconstruct --data: a figure (.png) or an array (.npy); a codec decodes its real bitstream "
        "(a photo codec's photos: one array per photo in a .npz)",
    )
    p.add_argument("model_dir", metavar="DIR")
    add_data_arguments(p)
    p.add_argument(
        "--n", type=positive_int, default=10, help="samples in the figure (default 10, at least 1)"
    )
    p.add_argument(
        "--out", required=True, type=out_file(".png", ".npy", ".npz"), help="recon.png or recon.npy"
    )
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("demo", help="denoising autoencoder on the embedded digits in under a minute")
    p.add_argument("--out", default="aekit-demo", help="output directory (default ./aekit-demo)")
    p.add_argument("--epochs", type=positive_int, default=150)
    p.add_argument("--seed", type=seed_int, default=0, help="random seed, 0 .. 2**63-1")
    p.set_defaults(func=cmd_demo)


def add_fit_arguments(
    p: argparse.ArgumentParser, *, resume: bool = True, model_defaults: bool = False
) -> None:
    """The training options; ``resume``: the command can continue a run (--resume); ``model_defaults``:
    --epochs and --weight-decay default to None, which the trainer of --model resolves (`aekit train`)."""
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None if model_defaults else EPOCHS,
        help=f"passes over the training data (default: {EPOCHS}; for --model ae at least enough for "
        f"{DENSE_MIN_STEPS:,} batches, so more on a small data set)"
        if model_defaults
        else None,
    )
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd"])
    p.add_argument("--momentum", type=nonnegative_float, default=0.9, help="SGD momentum")
    p.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        default=None if model_defaults else WEIGHT_DECAY,
        help="L2 penalty (adam, sgd) or decoupled weight decay (adamw)"
        + (
            f" (default: {DENSE_WEIGHT_DECAY:g} for --model ae, {WEIGHT_DECAY} otherwise)"
            if model_defaults
            else ""
        ),
    )
    p.add_argument(
        "--lr-schedule",
        default="constant",
        choices=["constant", "cosine"],
        help="constant (default) or cosine annealing from --lr to --lr/100 over --epochs",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early stopping on the --val-fraction split: stop after this many epochs without improvement",
    )
    p.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.1,
        help="fraction of the training data held out for validation (default 0.1; 0 for none)",
    )
    p.add_argument("--seed", type=seed_int, default=0)  # seed_int: 0 .. 2**63-1
    add_run_arguments(p, resume=resume)


def check_fit_options(args: argparse.Namespace) -> None:
    """The checks that tie two training options together, made before any data is read or work done
    (one option's own range is its argparse type)."""
    if args.patience is not None and args.val_fraction == 0:
        raise UsageError(
            f"--patience {args.patience} stops early on the validation split: --val-fraction must be > 0 "
            "with --patience (e.g. 0.1), or leave out --patience"
        )


def fit_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`aekit.train.fit` given on the command line."""
    return dict(
        epochs=EPOCHS if args.epochs is None else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        momentum=args.momentum,
        weight_decay=WEIGHT_DECAY if args.weight_decay is None else args.weight_decay,
        patience=args.patience,
        seed=args.seed,
        lr_schedule=None if args.lr_schedule == "constant" else args.lr_schedule,
        progress=not args.quiet,
    )


def split_off_validation(X: np.ndarray, y: np.ndarray | None, args: argparse.Namespace) -> tuple:
    """``(X_train, y_train, X_val, y_val)``: --val-fraction of the samples held out, drawn with --seed."""
    from ..data import holdout_split

    return holdout_split(X, y, args.val_fraction, args.seed, name="--val-fraction")


def reconstruction_metrics(model: Model, X: np.ndarray) -> dict:
    """Model loss, squared error per sample ‖z − x‖², MSE and PSNR of ``X`` (see :mod:`aekit.metrics`)."""
    from .. import inference, metrics

    report = metrics.reconstruction_report(X, inference.reconstruct(model, X))
    loss = float(np.mean(inference.reconstruction_error(model, X)))
    return {"n": report.pop("n"), "loss": loss, **report}


def cmd_train(args: argparse.Namespace) -> int:
    check_model_options(args)
    check_fit_options(args)
    return TRAINERS[args.model](args)


def train_dense(args: argparse.Namespace) -> int:
    from ..nn import Autoencoder
    from ..train import seed_everything
    from .runs import finish_run, load_test, run_directory

    if args.corruption is not None and "," in args.corruption:
        raise UsageError(
            f"--corruption {args.corruption}: --model ae takes one spec (one per layer is --model sda's)"
        )
    X, y = load_data(args, "train")
    X_test, _ = load_test(args)
    X_tr, _, X_val, _ = split_off_validation(X, y, args)
    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    seed_everything(args.seed)
    model = Autoencoder(
        X.shape[1],
        args.hidden,
        activation=args.activation or DENSE_ACTIVATION,
        output_activation=args.output_activation,
        code_activation=args.code_activation,
        tied=args.tied,
        loss=args.loss or DENSE_LOSS,
        corruption=args.corruption,
    )
    model, history, seconds = fit_run(args, model, X_tr, X_val, out, **dense_fit_defaults(args, len(X_tr)))
    if not is_main():  # under torchrun: rank 0 evaluates and writes the report
        return 0
    report = {"model": "ae", "data": args.data, "epochs": len(history["epoch"]), "seconds": seconds}
    report.update(split_metrics(model, train=X_tr, validation=X_val, test=X_test))
    write_json(out / "metrics.json", report)
    _figures(model, X_test if X_test is not None else X_tr, out)
    out = finish_run(out)
    split = "test" if "test" in report else "train"
    best = report[split]
    say(
        f"trained {model.config['hidden']} autoencoder in {seconds:.1f}s: {split} loss {best['loss']:.4g}, "
        f"PSNR {best['psnr_db']:.2f} dB -> {out}"
    )
    return 0


def dense_fit_defaults(args: argparse.Namespace, n_train: int) -> dict:
    """--model ae's --epochs and --weight-decay where not given: at least DENSE_MIN_STEPS batches of
    --batch-size (⌈5,000 / ⌈n / batch⌉⌉ epochs, never fewer than 20) and a DENSE_WEIGHT_DECAY penalty."""
    batches = -(-n_train // args.batch_size)
    return {
        "epochs": max(EPOCHS, -(-DENSE_MIN_STEPS // batches)) if args.epochs is None else args.epochs,
        "weight_decay": DENSE_WEIGHT_DECAY if args.weight_decay is None else args.weight_decay,
    }


def fit_run(
    args: argparse.Namespace,
    model: Model,
    X_train: np.ndarray,
    X_val: np.ndarray | None,
    out: Path,
    **overrides,
) -> tuple:
    """Train ``model`` (resumed from ``out`` with --resume) with the command line's fit options
    (``overrides`` replace some: a trainer's own defaults), saving checkpoints in ``out``:
    ``(model, history, seconds)``."""
    from ..train import fit
    from .runs import resumed_model

    if args.resume:
        model = resumed_model(args, model, out)
    start = time.perf_counter()
    history = fit(
        model,
        X_train,
        X_val=X_val,
        checkpoint_dir=out,
        resume_from=out if args.resume else None,
        **{**fit_options(args), **overrides},
    )
    return model, history, time.perf_counter() - start


def split_metrics(model: Model, **splits: np.ndarray | None) -> dict:
    """``{name: reconstruction_metrics(model, X)}`` for each split given that is not None."""
    return {name: reconstruction_metrics(model, X) for name, X in splits.items() if X is not None}


def _figures(model: Model, X: np.ndarray, out: Path) -> None:
    from .. import viz

    with contextlib.suppress(ValueError):  # samples that are not images: no figure
        viz.reconstruction_grid(viz.reconstruction_rows(model, X[:10]), out / "reconstructions.png")
    with contextlib.suppress(ValueError):  # rows that are not images: no figure
        viz.filter_tiles(viz.first_layer_weights(model), out / "filters.png")
    if model.history:
        viz.training_curves(model.history, out / "curves.png")


def _n_classes(model: Model) -> int | None:
    """The number of classes of a classifier checkpoint; None for an autoencoder."""
    n = getattr(model, "n_classes", None)
    return n if n is not None else getattr(model, "config", {}).get("n_classes")


def classification_metrics(model: Model, X: np.ndarray, y: np.ndarray | None, n_classes: int) -> dict:
    """Error rate and confusion matrix (rows: true class, columns: predicted) of a ``n_classes`` classifier."""
    from .. import inference, metrics
    from ..data import check_labels

    if y is None:
        raise ValueError("evaluating a classifier needs labelled data: --data has no labels")
    y = check_labels(y, len(X), name="the labels of --data")
    pred = inference.predict(model, X)
    return metrics.classification_report(y, pred, n_classes, name="the labels of --data")


def _flat_input(model: Model) -> bool:
    """Whether ``model`` takes flat vectors (dense) rather than (C, H, W) images (convolutional)."""
    return len(getattr(model, "input_shape", ())) != 3


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..io import load
    from .codec_runs import codec_class, evaluate_codec

    n_classes = None
    if codec_class(args.model_dir):  # real bitstream bytes per item and PSNR
        result = evaluate_codec(args)
    else:
        model = load(args.model_dir)
        X, y = load_data(args, flatten=_flat_input(model))
        n_classes = _n_classes(model)
        if n_classes is None:
            result = reconstruction_metrics(model, X)
        else:
            result = classification_metrics(model, X, y, int(n_classes))
        result.update(measured_data(args))
    if args.out:
        write_json(args.out, result)
    if n_classes is None:
        say(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
        return 0
    say(
        f"error rate {result['error_pct']:.2f}% ({round(result['error_rate'] * result['n'])} of {result['n']}) "
        f"on {' '.join(map(str, measured_data(args).values()))}"
    )
    say("confusion matrix (rows: true class, columns: predicted):")
    for row in result["confusion_matrix"]:
        say(" ".join(f"{v:5d}" for v in row))
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from .. import inference
    from ..io import load
    from .codec_runs import codec_class, encode_codec

    if codec_class(args.model_dir):  # the integer symbols its bitstream carries
        encode_codec(args)
        return 0
    model = load(args.model_dir)
    X, y = load_data(args, flatten=_flat_input(model))
    codes = inference.encode(model, X)
    # .npz: the codes under "codes", the labels under "y" (earlier files hold "X": load_array reads both)
    path = write_array(args.out, codes, y if str(args.out).lower().endswith(".npz") else None, key="codes")
    say(f"wrote codes {codes.shape} -> {path}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .. import inference, viz
    from ..io import load
    from .codec_runs import codec_class, reconstruct_codec

    if codec_class(args.model_dir):  # decoded from its real bitstream
        reconstruct_codec(args)
        return 0
    model = load(args.model_dir)
    if _n_classes(model) is not None:
        raise ValueError(
            f"{args.model_dir} is a classifier ({_n_classes(model)} classes): it predicts labels, it "
            "does not reconstruct; use 'aekit evaluate' (or reconstruct with an autoencoder checkpoint)"
        )
    if not str(args.out).lower().endswith((".png", ".npy", ".npz")):
        raise ValueError(f"--out must end in .png (a figure), .npy or .npz (an array), got {args.out!r}")
    X, _ = load_data(args, flatten=_flat_input(model))
    if str(args.out).lower().endswith(".png"):
        X = X[: args.n]
        viz.reconstruction_grid(
            {"input": X, "reconstructed": inference.reconstruct(model, X)}, args.out, n=args.n
        )
    else:
        write_array(args.out, inference.reconstruct(model, X))
    say(f"wrote {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """A denoising autoencoder (masking noise) on scikit-learn's digits: clean / corrupted / reconstructed."""
    from .. import corruption, inference, metrics, viz
    from ..data import load_dataset
    from ..io import save
    from ..nn import Autoencoder
    from ..train import fit, seed_everything
    from .runs import clear_run

    out = Path(args.out)
    X, _ = load_dataset("digits", split="train")
    X_test, _ = load_dataset("digits", split="test")
    seed_everything(args.seed)
    q_d = corruption.Masking(0.3)
    model = Autoencoder(64, [96], corruption=q_d)
    start = time.perf_counter()
    history = fit(
        model,
        X,
        X_val=X_test,
        epochs=args.epochs,
        batch_size=32,
        lr=3e-3,
        seed=args.seed,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start
    clear_run(out)  # the demo's own directory: an earlier demo's files go
    save(model, out)
    noisy = viz.seeded_corruption(q_d, X_test, seed=args.seed)
    denoised = inference.reconstruct(model, noisy)
    report = {
        "data": "digits (scikit-learn, 8x8, test split of 360)",
        "corruption": q_d.spec(),
        "hidden": [96],
        "epochs": args.epochs,
        "seconds": seconds,
        "psnr_corrupted_db": metrics.psnr(X_test, noisy),
        "psnr_denoised_db": metrics.psnr(X_test, denoised),
        "mse_corrupted": metrics.mse(X_test, noisy),
        "mse_denoised": metrics.mse(X_test, denoised),
    }
    write_json(out / "metrics.json", report)
    viz.reconstruction_grid(
        {"clean": X_test, "corrupted": noisy, "reconstructed": denoised},
        out / "denoising.png",
        title=f"denoising autoencoder, {q_d.spec()}",
    )
    viz.training_curves(history, out / "curves.png")
    _say_demo(report, out)
    return 0


def _say_demo(report: dict, out: Path) -> None:
    say(
        f"denoising autoencoder on digits ({report['seconds']:.1f}s): PSNR {report['psnr_corrupted_db']:.2f} dB "
        f"corrupted -> {report['psnr_denoised_db']:.2f} dB reconstructed"
    )
    say(f"figure:  {out / 'denoising.png'}")
    say(f"metrics: {out / 'metrics.json'}")
    say(f"model:   {out}  (aekit.load('{out}'))")
