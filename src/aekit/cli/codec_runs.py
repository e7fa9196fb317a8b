"""Codec directories in the generic commands: ``aekit evaluate``, ``encode``, ``reconstruct``,
``plot recon|codes`` and ``report``.

A codec (``aekit codec train``, a photo codec run's ``export`` folder, a shipped photo codec) is
measured through real bitstreams (:mod:`aekit.codec.measure`): bytes per item and PSNR. ``encode``
writes the integer symbols ŷ it codes, ``reconstruct`` the items decoded from its bitstream; a
photo codec's arrays are one per photo (a ``.npz`` keyed by file name, or a ``.npy`` of one photo).
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

import numpy as np

from ..errors import DataError
from .common import load_data, measured_data, say, write_array, write_npz


def codec_class(path: str | os.PathLike) -> str | None:
    """The codec's class name when ``path`` holds a codec, else None (any other model)."""
    from ..codec.measure import codec_class

    return codec_class(path)


def load_codec(path: str | os.PathLike) -> Any:
    """The codec in ``path``, with its entropy tables (a training checkpoint has none: one line naming the
    folder that has them)."""
    from ..codec.measure import load_codec

    codec = load_codec(path)
    if not codec.updated:
        export = os.path.join(path, "export")
        hint = f"use {export}, which `codec train` exported with them" if codec_class(export) else "export it"
        raise DataError(f"{path} holds a codec without entropy tables (a training checkpoint): {hint}")
    return codec


def codec_items(args: argparse.Namespace, codec: Any, *, limit: int | None = None) -> Any:
    """The items of --data for ``codec``: (N, *input_shape) for a dense codec (a sample of another size
    is refused, naming both shapes); a list of uint8 photos for a photo codec (a photo or a folder)."""
    from ..codec.measure import PHOTO_CLASSES, read_photos

    if isinstance(codec, PHOTO_CLASSES):
        return read_photos(_photo_path(args), codec.channels, limit=limit)
    return _dense_items(args, codec, limit)[0]


def _photo_path(args: argparse.Namespace) -> str:
    if not os.path.exists(args.data):
        raise DataError(
            f"a photo codec reads photos: --data must be a photo or a directory of photos, got --data {args.data}"
        )
    return args.data


def _dense_items(args: argparse.Namespace, codec: Any, limit: int | None) -> tuple[np.ndarray, Any]:
    """``(X (N, *input_shape), labels or None)`` of --data for a dense codec."""
    X, y = load_data(args, flatten=len(codec.input_shape) == 1)
    if limit is not None:
        X, y = X[:limit], None if y is None else y[:limit]
    if math.prod(X.shape[1:]) != math.prod(codec.input_shape):
        raise DataError(
            f"--data {args.data} holds samples of shape {tuple(X.shape[1:])}, but the codec's items have "
            f"shape {tuple(codec.input_shape)}: give data of the size the codec was trained on"
        )
    return X.reshape(len(X), *codec.input_shape), y


def evaluate_codec(args: argparse.Namespace) -> dict:
    """``aekit evaluate`` of a codec: its rate-distortion point on --data from real bitstream bytes, and
    what it was measured on (the photos' megapixels, or the split of a data set that has one)."""
    from ..codec.measure import PHOTO_CLASSES, rd_point

    codec = load_codec(args.model_dir)
    items = codec_items(args, codec)
    result = {"model": type(codec).__name__, **rd_point(codec, items)}
    if isinstance(codec, PHOTO_CLASSES):  # what was measured: these photos, of so many pixels (no split)
        return {**result, "data": args.data, "megapixels": sum(p.shape[0] * p.shape[1] for p in items) / 1e6}
    return {**result, **measured_data(args)}


