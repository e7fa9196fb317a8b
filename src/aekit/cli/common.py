"""Helpers shared by the sub-commands: data arguments, output files, printing.

Nothing here imports torch at import time: the parsers are built from this module for every
``--help``; torch comes in with the first command that runs.
"""

from __future__ import annotations

import argparse
import io as _io
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import data as datasets
from ..data.images import MODES as IMAGE_MODES
from ..errors import DataError

N = TypeVar("N", int, float)


class UsageError(Exception):
    """A bad command line: printed as one line, exit code 2 (raised instead of argparse's print-and-exit,
    and by the checks of option combinations made before the library runs)."""


#: What the handlers are given as a model: any aekit model (a torch.nn.Module whose attributes vary by family).
Model = Any

MAX_LAYER = 1 << 20  # the largest layer size (--hidden, --channels) the command line takes


def int_list(text: str) -> list[int]:
    """``"256,64"`` -> ``[256, 64]`` (for ``--hidden``); each size in 1..MAX_LAYER, none left empty."""
    items = [v.strip() for v in text.split(",")]
    if "" in items:
        raise argparse.ArgumentTypeError(f"{text!r} has an empty size; expected sizes like 256,64")
    try:
        values = [int(v) for v in items]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like '256,64', got {text!r}"
        ) from None
    if min(values) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers like '256,64', got {text!r}"
        )
    if max(values) > MAX_LAYER:
        raise argparse.ArgumentTypeError(
            f"layer sizes must be at most {MAX_LAYER} (2**20), got {max(values)} in {text!r}"
        )
    return values


