"""The codecs a decode service serves, by model id (the first bytes of each fingerprint)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ...errors import CheckpointError
from ..hyperprior import HyperpriorCodec
from ..model import Codec
from ..photo import PhotoCodec
from ..photo_codecs import PhotoCodecs, is_photo_codec, load_photo_codec

__all__ = ["Registry", "load_models"]


class Registry:
    """Loaded codecs by model id (the first bytes of the fingerprint, as written in each stream):
    ``codecs`` of fixed-shape items (format version 2) and ``photos`` (photo codecs: factorized,
    version 3, and hyperprior, version 4)."""

    def __init__(self, codecs: Iterable[Codec | PhotoCodecs] = ()):
        self.codecs: dict[bytes, Codec] = {}
        self.photos: dict[bytes, PhotoCodecs] = {}
        self.paths: dict[bytes, str | None] = {}
        for codec in codecs:
            self.add(codec)

    def add(self, codec: Codec | PhotoCodecs, path: str | None = None) -> None:
        """Serve ``codec`` (from ``path``) after it decoded a stream of its own; ValueError on an id clash."""
        if isinstance(codec, (PhotoCodec, HyperpriorCodec)):
            _self_test_photo(codec, path)
        else:
            _self_test(codec, path)
        key = codec.model_id
        known = self.codecs.get(key) or self.photos.get(key)
        if known is not None:
            same = "the same model" if known.fingerprint == codec.fingerprint else "two models"
            raise ValueError(
                f"{same} with model id {key.hex()}: {self.paths.get(key)} and {path}; "
                "serve one of them (retrain or fine-tune the other to change its fingerprint)"
            )
        if isinstance(codec, (PhotoCodec, HyperpriorCodec)):
            self.photos[key] = codec.eval()
        else:
            self.codecs[key] = codec.eval()
        self.paths[key] = path

    @classmethod
    def from_dirs(cls, dirs: Iterable[str | Path]) -> Registry:
        """Load and check the codec directories ``dirs``."""
        return load_models(dirs)


def load_models(models: Iterable[str | Path | Codec | PhotoCodecs]) -> Registry:
    """A :class:`Registry` of ``models``: codec directories (loaded here) or loaded codecs."""
    registry = Registry()
    for m in models:
        if isinstance(m, (Codec, PhotoCodec, HyperpriorCodec)):
            registry.add(m)
        elif is_photo_codec(m):
            registry.add(load_photo_codec(m), str(Path(m)))
        else:
            registry.add(Codec.load(m), str(Path(m)))
    return registry


def _self_test_photo(codec: PhotoCodecs, path: str | None) -> None:
    """Refuse a photo codec without tables or one that cannot decode a 16×16 photo of its own."""
    where = path or f"model {codec.model_id.hex()}"
    if not codec.updated:
        raise CheckpointError(
            f"{where}: the photo codec has no entropy tables: call update() and save it again"
        )
    try:
        codec.eval().decompress(codec.compress(np.zeros((16, 16, codec.channels), np.uint8)))
    except Exception as err:
        raise CheckpointError(f"{where}: the codec fails to decode a stream of its own ({err})") from err


def _self_test(codec: Codec, path: str | None) -> None:
    """Refuse a codec that cannot decode a stream of its own: a fault of the server, not of its clients."""
    where = path or f"model {codec.model_id.hex()}"
    if not codec.updated:
        raise CheckpointError(
            f"{where}: the codec has no entropy tables (saved before update()): "
            "call codec.update() and save it again"
        )
    probe = np.zeros((1, *codec.input_shape), dtype=np.float32)
    try:
        codec.eval().decompress(codec.compress(probe))
    except Exception as err:
        raise CheckpointError(f"{where}: the codec fails to decode a stream of its own ({err})") from err
