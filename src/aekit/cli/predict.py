"""``aekit predict``: the classes a trained classifier gives new images or data.

``aekit predict runs/sda-mnist digit1.png digit2.png`` prints one line per image (its class and
probability); ``--data`` takes anything ``train`` takes (a folder of images, a ``.npy``);
``--out predictions.csv`` keeps ``input,class,probability`` per row.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path

import numpy as np

from ..errors import DataError, a_or_an
from .common import Model, add_data_arguments, atomic_path, load_data, out_file, say, write_array

#: Image files ``predict`` reads as inputs (the others must come through --data).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
#: Lines printed before the rest is only counted (all of them go to --out).
MAX_PRINTED = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="the classes a trained classifier (train --model sda, a CNN) gives new images or --data",
        description="Print the class and its probability for each IMAGE (and each row of --data); "
        "--size and --mode convert the IMAGE files too; --out writes them all as CSV "
        "(input,class,probability) or .npy (the classes).",
    )
    p.add_argument("model_dir", metavar="DIR", help="a classifier checkpoint, e.g. from train --model sda")
    p.add_argument("paths", metavar="IMAGE", nargs="*", help="image files (PNG, JPEG, ...), each one input")
    add_data_arguments(p, default=None, required=False, split="test")
    p.add_argument(
        "--out",
        default=None,
        type=out_file(".csv", ".npy"),
        help="predictions.csv (input,class,probability) or predictions.npy (the classes)",
    )
    p.set_defaults(func=cmd_predict)


def _n_classes(model: Model) -> int | None:
    n = getattr(model, "n_classes", None)
    return n if n is not None else getattr(model, "config", {}).get("n_classes")


def _image_input(model: Model, path: str, args: argparse.Namespace) -> np.ndarray:
    """One image file as the model's input: (C, H, W) for a CNN, flattened for a dense classifier; a
    shape other than the model's is refused, naming both (``--size`` resizes)."""
    from ..data import read_image

    shape = tuple(getattr(model, "input_shape", ()))
    if not Path(path).is_file():
        raise FileNotFoundError(f"input {path!r} not found")
    if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(
            f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)}); give arrays with --data"
        )
    mode: str | None = None if args.mode == "auto" else args.mode  # a dense model: as the image is
    if len(shape) == 3:
        mode = "L" if shape[0] == 1 else "RGB"
    image = read_image(path, mode=mode, size=args.size)
    if len(shape) == 3:
        wanted = tuple(s for s in shape[1:] if s is not None)
        if len(wanted) == 2 and image.shape[1:] != wanted:
            raise DataError(
                f"{path} is {image.shape[1]}x{image.shape[2]} (height x width) but the classifier takes "
                f"{wanted[0]}x{wanted[1]} images: give --size {wanted[0]}x{wanted[1]} to resize it"
            )
        return image
    features = shape[0] if shape else image.size
    if image.size != features:
        raise DataError(
            f"{path} is {image.shape[0]}x{image.shape[1]}x{image.shape[2]} (channels x height x width, "
            f"{image.size} values) but the classifier takes {features} values: {_resize_hint(features)}"
        )
    return image.reshape(-1)


def _resize_hint(features: int) -> str:
    """How to make an image ``features`` values long: a square grey or colour image of that size."""
    for channels, mode in ((1, " --mode L"), (3, " --mode RGB")):
        side = math.isqrt(features // channels)
        if channels * side * side == features:
            return f"give --size {side}x{side}{mode} to convert it"
    return "resize it first"


def _inputs(model: Model, args: argparse.Namespace) -> tuple[list[str], np.ndarray]:
    """The names of the inputs (paths, ``--data[i]``) and their array, images first."""
    if not args.paths and args.data is None:
        raise ValueError("predict needs INPUT images or --data (e.g. a folder of images or a .npy)")
    names: list[str] = list(args.paths)
    arrays = [np.stack([_image_input(model, p, args) for p in args.paths])] if args.paths else []
    if args.data is not None:
        X, _ = load_data(args, flatten=len(getattr(model, "input_shape", ())) != 3)
        names += [f"{args.data}[{i}]" for i in range(len(X))]
        arrays.append(np.asarray(X, dtype=np.float32))
    if len(arrays) == 2 and arrays[0].shape[1:] != arrays[1].shape[1:]:
        raise DataError(
            f"the images are {arrays[0].shape[1:]} but --data {args.data} holds {arrays[1].shape[1:]}: "
            "predict them in separate runs"
        )
    return names, np.concatenate(arrays)


def cmd_predict(args: argparse.Namespace) -> int:
    from .. import inference
    from ..io import load

    model = load(args.model_dir)
    n_classes = _n_classes(model)
    if n_classes is None:
        raise ValueError(
            f"{args.model_dir} holds {a_or_an(type(model).__name__)}, not a classifier: predict needs one from "
            "'aekit train --model sda' (an autoencoder encodes or reconstructs: 'aekit encode', "
            "'aekit reconstruct')"
        )
    names, X = _inputs(model, args)
    proba = inference.predict_proba(model, X)
    classes = proba.argmax(1)
    best = proba[np.arange(len(classes)), classes]
    for name, c, p in list(zip(names, classes, best))[:MAX_PRINTED]:
        say(f"{name}: class {c} (probability {p:.3f})")
    if len(names) > MAX_PRINTED:
        say(f"... and {len(names) - MAX_PRINTED} more" + ("" if args.out else " (--out keeps them all)"))
    if args.out:
        _write(Path(args.out), names, classes, best)
        say(f"wrote {len(names)} predictions -> {args.out}")
    return 0


def _write(path: Path, names: list[str], classes: np.ndarray, best: np.ndarray) -> None:
    """``input,class,probability`` rows (.csv) or the classes (.npy), written atomically."""
    if path.suffix.lower() == ".npy":
        write_array(path, classes.astype(np.int64))
        return
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["input", "class", "probability"])
    writer.writerows([name, int(c), f"{p:.6f}"] for name, c, p in zip(names, classes, best))
    with atomic_path(path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
