"""What the decode service's routes share: the loaded models, their batchers and the limits.

Built once when the app starts (its lifespan) and handed to each route by the dependency
:func:`get_service`, which tests may override (``app.dependency_overrides[get_service]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from ..tiling import DEFAULT_TILE
from .batching import Batcher
from .models import Registry

__all__ = ["Service", "get_service", "DEFAULT_MAX_BODY", "DEFAULT_MAX_OUTPUT"]

DEFAULT_MAX_BODY = 16 << 20
DEFAULT_MAX_OUTPUT = 64 << 20  # bytes of float32 reconstructions per request


@dataclass
class Service:
    """The loaded models and the limits of one decode service.

    Attributes
    ----------
    registry : Registry
        The codecs served, by model id.
    batchers : dict of bytes to Batcher
        One per model when concurrent small requests are decoded together; empty otherwise.
    max_body : int
        Largest accepted request body in bytes (413 beyond).
    max_output : int
        Largest answer in bytes (413 beyond, before decoding): float32 reconstructions of items, or
        the uint8 pixels of a photo (H·W·C; its floats exist one tile at a time).
    tile : int
        Photos are synthesised by tiles of this many pixels with context (0: all at once;
        :mod:`aekit.codec.tiling`).
    """

    registry: Registry
    batchers: dict[bytes, Batcher] = field(default_factory=dict)
    max_body: int = DEFAULT_MAX_BODY
    max_output: int = DEFAULT_MAX_OUTPUT
    tile: int = DEFAULT_TILE

    @classmethod
    def start(cls, registry: Registry, *, batching: bool = True, **limits: int) -> Service:
        """The service of ``registry``'s models, with a :class:`Batcher` each if ``batching``."""
        batchers = {key: Batcher(codec) for key, codec in registry.codecs.items()} if batching else {}
        return cls(registry, batchers, **limits)


async def get_service(request: Request) -> Service:
    """The app's :class:`Service` (the dependency every route takes; async: no thread hop per request)."""
    return request.app.state.service
