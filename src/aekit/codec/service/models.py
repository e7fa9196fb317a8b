"""The codecs a decode service serves, by model id (the first bytes of each fingerprint)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from ...errors import CheckpointError
from ..hyperprior import HyperpriorCodec
from ..model import Codec
from ..photo import PhotoCodec
from ..photo_codecs import PhotoCodecs, is_photo_codec, load_photo_codec
from ..pixels import STRIDE
from .admission import work_bytes

__all__ = ["Registry", "load_models", "item_work", "pixel_work"]


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


def item_work(codec: Codec) -> int:
    """Peak bytes of decoding one item (:func:`~.admission.work_bytes`), g_s's activations measured."""
    one, more = (_activation_floats(codec.decode, torch.zeros(n, codec.latent_size)) for n in (1, 65))
    floats = max(1, (more - one) // 64)  # per item: what does not grow with N (views of weights) cancels
    return work_bytes(1, codec.latent_size, int(np.prod(codec.input_shape)), floats)


def pixel_work(codec: PhotoCodecs) -> float:
    """Peak bytes of decoding a photo, per pixel (H·W): g_s's activations measured on a 64×64 photo,
    its symbols (M per 16×16 block) and the image in float32, uint8 and PNG."""
    side = 4  # latent positions per side of the probe
    one, more = (_activation_floats(codec.g_s, torch.zeros(1, codec.M, s, side)) for s in (side, 2 * side))
    pixels = (side * STRIDE) ** 2
    floats = max(1, more - one)  # the probe's pixels: what does not grow with them cancels
    return work_bytes(1, codec.M * side * side, codec.channels * pixels, floats) / pixels


@torch.no_grad()
def _activation_floats(g_s: Callable[[torch.Tensor], object], probe: torch.Tensor) -> int:
    """Elements of every tensor the operators of ``g_s(probe)`` make (views of the weights too): a bound
    on what it holds at once."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            Count.total += sum(t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor))
            return out

    with Count():
        g_s(probe)
    return Count.total
