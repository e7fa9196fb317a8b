"""What the decode service's routes share: the loaded models, their batchers and the limits.

Built once when the app starts (its lifespan) and handed to each route by the dependency
:func:`get_service`, which tests may override (``app.dependency_overrides[get_service]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fastapi import Request

from ..pixels import STRIDE
from ..tiling import DEFAULT_TILE, SYNTHESIS_MARGIN
from .admission import DEFAULT_MAX_MEMORY, DEFAULT_WAIT, Admission, work_bytes
from .batching import Batcher
from .models import Registry, item_work, pixel_work

__all__ = ["Service", "get_service", "DEFAULT_MAX_BODY", "DEFAULT_MAX_OUTPUT", "DEFAULT_MAX_ITEMS"]

DEFAULT_MAX_BODY = 16 << 20
DEFAULT_MAX_OUTPUT = 64 << 20  # bytes of float32 reconstructions per request
DEFAULT_MAX_ITEMS = 1 << 14  # items per request (a stream may hold 65 536)
DEFAULT_BODY_TIMEOUT = 30.0  # seconds to receive a whole body


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
    max_items : int
        Most items in one request (413 beyond, before decoding).
    body_timeout : float
        Seconds to receive a whole body (408 beyond).
    admission : Admission
        The memory budget the requests in flight share (503 while full, 413 above it).
    work : dict of bytes to float
        Peak bytes of decoding, per item of each codec and per pixel of each photo codec, by model id.
    tile : int
        Photos are synthesised by tiles of this many pixels with context (0: all at once;
        :mod:`aekit.codec.tiling`).
    """

    registry: Registry
    batchers: dict[bytes, Batcher] = field(default_factory=dict)
    max_body: int = DEFAULT_MAX_BODY
    max_output: int = DEFAULT_MAX_OUTPUT
    tile: int = DEFAULT_TILE
    max_items: int = DEFAULT_MAX_ITEMS
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    admission: Admission = field(default_factory=Admission)
    work: dict[bytes, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        registry: Registry,
        *,
        batching: bool = True,
        max_memory: int = DEFAULT_MAX_MEMORY,
        wait: float = DEFAULT_WAIT,
        **limits: float,
    ) -> Service:
        """The service of ``registry``'s models, with a :class:`Batcher` each if ``batching``, sharing a
        memory budget of ``max_memory`` bytes (requests wait for room at most ``wait`` seconds)."""
        batchers = {key: Batcher(codec) for key, codec in registry.codecs.items()} if batching else {}
        service = cls(registry, batchers, admission=Admission(max_memory, wait), **limits)  # type: ignore[arg-type]
        for key in [*registry.codecs, *registry.photos]:
            service.work_of(key)  # measured now, not on a first request
        return service

    def work_of(self, key: bytes) -> float:
        """Peak bytes of decoding one item (a codec) or one pixel (a photo codec) of model ``key``."""
        if key not in self.work:
            codec = self.registry.codecs.get(key)
            self.work[key] = (
                float(item_work(codec)) if codec is not None else pixel_work(self.registry.photos[key])
            )
        return self.work[key]

    def photo_work(self, key: bytes, height: int, width: int) -> int:
        """Peak bytes of decoding an H×W photo of model ``key``: g_s's activations over one tile with its
        context (:mod:`aekit.codec.tiling`; the whole photo when ``tile`` is 0 or the photo is smaller),
        plus what the whole photo holds at once (its symbols and its pixels, :func:`.work_bytes`)."""
        per_pixel = self.work_of(key)  # a photo decoded whole, per pixel
        pixels = height * width
        if not self.tile:
            return math.ceil(pixels * per_pixel)
        side = self.tile + 2 * SYNTHESIS_MARGIN * STRIDE
        region = min(height, side) * min(width, side)
        codec = self.registry.photos[key]
        whole = work_bytes(1, math.ceil(pixels / STRIDE**2) * codec.M, pixels * codec.channels, 0)
        return math.ceil(min(pixels * per_pixel, whole + region * per_pixel))  # a photo of one tile: whole


async def get_service(request: Request) -> Service:
    """The app's :class:`Service` (the dependency every route takes; async: no thread hop per request)."""
    return request.app.state.service
