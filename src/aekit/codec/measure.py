"""What a codec directory reports: its rate-distortion point from real bitstreams, and its reconstructions.

A codec is measured through the bytes it writes, never through a likelihood estimate: the items
are compressed (:meth:`Codec.compress`: all of X in one message; :meth:`PhotoCodec.compress`: one
stream per photo), decompressed, and compared with the originals:

    bytes per item = len(stream) / N,   bpp = 8 · bytes / (H · W)  (photos),
    PSNR = 10 · log10(peak² / MSE)  per item, averaged  (:func:`aekit.metrics.psnr`; peak 1, or 255
    for 8-bit photos).

``aekit evaluate``, ``aekit report`` and ``aekit plot codes`` use these on codec directories
(``aekit codec train``, the shipped photo codecs and ``--model conv`` runs); ``aekit encode`` and
``aekit reconstruct`` write the symbols ŷ (:func:`photo_symbols`) and the reconstructions of
:func:`round_trip`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, metrics
from . import pixels
from .hyperprior import HyperpriorCodec
from .model import Codec
from .photo import PhotoCodec
from .photo_codecs import PHOTO_CODECS, PhotoCodecs, load_photo_codec

__all__ = [
    "CODEC_CLASSES",
    "codec_class",
    "load_codec",
    "photo_names",
    "photo_symbols",
    "read_photos",
    "rd_point",
    "round_trip",
    "symbols",
    "draw_reconstructions",
]

CODEC_CLASSES = ("Codec", *PHOTO_CODECS)
AnyCodec = Codec | PhotoCodecs
PHOTO_CLASSES = (PhotoCodec, HyperpriorCodec)


def codec_class(path: str | os.PathLike) -> str | None:
    """The codec's class name (one of :data:`CODEC_CLASSES`) when ``path`` is a checkpoint directory of a
    codec, else None."""
    if not (Path(path) / io.CONFIG).is_file():
        return None
    cls = io.read_config(path).get("class")
    return cls if cls in CODEC_CLASSES else None


def load_codec(path: str | os.PathLike) -> AnyCodec:
    """The codec saved in ``path`` (:meth:`Codec.load`, or a photo codec's ``load``; tables checked)."""
    return load_photo_codec(path) if codec_class(path) in PHOTO_CODECS else Codec.load(Path(path))


def read_photos(path: str | os.PathLike, channels: int, *, limit: int | None = None) -> list[np.ndarray]:
    """The photos of a file or a directory (sorted by name, at most ``limit``) as uint8 (H, W, channels)."""
    from .photo_training import PhotoSet

    path = Path(path)
    if path.is_dir():
        return PhotoSet.from_directory(path, channels, limit=limit).images
    return [pixels.read_image(path, channels)]


def photo_names(path: str | os.PathLike, *, limit: int | None = None) -> list[str]:
    """The file names of the photos :func:`read_photos` reads from ``path``, in its order."""
    from .photo_training import photo_files

    path = Path(path)
    return [p.name for p in photo_files(path, limit=limit)] if path.is_dir() else [path.name]


def round_trip(codec: AnyCodec, X: Any) -> tuple[list[bytes], Any]:
    """``(streams, reconstructions)`` of ``X`` through real bitstreams: a dense codec writes one stream
    for all of X (N, *input_shape) and gives x̂ (N, *input_shape); a photo codec one stream per photo
    of the list X, and gives a list of uint8 photos."""
    if isinstance(codec, PHOTO_CLASSES):
        streams = [codec.compress(photo) for photo in X]
        return streams, [codec.decompress(data) for data in streams]
    data = codec.compress(X)
    return [data], codec.decompress(data)


def rd_point(codec: AnyCodec, X: Any) -> dict:
    """The rate-distortion point of ``X``: ``{"n", "bytes", "bytes_per_item", "psnr_db", "mse"}``, and
    ``"bpp"`` for photos (see the module docstring)."""
    return _rd_point(codec, X, *round_trip(codec, X))


def _rd_point(codec: AnyCodec, X: Any, streams: list[bytes], recon: Any) -> dict:
    n_bytes = sum(len(s) for s in streams)
    if isinstance(codec, PHOTO_CLASSES):
        pixels_in_all = sum(p.shape[0] * p.shape[1] for p in X)
        scores = [_photo_scores(x, z) for x, z in zip(X, recon)]
        return {
            "n": len(X),
            "bytes": n_bytes,
            "bytes_per_item": n_bytes / len(X),
            "bpp": 8 * n_bytes / pixels_in_all,
            "psnr_db": float(np.mean([p for p, _ in scores])),
            "mse": float(np.mean([m for _, m in scores])),
        }
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    Z = np.asarray(recon, dtype=np.float32).reshape(len(X), -1)
    if codec.unit_interval:
        Z = np.clip(Z, 0, 1)  # the items are in [0, 1], and so are the pixels a user sees
    return {
        "n": len(X),
        "bytes": n_bytes,
        "bytes_per_item": n_bytes / len(X),
        "psnr_db": float(metrics.psnr(X, Z)),
        "mse": metrics.mse(X, Z),
    }


def _photo_scores(x: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """PSNR (peak 255) and MSE (on [0, 1]) of one uint8 photo and its reconstruction."""
    a, b = x.reshape(1, -1).astype(np.float64), z.reshape(1, -1).astype(np.float64)
    return float(metrics.psnr(a, b, 255.0)), metrics.mse(a / 255, b / 255)


def symbols(codec: AnyCodec, X: Any) -> np.ndarray:
    """The integer symbols ŷ the codec writes for ``X``, one row per item (per code position of every
    photo for a photo codec: (Σ h·w, M)), for histograms of the code."""
    if isinstance(codec, PHOTO_CLASSES):
        return np.concatenate([photo_symbols(codec, photo).reshape(codec.M, -1).T for photo in X])
    return codec.symbols(X)


def photo_symbols(codec: PhotoCodecs, photo: np.ndarray) -> np.ndarray:
    """ŷ of one photo as int64 (M, h, w), h·w = ⌈H/16⌉·⌈W/16⌉: the latent symbols its stream carries
    (a hyperprior codec's stream also carries ẑ, its side information)."""
    if isinstance(codec, HyperpriorCodec):
        return codec.symbols(photo)[2]
    h, w = pixels.latent_size(*photo.shape[:2])
    return codec.tables.quantize(codec.latents(photo)).T.reshape(codec.M, h, w)


def draw_reconstructions(codec: AnyCodec, X: Any, path: str | os.PathLike, *, n: int = 10) -> Path:
    """A figure of the first ``n`` items of ``X`` above their reconstructions through the bitstream, titled
    with the rate and PSNR of those items (``ValueError`` for items that cannot be drawn as images)."""
    from .. import viz

    X = X[:n]
    streams, recon = round_trip(codec, X)
    point = _rd_point(codec, X, streams, recon)
    rows: dict[str, Any]  # photos of different sizes: lists of images
    if isinstance(codec, PHOTO_CLASSES):
        rows = {"input": [x / 255.0 for x in X], "decoded": [z / 255.0 for z in recon]}
        rate = f"{point['bpp']:.3f} bpp"
    else:
        shape = codec.image_shape or viz.image_shape(codec.input_shape)
        rows = {"input": np.reshape(X, (len(X), *shape)), "decoded": np.reshape(recon, (len(X), *shape))}
        rate = f"{point['bytes_per_item']:.2f} bytes/item"
    title = f"through the bitstream: {rate}, PSNR {point['psnr_db']:.2f} dB"
    return viz.reconstruction_grid(rows, path, n=n, title=title)