def plot_codec(args: argparse.Namespace, codec: Any) -> None:
    """``aekit plot recon|codes`` of a codec: items above their reconstructions through the bitstream,
    or histograms of the integer symbols ŷ it writes (on at most 5000 items, or 8 photos)."""
    from .. import viz
    from ..codec.measure import PHOTO_CLASSES, draw_reconstructions, symbols
    from .common import UsageError

    if getattr(args, "corruption", None):
        raise UsageError(
            f"--corruption {args.corruption}: a codec is not a denoiser; 'plot recon' of a codec draws "
            "its items decoded from the bitstream, leave out --corruption"
        )
    if args.kind == "recon":
        draw_reconstructions(codec, codec_items(args, codec, limit=args.n or 10), args.out, n=args.n or 10)
        return
    X = codec_items(args, codec, limit=8 if isinstance(codec, PHOTO_CLASSES) else 5000)
    viz.code_histograms(
        symbols(codec, X),
        args.out,
        n_units=args.n or 16,
        title=f"integer symbols ŷ written by the codec ({len(X)} items of --data {args.data})",
    )


def encode_codec(args: argparse.Namespace) -> None:
    """``aekit encode`` of a codec: the integer symbols ŷ = clip(round(g_a(x))) its bitstream carries,
    (N, D) for a dense codec (with the labels in a .npz), (M, h, w) per photo for a photo codec."""
    from ..codec.measure import PHOTO_CLASSES, photo_names, photo_symbols
    from ..codec.pixels import latent_size

    codec = load_codec(args.model_dir)
    if isinstance(codec, PHOTO_CLASSES):
        photos = codec_items(args, codec)
        _check_stacks(args.out, [(codec.M, *latent_size(*p.shape[:2])) for p in photos], "symbols")
        codes = [photo_symbols(codec, photo) for photo in photos]
        _write_per_photo(args.out, photo_names(args.data, limit=len(photos)), codes)
        say(
            f"wrote the symbols ŷ of {len(photos)} photo(s), {_shapes([c.shape for c in codes])} -> {args.out}"
        )
        return
    X, y = _dense_items(args, codec, None)
    codes = codec.symbols(X)
    path = write_array(args.out, codes, y if str(args.out).lower().endswith(".npz") else None, key="codes")
    say(f"wrote the symbols ŷ {codes.shape} the codec writes -> {path}")


def reconstruct_codec(args: argparse.Namespace) -> None:
    """``aekit reconstruct`` of a codec: its items decoded from the real bitstream (a figure of the first
    --n, or every item as an array; a photo codec's as uint8 (H, W, C) per photo)."""
    from ..codec.measure import PHOTO_CLASSES, draw_reconstructions, photo_names, round_trip

    codec = load_codec(args.model_dir)
    if str(args.out).lower().endswith(".png"):
        draw_reconstructions(codec, codec_items(args, codec, limit=args.n), args.out, n=args.n)
    elif isinstance(codec, PHOTO_CLASSES):
        photos = codec_items(args, codec)
        _check_stacks(args.out, [p.shape for p in photos], "reconstructions")
        _, decoded = round_trip(codec, photos)
        _write_per_photo(args.out, photo_names(args.data, limit=len(photos)), decoded)
    else:
        write_array(args.out, round_trip(codec, codec_items(args, codec))[1])
    say(f"wrote {args.out} (decoded from the codec's bitstream)")


def _write_per_photo(out: str, names: list[str], arrays: list[np.ndarray]) -> None:
    """A .npz of one array per photo, keyed by its file name; or a .npy of one photo's array (or of
    photos whose arrays share one shape, stacked: see :func:`_check_stacks`)."""
    if out.lower().endswith(".npz"):
        write_npz(out, dict(zip(names, arrays)))
    else:
        write_array(out, arrays[0] if len(arrays) == 1 else np.stack(arrays))


def _check_stacks(out: str, shapes: list[tuple[int, ...]], what: str) -> None:
    """Refuse, before the work, a .npy for photos whose arrays (of ``shapes``) differ in shape."""
    if out.lower().endswith(".npy") and len(set(shapes)) > 1:
        raise DataError(
            f"--out {out}: the {len(shapes)} photos give {what} of different shapes ({_shapes(shapes)}), "
            "which do not stack into one .npy: write a .npz (one array per photo, by file name)"
        )


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    unique = list(dict.fromkeys(shapes))
    return ", ".join(map(str, unique[:3])) + (", ..." if len(unique) > 3 else "")
