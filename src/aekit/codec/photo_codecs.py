"""The photo codec classes, and loading whichever one a checkpoint directory holds.

:class:`~aekit.codec.PhotoCodec` (factorized prior, streams of format version 3) and
:class:`~aekit.codec.HyperpriorCodec` (scale hyperprior, version 4) share their coding
interface (``compress``, ``decompress``, ``channels``, ``model_id``...); the CLI and the
service load either by the class named in the checkpoint's ``config.json``.
"""

from __future__ import annotations

import os

import torch

from ..errors import CheckpointError
from ..io import read_config
from .hyperprior import HyperpriorCodec
from .photo import PhotoCodec

__all__ = ["PHOTO_CODECS", "PhotoCodecs", "is_photo_codec", "load_photo_codec"]

PhotoCodecs = PhotoCodec | HyperpriorCodec
PHOTO_CODECS: dict[str, type[PhotoCodec] | type[HyperpriorCodec]] = {
    PhotoCodec.__name__: PhotoCodec,
    HyperpriorCodec.__name__: HyperpriorCodec,
}


def is_photo_codec(path: str | os.PathLike) -> bool:
    """Whether the checkpoint directory ``path`` holds a photo codec (of either class)."""
    return read_config(path).get("class") in PHOTO_CODECS


def load_photo_codec(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> PhotoCodecs:
    """The photo codec saved in ``path``, of the class its config.json names (CheckpointError otherwise)."""
    name = read_config(path).get("class")
    cls = PHOTO_CODECS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CheckpointError(f"{path} holds a {name!r}, not a photo codec ({', '.join(PHOTO_CODECS)})")
    return cls.load(path, device=device)
