"""Sub-commands of the convolutional family: ``train --model cae`` and ``denoise``.

``aekit train --model cae --data mnist --noise gaussian:0.5 --out DIR`` trains the
2-level convolutional denoiser of the notes' noisy-MNIST example;
``aekit denoise DIR INPUT... --out OUTDIR`` runs a trained model on PNG files or
``.npy`` arrays and draws clean / noisy / denoised rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..data.images import IMAGE_SUFFIXES
from ..errors import DataError
from . import core
from .choices import CONV_BLOCKS, UNPOOL_NAMES
from .common import (
    IMAGE_MODES,
    Model,
    UsageError,
    int_list,
    is_main,
    load_data,
    noise_spec,
    positive_int,
    say,
    seed_int,
    write_array,
    write_json,
)

#: Inputs of ``aekit denoise`` read as images, written back as .png (the others must be .npy arrays).
DENOISE_IMAGE_SUFFIXES = IMAGE_SUFFIXES
#: The most values a .npy input of ``aekit denoise`` may hold (image files: aekit.data.MAX_PIXELS pixels).
MAX_ARRAY_VALUES = 64_000_000


def register(sub: argparse._SubParsersAction) -> None:
    _extend_train(sub)
    p = sub.add_parser(
        "denoise",
        help="denoise images (PNG, JPEG, ...) or .npy arrays with a trained (conv) autoencoder",
        description="Run the model in DIR on every INPUT (an image: .png, .jpg, ...; or a .npy) and write "
        "OUTDIR/<name>.png "
        "or .npy, plus OUTDIR/denoise.png with rows (clean /) noisy / denoised.",
    )
    p.add_argument(
        "paths",
        metavar="[DIR] INPUT",
        nargs="*",
        help="the model's directory (left out with --pretrained), then images (.png, .jpg, ...) or .npy arrays",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output directory, or the output .png when there is one image input",
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="use a denoiser shipped with aekit: the grayscale or the colour one, as the image is",
    )
    p.add_argument("--name", default=None, help="with --pretrained: this shipped model (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped denoisers and exit")
    p.add_argument(
        "--tile", type=positive_int, default=512, help="photo denoisers: tiles of this side on large images"
    )
    p.add_argument(
        "--add-noise",
        default=None,
        type=noise_spec,
        metavar="SPEC",
        help="the inputs are clean: corrupt them first (e.g. gaussian:0.5, or gaussian:25/255: not clipped "
        "for a photo denoiser) and show clean / noisy / denoised",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="seed of --add-noise (0 .. 2**63-1)")
    p.set_defaults(func=cmd_denoise)


def _extend_train(sub: argparse._SubParsersAction) -> None:
    """Add ``--model cae`` and its options to ``aekit train``."""
    group = core.add_trainer(
        sub,
        "cae",
        train_cae,
        "convolutional (denoising) autoencoder",
        takes=("tied", "loss", "output_activation", "corruption"),
    )
    group.add_argument(
        "--noise",
        dest="corruption",
        default=None,
        type=noise_spec,
        metavar="SPEC",
        help="same as --corruption: q_D of a denoiser, e.g. gaussian:0.5 (x + 0.5·N(0, 1), clipped)",
    )
    group.add_argument(
        "--channels",
        type=int_list,
        default=None,
        help="feature maps per level (default 32,32; with --patch 32,64,64,64)",
    )
    group.add_argument("--kernel-size", type=int, default=3)
    group.add_argument(
        "--block", default="modern", choices=CONV_BLOCKS, help="modern: Conv+BN+ReLU; masci: tanh(Ψ(X*W+b))"
    )
    group.add_argument(
        "--unpool",
        default="upsample",
        choices=UNPOOL_NAMES,
        help="approximate inverse of max-pooling in the decoder",
    )
    group.add_argument(
        "--code-dim",
        type=positive_int,
        default=None,
        metavar="N",
        help="a dense code of N values after the conv levels (e.g. 2 for a 2-D map, as in 'aekit map "
        "--model cae'); default: the code is the top feature maps",
    )
    group.add_argument(
        "--dense",
        type=int_list,
        default=None,
        help="with --code-dim: hidden dense sizes between the flattened maps and the code (default 256)",
    )
    _add_patch_arguments(group)
    # --mode (a data option, not the group's) says grey or colour; --color is its earlier name
    sub.choices["train"].add_argument(
        "--color", dest="mode", choices=IMAGE_MODES, default="auto", help=argparse.SUPPRESS
    )


def _add_patch_arguments(group: argparse._ArgumentGroup) -> None:
    """Patch training of a photo denoiser (aekit.nn.ConvDenoiser) on a folder of images of any sizes."""
    group.add_argument(
        "--patch",
        type=positive_int,
        default=None,
        metavar="N",
        help="train a RED-Net-style photo denoiser on random NxN patches of the images in --data DIR "
        "(any sizes; decoded once), flipped and rotated; --noise gaussian:25/255 (not clipped) or "
        "--sigma-range for a blind model",
    )
    group.add_argument(
        "--sigma-range",
        type=_sigma_range,
        default=None,
        metavar="LOW,HIGH",
        help="with --patch: blind Gaussian noise, one sigma per patch drawn in [LOW, HIGH] on the 0-255 "
        "scale (e.g. 0,55)",
    )
    group.add_argument(
        "--arch",
        default="residual",
        choices=["residual", "red"],
        help="with --patch: residual (predicts the noise, x = y - f(y), as DnCNN) or red (predicts x)",
    )
    group.add_argument("--depth", type=positive_int, default=2, help="with --patch: conv blocks per level")
    group.add_argument(
        "--patches-per-epoch",
        type=positive_int,
        default=4096,
        help="with --patch: patches per epoch (a checkpoint is written after each epoch)",
    )


def _sigma_range(text: str) -> list[float]:
    """``"0,55"`` -> ``[0.0, 55.0]``: 0 <= LOW <= HIGH."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        low = high = float("nan")
    if not 0 <= low <= high < float("inf"):
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH with 0 <= LOW <= HIGH, e.g. 0,55; got {text!r}")
    return [low, high]


