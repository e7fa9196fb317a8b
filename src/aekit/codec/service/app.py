"""The decode service as a FastAPI app (``aekit serve``): models loaded once, routes in :mod:`.routes`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..model import Codec
from ..photo import PhotoCodec
from ..tiling import DEFAULT_TILE, check_tile
from .docs import add_docs
from .models import load_models
from .routes import router
from .state import DEFAULT_MAX_BODY, DEFAULT_MAX_OUTPUT, Service

__all__ = ["create_app"]


def create_app(
    models: Iterable[str | Path | Codec | PhotoCodec] = (),
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_output: int = DEFAULT_MAX_OUTPUT,
    threads: int | None = 1,
    batching: bool = True,
    tile: int = DEFAULT_TILE,
) -> FastAPI:
    """The decode service for ``models`` (codec directories or loaded :class:`Codec` objects).

    Parameters
    ----------
    models : sequence of path or Codec
        Loaded once when the app starts (its lifespan), not per request.
    max_body : int
        Largest accepted request body in bytes (413 beyond).
    max_output : int
        Largest answer in bytes, before decoding (413 beyond): float32 reconstructions of items,
        items × item size × 4, or a photo's uint8 pixels H × W × C (its floats exist one tile at a time).
    threads : int, optional
        torch intra-op threads for decoding (1 suits many small concurrent requests).
    batching : bool
        Decode small concurrent requests together (:class:`~.batching.Batcher`); False decodes each alone.
    tile : int
        Photos are synthesised by tiles of this many pixels with context, in bounded memory
        (0: all at once; :mod:`aekit.codec.tiling`).
    """
    tile = check_tile(tile)
    for name, value in (("max_body", max_body), ("max_output", max_output)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    models = list(models)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        registry = load_models(models)
        app.state.service = Service.start(
            registry, batching=batching, max_body=max_body, max_output=max_output, tile=tile
        )
        yield

    app = FastAPI(
        title="aekit decode service",
        version="1",
        description="Decodes aekit codec bitstreams (docs/bitstream.md) into reconstructions.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: blank offline; /docs is our own page
        redoc_url=None,
    )
    app.include_router(router)
    add_docs(app)
    return app
