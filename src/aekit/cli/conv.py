"""Sub-commands of the convolutional family: ``train --model cae`` and ``denoise``.

``aekit train --model cae --data mnist --noise gaussian:0.5 --out DIR`` trains the
2-level convolutional denoiser of the notes' noisy-MNIST example;
``aekit denoise DIR INPUT... --out OUTDIR`` runs a trained model on PNG files or
``.npy`` arrays and draws clean / noisy / denoised rows.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import corruption as corruption_lib
from .. import inference, metrics, viz
from ..errors import DataError
from ..io import atomic_path, load
from ..nn import ConvAutoencoder
from ..nn.conv import BLOCKS
from ..nn.pooling import UNPOOL_MODES
from ..train import fit, seed_everything
from ..train.distributed import is_main
from . import core
from .common import int_list, load_data, say, seed_int, write_array, write_json
from .runs import load_test, resumed_model, run_directory

IMAGE_SUFFIXES = (".png",)
MAX_PIXELS = 64_000_000  # refuse absurd images/arrays rather than exhausting memory


def register(sub) -> None:
    _extend_train(sub)
    p = sub.add_parser(
        "denoise",
        help="denoise PNG images or .npy arrays with a trained (conv) autoencoder",
        description="Run the model in DIR on every INPUT (.png or .npy) and write OUTDIR/<name>.png "
        "or .npy, plus OUTDIR/denoise.png with rows (clean /) noisy / denoised.",
    )
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help=".png images or .npy arrays")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--add-noise",
        default=None,
        metavar="SPEC",
        help="the inputs are clean: corrupt them first (e.g. gaussian:0.5) and show clean / noisy / denoised",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="seed of --add-noise (0 .. 2**63-1)")
    p.set_defaults(func=cmd_denoise)


def _extend_train(sub) -> None:
    """Add ``--model cae`` and its options to ``aekit train``."""
    group = core.add_trainer(sub, "cae", train_cae, "convolutional (denoising) autoencoder")
    group.add_argument(
        "--noise",
        dest="corruption",
        default=None,
        metavar="SPEC",
        help="same as --corruption: q_D of a denoiser, e.g. gaussian:0.5 (x + 0.5·N(0, 1), clipped)",
    )
    group.add_argument("--channels", type=int_list, default=[32, 32], help="feature maps per level (32,32)")
    group.add_argument("--kernel-size", type=int, default=3)
    group.add_argument(
        "--block", default="modern", choices=list(BLOCKS), help="modern: Conv+BN+ReLU; masci: tanh(Ψ(X*W+b))"
    )
    group.add_argument(
        "--unpool",
        default="upsample",
        choices=list(UNPOOL_MODES),
        help="approximate inverse of max-pooling in the decoder",
    )


def train_cae(args) -> int:
    X, y = load_data(args, "train", flatten=False)
    if X.ndim != 4:
        raise DataError(
            f"--model cae needs images (N, C, H, W) or (N, H, W); --data {args.data} gave shape {X.shape}"
        )
    X_test, _ = load_test(args, flatten=False)
    X_tr, _, X_val, _ = split_validation(X, y, args)
    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    seed_everything(args.seed)
    model = ConvAutoencoder(
        X.shape[1],
        args.channels,
        kernel_size=args.kernel_size,
        block=args.block,
        unpool=args.unpool,
        tied=args.tied,
        loss=args.loss,
        output_activation=args.output_activation,
        corruption=args.corruption,
    )
    if args.resume:
        model = resumed_model(args, model, out)
    start = time.perf_counter()
    history = fit(
        model,
        X_tr,
        X_val=X_val,
        checkpoint_dir=out,
        resume_from=out if args.resume else None,
        **core.fit_options(args),
    )
    seconds = time.perf_counter() - start
    if not is_main():  # under torchrun: rank 0 evaluates and writes the report and figures
        return 0
    report = {
        "model": "cae",
        "data": args.data,
        "config": model.config,
        "epochs": len(history["epoch"]),
        "seconds": seconds,
        "train_samples_per_second": len(X_tr) * len(history["epoch"]) / seconds if seconds > 0 else None,
        "train": core.reconstruction_metrics(model, X_tr[:10000]),
    }
    if X_val is not None:
        report["validation"] = core.reconstruction_metrics(model, X_val)
    X_show = X_test if X_test is not None else X_tr
    if X_test is not None:
        report["test"] = core.reconstruction_metrics(model, X_test)
    if model.corruption is not None:
        noisy = _corrupt(model.corruption, X_show, args.seed)
        denoised = inference.reconstruct(model, noisy)
        report["denoising"] = {
            "n": len(X_show),
            "corruption": model.corruption.spec(),
            "psnr_noisy_db": metrics.psnr(X_show, noisy),
            "psnr_denoised_db": metrics.psnr(X_show, denoised),
        }
        viz.reconstruction_grid(
            {"clean": X_show, "noisy": noisy, "denoised": denoised},
            out / "denoising.png",
            title=f"convolutional denoiser, {model.corruption.spec()}",
        )
    else:
        viz.reconstruction_grid(
            {"input": X_show, "reconstructed": inference.reconstruct(model, X_show[:10])},
            out / "reconstructions.png",
        )
    viz.training_curves(history, out / "curves.png")
    write_json(out / "metrics.json", report)
    best = report.get("test", report["train"])
    extra = (
        f", denoising PSNR {report['denoising']['psnr_noisy_db']:.2f} -> "
        f"{report['denoising']['psnr_denoised_db']:.2f} dB"
        if "denoising" in report
        else ""
    )
    say(
        f"trained {args.block} CAE {model.config['channels']} in {seconds:.1f}s: loss {best['loss']:.4g}, "
        f"PSNR {best['psnr_db']:.2f} dB{extra} -> {out}"
    )
    return 0


def split_validation(X, y, args):
    return core.split_validation(X, y, args.val_fraction, args.seed)


def _corrupt(q_d, X: np.ndarray, seed: int) -> np.ndarray:
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        return q_d(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
    finally:
        torch.set_rng_state(gen_state)


# ---------------------------------------------------------------------- denoise
def _in_channels(model) -> int:
    shape = getattr(model, "input_shape", ())
    if len(shape) != 3 or shape[0] is None:
        raise DataError(
            f"{type(model).__name__} does not take images (input shape {shape}); "
            "denoise needs a convolutional model such as one from 'aekit train --model cae'"
        )
    return int(shape[0])


def read_png(path: Path, channels: int) -> np.ndarray:
    """A PNG as float32 (C, H, W) in [0, 1] (converted to grey or RGB for the model)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise DataError(f"{path}: {img.width}x{img.height} is larger than {MAX_PIXELS} pixels")
            img = img.convert("L" if channels == 1 else "RGB")
            arr = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, Image.DecompressionBombError) as err:
        raise DataError(f"{path} is not a readable image: {err}") from None
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a (C, H, W) image in [0, 1] as an 8-bit PNG, atomically."""
    from PIL import Image

    img = np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")


def read_npy(path: Path, channels: int) -> tuple[np.ndarray, tuple]:
    """An array of images as float32 (N, C, H, W) in [0, 1], and its original shape."""
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":  # else np.load takes it for a pickle ("pickled (object) data")
            raise DataError(
                f"{path} is not a .npy array (no NumPy header): expected a .npy file from numpy.save"
            )
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not a readable .npy array: {err}") from None
    if arr.size > MAX_PIXELS:
        raise DataError(f"{path} holds {arr.size} values, more than the limit of {MAX_PIXELS}")
    shape = arr.shape
    if arr.ndim == 2:
        images = arr[None, None]
    elif arr.ndim == 3:
        images = (
            arr[None]
            if (channels > 1 and arr.shape[0] == channels)
            else arr[:, None]
            if channels == 1
            else None
        )
    elif arr.ndim == 4:
        images = arr
    else:
        images = None
    if images is None or images.shape[1] != channels:
        raise DataError(
            f"{path} has shape {shape}: expected (H, W), (N, H, W) or (N, {channels}, H, W) images "
            f"for a model with {channels} channel(s)"
        )
    images = np.asarray(images, dtype=np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    return np.ascontiguousarray(images), shape


def cmd_denoise(args) -> int:
    model = load(args.model_dir)
    channels = _in_channels(model)
    out = Path(args.out)
    q_d = corruption_lib.parse(args.add_noise) if args.add_noise else None
    rows: dict[str, list] = {"clean": [], "noisy": [], "denoised": []}
    written = []
    # every input is checked and read, and every output name known, before anything is written
    targets: dict[str, str] = {"denoise.png": "the figure"}
    for name in args.inputs:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"input {name!r} not found")
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES and suffix != ".npy":
            raise DataError(f"{name}: expected a .png image or a .npy array, got {suffix or 'no suffix'!r}")
        target = path.stem + (".png" if suffix in IMAGE_SUFFIXES else ".npy")
        if target.lower() in map(str.lower, targets):
            other = next(v for k, v in targets.items() if k.lower() == target.lower())
            raise ValueError(
                f"inputs {other} and {name} would both be written to {out / target}: "
                "give inputs with distinct names (or denoise them in separate runs)"
            )
        targets[target] = repr(name)
    loaded = []
    for name in args.inputs:
        path = Path(name)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            loaded.append((path, read_png(path, channels)[None], None))
        else:
            loaded.append((path, *read_npy(path, channels)))
    for path, images, shape in loaded:
        noisy = _corrupt(q_d, images, args.seed) if q_d is not None else images
        denoised = inference.reconstruct(model, noisy)
        target = out / (path.stem + (".png" if shape is None else ".npy"))
        if shape is None:
            write_png(target, denoised[0])
        else:
            write_array(target, denoised.reshape(shape))
        written.append(str(target))
        rows["clean"].extend(images[:10])
        rows["noisy"].extend(noisy[:10])
        rows["denoised"].extend(denoised[:10])
    try:  # images of different sizes cannot share a grid: then no figure
        figure = {k: np.stack(v) for k, v in rows.items() if v and (k != "clean" or q_d is not None)}
        viz.reconstruction_grid(
            figure, out / "denoise.png", title="denoised" + (f" ({q_d.spec()})" if q_d else "")
        )
        written.append(str(out / "denoise.png"))
    except ValueError:
        pass
    say(f"denoised {len(args.inputs)} input(s) -> {out}: {', '.join(written)}")
    return 0