#: Options of `train --model cae` that only the photo denoiser (--patch) uses, and those it ignores.
PATCH_ONLY = ("sigma_range", "arch", "depth", "patches_per_epoch")
NOT_WITH_PATCH = ("block", "unpool", "tied", "loss", "output_activation", "size", "code_dim", "dense")


def train_cae(args: argparse.Namespace) -> int:
    if args.patch is not None:
        ignored = core.given_options(args, NOT_WITH_PATCH)
        if ignored:
            raise UsageError(
                f"{ignored[0]} is not an option of the photo denoiser (--patch {args.patch}): it trains on "
                "patches of images of any size, with --channels, --depth, --kernel-size, --arch"
            )
        return train_patches(args)
    patch_only = core.given_options(args, PATCH_ONLY)
    if patch_only:
        raise UsageError(
            f"{patch_only[0]} applies to the photo denoiser only: give --patch N with it, or leave it out"
        )
    from ..nn import ConvAutoencoder
    from ..train import seed_everything
    from .runs import finish_run, load_test, run_directory

    X, y = load_data(args, "train", flatten=False)
    if X.ndim != 4:
        raise DataError(
            f"--model cae needs images (N, C, H, W) or (N, H, W); --data {args.data} gave shape {X.shape}"
        )
    channels = args.channels or [32, 32]
    code = dense_code_options(args, X.shape, channels)
    X_test, _ = load_test(args, flatten=False)
    X_tr, _, X_val, _ = core.split_off_validation(X, y, args)
    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    seed_everything(args.seed)
    model = ConvAutoencoder(
        X.shape[1],
        channels,
        kernel_size=args.kernel_size,
        block=args.block,
        unpool=args.unpool,
        tied=args.tied,
        loss=args.loss or core.LOSS,
        output_activation=args.output_activation,
        corruption=args.corruption,
        **code,
    )
    model, history, seconds = core.fit_run(args, model, X_tr, X_val, out)
    if not is_main():  # under torchrun: rank 0 evaluates and writes the report and figures
        return 0
    epochs = len(history["epoch"])
    report = {
        "model": "cae",
        "data": args.data,
        "config": model.config,
        "epochs": epochs,
        "seconds": seconds,
        "train_samples_per_second": len(X_tr) * epochs / seconds if seconds > 0 else None,
    }
    report.update(core.split_metrics(model, train=X_tr[:10000], validation=X_val, test=X_test))
    report.update(_cae_figures(args, model, X_test if X_test is not None else X_tr, history, out))
    write_json(out / "metrics.json", report)
    _say_cae(args, model, report, seconds, finish_run(out))
    return 0