def corruption_spec(text: str) -> str:
    """A q_D spec such as ``masking:0.25`` (for ``--corruption``, ``--noise``), checked by the library's
    parser and kept as the text."""
    from ..corruption import parse  # torch: only when the option is given

    try:
        parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def noise_spec(text: str) -> str:
    """A q_D spec for ``train --model cae --noise``, whose numbers may be fractions (``gaussian:25/255``,
    :func:`aekit.nn.denoisers.parse_noise`), checked and kept as the text."""
    from ..nn.denoisers import parse_noise  # torch: only when the option is given

    try:
        parse_noise(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def corruption_specs(text: str) -> str:
    """One q_D spec, or one per layer separated by commas (``masking:0.1,none``: ``none`` for a layer
    without); none left empty."""
    items = [v.strip() for v in text.split(",")]
    if "" in items:
        raise argparse.ArgumentTypeError(
            f"{text!r} has an empty spec; expected specs like masking:0.1,masking:0.2"
        )
    for item in items:
        if len(items) == 1 or item.lower() != "none":
            corruption_spec(item)
    return text


#: The largest side --size takes (aekit.data.MAX_PIXELS is 4096 x 4096).
MAX_SIDE = 4096


def image_size(text: str) -> tuple[int, int]:
    """``"28x32"`` -> ``(28, 32)`` (height, width), ``"28"`` -> ``(28, 28)``; each side in 1..MAX_SIDE."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        sides = tuple(int(v) for v in parts)
    except ValueError:
        sides = ()
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2 or not all(1 <= v <= MAX_SIDE for v in sides):
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH or one side, each 1..{MAX_SIDE}, e.g. 28x28 or 28; got {text!r}"
        )
    return sides[0], sides[1]


def _checked_number(text: str, convert: Callable[[str], N], ok: Callable[[N], bool], expected: str) -> N:
    """``convert(text)`` when it parses and ``ok`` holds for it, else an argparse error saying what was expected."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An int >= 1 (for ``--n``)."""
    return _checked_number(text, int, lambda v: v >= 1, "a positive integer (>= 1)")


def nonnegative_int(text: str) -> int:
    """An int >= 0 (for ``--pretrain-epochs``)."""
    return _checked_number(text, int, lambda v: v >= 0, "an integer >= 0")


def nonnegative_float(text: str) -> float:
    """A finite float >= 0 (for ``--momentum``, ``--weight-decay``)."""
    return _checked_number(text, float, lambda v: 0 <= v < float("inf"), "a number >= 0")


def fraction(text: str) -> float:
    """A float in [0, 1) (for ``--val-fraction``)."""
    return _checked_number(text, float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")


def seed_int(text: str) -> int:
    """A random seed: an int in 0 .. 2**63-1."""
    return _checked_number(text, int, lambda v: 0 <= v < 2**63, "an integer seed in 0 .. 2**63-1")


def positive_float(text: str) -> float:
    """A finite float > 0 (for ``--timeout``)."""
    return _checked_number(text, float, lambda v: 0 < v < float("inf"), "a positive number (> 0)")


def out_file(*suffixes: str) -> Callable[[str], str]:
    """An argparse type: a file name ending in one of ``suffixes`` (any case), e.g. ``out_file(".png")``."""

    choices = suffixes[-1] if len(suffixes) == 1 else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"

    def check(text: str) -> str:
        if not text.lower().endswith(suffixes):
            raise argparse.ArgumentTypeError(f"expected a file name ending in {choices}, got {text!r}")
        return text

    check.__name__ = " or ".join(suffixes) + " file"
    return check


def add_data_arguments(
    parser: argparse.ArgumentParser,
    *,
    default: str | None = "digits",
    split: str | None = "test",
    required: bool | None = None,
) -> None:
    """--data, --data-root, --download, --split; --data is required without a default unless ``required=False``.

    ``split=None``: no --split, for a command that reads each split it needs itself (training reads
    the training split and, where --data has one, the test split)."""
    parser.add_argument(
        "--data",
        default=default,
        required=default is None if required is None else required,
        help=("digits (embedded, default), " if default == "digits" else "digits (embedded), ")
        + "mnist, fashion-mnist, kmnist, a directory of IDX files "
        "or of images (PNG, JPEG, ...; class sub-folders give labels), or a .npy/.npz/.csv/IDX file",
    )
    parser.add_argument(
        "--max-data-mib",
        type=positive_int,
        default=datasets.MAX_DATA_BYTES >> 20,
        metavar="MIB",
        help="refuse data that decodes to more (a compressed .npz, a folder of images), checked first",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="directory holding the MNIST-format files (default: $AEKIT_DATA or ~/.cache/aekit)",
    )
    parser.add_argument("--download", action="store_true", help="download MNIST-family data if missing")
    parser.add_argument(
        "--size",
        type=image_size,
        default=None,
        metavar="HxW",
        help="a folder of images: resize every image to HEIGHTxWIDTH (e.g. 28x28, or 28), so that "
        "images of mixed sizes load (default: all images must share one size)",
    )
    parser.add_argument(
        "--mode",
        default="auto",
        choices=IMAGE_MODES,
        help="a folder of images: L (one grey channel), RGB, or auto (L when every image is grey)",
    )
    if split is not None:
        parser.add_argument(
            "--split", default=split, choices=datasets.SPLITS, help=f"which split (default: {split})"
        )


def load_data(
    args: argparse.Namespace, split: str | None = None, *, flatten: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` for the data named on the command line: samples as rows, one label per sample."""
    X, y = datasets.load_dataset(
        args.data,
        split=split or getattr(args, "split", None) or "test",
        flatten=flatten,
        root=args.data_root,
        download=getattr(args, "download", False),
        max_bytes=getattr(args, "max_data_mib", datasets.MAX_DATA_BYTES >> 20) << 20,
        size=getattr(args, "size", None),
        mode=getattr(args, "mode", "auto"),
    )
    if X.ndim < 2:
        raise DataError(
            f"--data {args.data} holds an array of shape {X.shape}: expected one sample per row, "
            "(n_samples, n_features) or images"
        )
    if y is not None and len(y) != len(X):
        raise DataError(
            f"--data {args.data} holds {len(y)} labels for {len(X)} samples: expected one label per sample"
        )
    check_finite_rows(
        X, f"--data {args.data}" + (f" (split {split})" if split and has_split(args.data) else "")
    )
    return X, y


def check_finite_rows(X: np.ndarray, name: str) -> None:
    """Refuse NaN, inf and values too large for float32, naming the row of the user's file (before any
    shuffling or split: the position the user can look up)."""
    if X.dtype.kind != "f":
        return
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(X)
        if X.dtype.itemsize > 4:  # trained as float32: 1e39 becomes inf
            bad |= np.abs(X) > np.finfo(np.float32).max
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        column = f", column {index[1]}" if len(index) == 2 else f", position {index[1:]}"
        raise DataError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf, or too large for float32); "
            f"the first in row {index[0]}{column} (counting from 0)"
        )


def measured_data(args: argparse.Namespace) -> dict:
    """``{"data": --data}``, and ``"split"`` where --data has splits to choose from (not a single file)."""
    return {"data": args.data, **({"split": args.split} if has_split(args.data) else {})}


def has_split(spec: str) -> bool:
    """Whether ``--data spec`` names a dataset with a separate test split."""
    return spec in ("digits", "mnist", "fashion-mnist", "kmnist") or Path(spec).is_dir()


def add_run_arguments(p: argparse.ArgumentParser, *, resume: bool = True) -> None:
    """--overwrite, and --resume when the command can continue a run (see :mod:`aekit.cli.runs`)."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the checkpoint already in the output directory (its old files are removed first)",
    )
    if resume:
        p.add_argument("--resume", action="store_true", help="continue the run saved in --out")


def atomic_path(path: str | os.PathLike) -> AbstractContextManager[Path]:
    """:func:`aekit.io.atomic_path` (a context giving a temporary file that replaces ``path`` on success),
    imported on the first call so that building the parsers does not import torch."""
    from .. import io

    return io.atomic_path(path)


def write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    from ..io import atomic_write_text

    path = Path(path)
    atomic_write_text(path, json.dumps(obj, indent=2, default=float) + "\n")
    return path


def write_array(
    path: str | os.PathLike, X: np.ndarray, y: np.ndarray | None = None, *, key: str = "X"
) -> Path:
    """Save ``.npy`` (X) or ``.npz`` (X under ``key``, and y under ``y``) atomically."""
    from ..io import atomic_path

    path = Path(path)
    if path.suffix.lower() == ".npz":
        return write_npz(path, {key: X} if y is None else {key: X, "y": y})
    if path.suffix.lower() != ".npy":
        raise ValueError(f"output must end in .npy or .npz, got {os.fspath(path)!r}")
    buffer = _io.BytesIO()
    np.save(buffer, X, allow_pickle=False)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def write_npz(path: str | os.PathLike, arrays: dict[str, Any]) -> Path:
    """Save the named ``arrays`` as one ``.npz`` atomically."""
    from ..io import atomic_path

    path = Path(path)
    buffer = _io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def is_main() -> bool:
    """Whether this process is rank 0, the one that writes reports (torch is imported on the first call)."""
    from ..train.distributed import is_main as rank_zero

    return rank_zero()


def say(*parts: object) -> None:
    """Print a result line on standard output (results, not logs); under torchrun only rank 0 prints."""
    if is_main():
        print(*parts, flush=True)
