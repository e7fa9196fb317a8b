"""Codec directories in the generic commands: ``aekit evaluate``, ``plot recon|codes`` and ``report``.

A codec (``aekit codec train``, a photo codec run's ``export`` folder, a shipped photo codec) is
measured through real bitstreams (:mod:`aekit.codec.measure`): bytes per item and PSNR.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from ..errors import DataError
from .common import load_data


def codec_class(path: str | os.PathLike) -> str | None:
    """``"Codec"`` / ``"PhotoCodec"`` when ``path`` holds a codec, else None (any other model)."""
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
    from ..codec.measure import read_photos
    from ..codec.photo import PhotoCodec

    if isinstance(codec, PhotoCodec):
        if not os.path.exists(args.data):
            raise DataError(
                f"a photo codec is measured on photos: --data must be a photo or a directory of photos, "
                f"got --data {args.data}"
            )
        return read_photos(args.data, codec.channels, limit=limit)
    X, _ = load_data(args, flatten=len(codec.input_shape) == 1)
    if limit is not None:
        X = X[:limit]
    if math.prod(X.shape[1:]) != math.prod(codec.input_shape):
        raise DataError(
            f"--data {args.data} holds samples of shape {tuple(X.shape[1:])}, but the codec's items have "
            f"shape {tuple(codec.input_shape)}: give data of the size the codec was trained on"
        )
    return X.reshape(len(X), *codec.input_shape)


def evaluate_codec(args: argparse.Namespace) -> dict:
    """``aekit evaluate`` of a codec: its rate-distortion point on --data from real bitstream bytes."""
    from ..codec.measure import rd_point

    codec = load_codec(args.model_dir)
    result = {"model": type(codec).__name__, **rd_point(codec, codec_items(args, codec))}
    return result


def plot_codec(args: argparse.Namespace, codec: Any) -> None:
    """``aekit plot recon|codes`` of a codec: items above their reconstructions through the bitstream,
    or histograms of the integer symbols ŷ it writes (on at most 5000 items, or 8 photos)."""
    from .. import viz
    from ..codec.measure import draw_reconstructions, symbols
    from ..codec.photo import PhotoCodec
    from .common import UsageError

    if getattr(args, "corruption", None):
        raise UsageError(
            f"--corruption {args.corruption}: a codec is not a denoiser; 'plot recon' of a codec draws "
            "its items decoded from the bitstream, leave out --corruption"
        )
    if args.kind == "recon":
        draw_reconstructions(codec, codec_items(args, codec, limit=args.n or 10), args.out, n=args.n or 10)
        return
    X = codec_items(args, codec, limit=8 if isinstance(codec, PhotoCodec) else 5000)
    viz.code_histograms(
        symbols(codec, X),
        args.out,
        n_units=args.n or 16,
        title=f"integer symbols ŷ written by the codec ({len(X)} items of --data {args.data})",
    )