def dense_code_options(args: argparse.Namespace, shape: tuple, channels: list[int]) -> dict:
    """ConvAutoencoder's dense-code arguments from --code-dim/--dense, checked in the flags' words."""
    from ..nn.conv import check_spatial

    check_spatial(shape, len(channels), 2, f"--data {args.data}")
    if args.code_dim is None:
        if args.dense is not None:
            raise ValueError("--dense sizes the layers before a dense code: give --code-dim N with it")
        return {}
    if args.unpool == "switches":
        raise ValueError(
            f"--code-dim {args.code_dim} decodes from the dense code alone, but --unpool switches needs the "
            "encoder's max-pooling locations: use --unpool upsample, random or spread"
        )
    return {"code_dim": args.code_dim, "image_size": list(shape[2:]), "dense": args.dense or [256]}


def train_patches(args: argparse.Namespace) -> int:
    """``--model cae --patch N``: a ConvDenoiser trained on random patches of the photos in --data DIR."""
    from ..data.patches import load_uint8_images, patch_loader
    from ..nn import ConvDenoiser
    from ..train import seed_everything
    from .runs import run_directory

    if not Path(args.data).is_dir():
        raise DataError(f"--patch trains on a folder of images: --data {args.data!r} is not a directory")
    if (args.corruption is None) == (args.sigma_range is None):
        raise ValueError(
            "--patch needs the training noise: --noise SPEC (e.g. gaussian:25/255) or --sigma-range LOW,HIGH"
        )
    images = load_uint8_images(args.data, mode=args.mode)
    loader = patch_loader(
        images, args.patch, args.batch_size, max(args.patches_per_epoch // args.batch_size, 1)
    )
    out = run_directory(args.out, resume=args.resume, overwrite=args.overwrite)
    seed_everything(args.seed)
    model = ConvDenoiser(
        images[0].shape[0],
        args.channels or [32, 64, 64, 64],
        depth=args.depth,
        kernel_size=args.kernel_size,
        residual=args.arch == "residual",
        corruption=args.corruption,
        sigma_range=args.sigma_range,
    )
    # fit_run hands X_train to aekit.fit, which takes a DataLoader too (its annotation says ndarray)
    model, history, seconds = core.fit_run(args, model, loader, None, out)  # type: ignore[arg-type]
    if not is_main():
        return 0
    epochs = len(history["epoch"])
    trained = sum(history["seconds"])  # every epoch of the run, resumed ones too
    report = {
        "model": "cae",
        "data": args.data,
        "images": len(images),
        "patch": args.patch,
        "config": model.config,
        "epochs": epochs,
        "seconds": seconds,
        "train_seconds_total": trained,
        "train_loss": history["train_loss"][-1] if epochs else None,
        "patches_per_second": epochs * len(loader) * args.batch_size / trained if trained > 0 else None,
    }
    write_json(out / "metrics.json", report)
    say(f"trained {model.config['channels']} denoiser on {len(images)} images in {seconds:.1f}s -> {out}")
    return 0


def _cae_figures(args: argparse.Namespace, model: Model, X: np.ndarray, history: dict, out: Path) -> dict:
    """Draw denoising.png (a denoiser) or reconstructions.png, and curves.png; return the denoising report."""
    from .. import inference, metrics, viz

    viz.training_curves(history, out / "curves.png")
    if model.corruption is None:
        viz.reconstruction_grid(
            {"input": X, "reconstructed": inference.reconstruct(model, X[:10])}, out / "reconstructions.png"
        )
        return {}
    noisy = viz.seeded_corruption(model.corruption, X, seed=args.seed)
    denoised = inference.reconstruct(model, noisy)
    viz.reconstruction_grid(
        {"clean": X, "noisy": noisy, "denoised": denoised},
        out / "denoising.png",
        title=f"convolutional denoiser, {model.corruption.spec()}",
    )
    denoising = {
        "n": len(X),
        "corruption": model.corruption.spec(),
        "psnr_noisy_db": metrics.psnr(X, noisy),
        "psnr_denoised_db": metrics.psnr(X, denoised),
    }
    return {"denoising": denoising}


def _say_cae(args: argparse.Namespace, model: Model, report: dict, seconds: float, out: Path) -> None:
    split = "test" if "test" in report else "train"
    best = report[split]
    extra = (
        f", denoising PSNR {report['denoising']['psnr_noisy_db']:.2f} -> "
        f"{report['denoising']['psnr_denoised_db']:.2f} dB"
        if "denoising" in report
        else ""
    )
    say(
        f"trained {args.block} CAE {model.config['channels']} in {seconds:.1f}s: {split} loss {best['loss']:.4g}, "
        f"PSNR {best['psnr_db']:.2f} dB{extra} -> {out}"
    )


# ---------------------------------------------------------------------- denoise
def _in_channels(model: Model) -> int:
    shape: tuple = getattr(model, "input_shape", ())
    if len(shape) != 3 or shape[0] is None:
        raise DataError(
            f"{type(model).__name__} does not take images (input shape {shape}); "
            "denoise needs a convolutional model such as one from 'aekit train --model cae'"
        )
    return int(shape[0])


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a (C, H, W) image in [0, 1] as an 8-bit PNG, atomically."""
    from PIL import Image

    from ..io import atomic_path

    img = np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")


def read_npy(path: Path, channels: int) -> tuple[np.ndarray, tuple]:
    """An array of images as float32 (N, C, H, W) in [0, 1], and its original shape."""
    from ..data import load_array

    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise DataError(
                f"{path} is not a .npy array (no NumPy header): expected a .npy file from numpy.save"
            )
    arr = load_array(path)[0]  # names the file: pickled objects, truncated data...
    if arr.size > MAX_ARRAY_VALUES:
        raise DataError(f"{path} holds {arr.size} values, more than the limit of {MAX_ARRAY_VALUES}")
    shape = arr.shape
    images = _as_images(arr, channels)
    if images is None or images.shape[1] != channels:
        raise DataError(
            f"{path} has shape {shape}: expected (H, W), (N, H, W) or (N, {channels}, H, W) images "
            f"for a model with {channels} channel(s)"
        )
    images = np.asarray(images, dtype=np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    return np.ascontiguousarray(images), shape


def _as_images(arr: np.ndarray, channels: int) -> np.ndarray | None:
    """``arr`` as (N, C, H, W): (H, W) is one image, (N, H, W) N grey ones or one with C channels."""
    if arr.ndim == 2:
        return arr[None, None]
    if arr.ndim == 3 and channels > 1 and arr.shape[0] == channels:
        return arr[None]
    if arr.ndim == 3 and channels == 1:
        return arr[:, None]
    return arr if arr.ndim == 4 else None


def _output_names(inputs: list[str], out: Path) -> list[str]:
    """The file each input is written to in ``out``, checked before anything is read or written: every
    input exists and has a known suffix, and no two outputs (nor the figure) share a name."""
    targets: dict[str, str] = {"denoise.png": "the figure"}
    for name in inputs:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"input {name!r} not found")
        suffix = path.suffix.lower()
        if suffix not in DENOISE_IMAGE_SUFFIXES and suffix != ".npy":
            raise DataError(
                f"{name}: expected an image ({', '.join(DENOISE_IMAGE_SUFFIXES)}) or a .npy array, "
                f"got {suffix or 'no suffix'!r}"
            )
        target = path.stem + (".png" if suffix in DENOISE_IMAGE_SUFFIXES else ".npy")
        if target.lower() in map(str.lower, targets):
            other = next(v for k, v in targets.items() if k.lower() == target.lower())
            raise ValueError(
                f"inputs {other} and {name} would both be written to {out / target}: "
                "give inputs with distinct names (or denoise them in separate runs)"
            )
        targets[target] = repr(name)
    return list(targets)[1:]


def _read_input(path: Path, channels: int) -> tuple[np.ndarray, tuple | None]:
    """``(images (N, C, H, W), the .npy's shape or None for an image file)``."""
    from ..data import read_image

    if path.suffix.lower() in DENOISE_IMAGE_SUFFIXES:
        return read_image(path, mode="L" if channels == 1 else "RGB")[None], None
    return read_npy(path, channels)


def _list_pretrained() -> int:
    from ..denoising import pretrained_denoisers

    for name, card in pretrained_denoisers().items():
        say(f"{name}: {card['description']}")
    return 0


def _denoise_model(args: argparse.Namespace) -> tuple[Model, list[str]]:
    """The model (a checkpoint DIR, or a shipped one chosen by --name or by the first image) and the inputs."""
    from ..denoising import load_pretrained_denoiser, pretrained_for
    from ..io import load

    if not args.pretrained:
        if args.name is not None:
            raise ValueError("--name picks a shipped model: give it with --pretrained")
        if len(args.paths) < 2:
            raise ValueError(
                "denoise needs the model's DIR and at least one INPUT (or --pretrained INPUT...)"
            )
        return load(args.paths[0]), args.paths[1:]
    if not args.paths:
        raise ValueError("denoise --pretrained needs at least one INPUT image")
    name = args.name or pretrained_for(args.paths[0])
    return load_pretrained_denoiser(name), args.paths


def _single_output(inputs: list[str], out: Path) -> bool:
    """``--out photo.png`` with one image input: write the denoised image there (no figure)."""
    return (
        out.suffix.lower() == ".png"
        and len(inputs) == 1
        and Path(inputs[0]).suffix.lower() in DENOISE_IMAGE_SUFFIXES
    )


def _reconstruct(model: Model, images: np.ndarray, tile: int) -> np.ndarray:
    """The model's output for (N, C, H, W) images; photo denoisers go image by image, in tiles."""
    from .. import inference
    from ..nn.denoisers import ConvDenoiser, denoise

    if isinstance(model, ConvDenoiser):
        return np.stack([denoise(model, image, tile=tile) for image in images])
    return inference.reconstruct(model, images)


def cmd_denoise(args: argparse.Namespace) -> int:
    from .. import viz
    from ..nn.denoisers import ConvDenoiser, parse_noise

    if args.list:
        return _list_pretrained()
    if args.out is None:
        raise ValueError("denoise needs --out (a directory, or a .png for one image)")
    model, inputs = _denoise_model(args)
    channels = _in_channels(model)
    out = Path(args.out)
    q_d = parse_noise(args.add_noise, unclipped=isinstance(model, ConvDenoiser)) if args.add_noise else None
    if _single_output(inputs, out):
        if not Path(inputs[0]).is_file():
            raise FileNotFoundError(f"input {inputs[0]!r} not found")
        clean = _read_input(Path(inputs[0]), channels)[0]
        noisy = viz.seeded_corruption(q_d, clean, seed=args.seed) if q_d is not None else clean
        denoised = _reconstruct(model, noisy, args.tile)
        write_png(out, denoised[0])
        say(f"denoised {inputs[0]} -> {out}")
        if q_d is not None:
            _say_psnr(args.add_noise, [(clean, noisy, denoised)])
        return 0
    targets = _output_names(inputs, out)  # every input checked and read before anything is written
    loaded = [_read_input(Path(name), channels) for name in inputs]
    rows: dict[str, list] = {"clean": [], "noisy": [], "denoised": []}
    written, triples = [], []
    for (images, shape), target in zip(loaded, targets):
        noisy = viz.seeded_corruption(q_d, images, seed=args.seed) if q_d is not None else images
        denoised = _reconstruct(model, noisy, args.tile)
        triples.append((images, noisy, denoised))
        if shape is None:
            write_png(out / target, denoised[0])
        else:
            write_array(out / target, denoised.reshape(shape))
        written.append(str(out / target))
        for row, samples in zip(rows.values(), (images, noisy, denoised)):
            row.extend(samples[:10])
    try:  # images of different sizes cannot share a grid: then no figure
        figure = {k: np.stack(v) for k, v in rows.items() if v and (k != "clean" or q_d is not None)}
        viz.reconstruction_grid(
            figure, out / "denoise.png", title="denoised" + (f" ({args.add_noise})" if q_d else "")
        )
        written.append(str(out / "denoise.png"))
    except ValueError:
        pass
    say(f"denoised {len(inputs)} input(s) -> {out}: {', '.join(written)}")
    if q_d is not None:
        _say_psnr(args.add_noise, triples)
    return 0


def _say_psnr(spec: str, triples: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Print the PSNR of the noisy and the denoised images against the clean ones (``--add-noise``):
    10·log10(1 / MSE) per image, averaged over every image of every input."""
    from .. import metrics

    def per_image(x: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.asarray(metrics.psnr(x.reshape(len(x), -1), z.reshape(len(z), -1), reduction="none"))

    noisy = np.concatenate([per_image(clean, n) for clean, n, _ in triples])
    denoised = np.concatenate([per_image(clean, d) for clean, _, d in triples])
    say(
        f"PSNR over {len(noisy)} image(s): noisy ({spec}) {noisy.mean():.2f} dB -> denoised "
        f"{denoised.mean():.2f} dB"
    )
