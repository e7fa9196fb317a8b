"""The decode service as a FastAPI app (``aekit serve``): models loaded once, routes in :mod:`.routes`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..model import Codec
from ..photo_codecs import PhotoCodecs
from .models import load_models
from .routes import router
from .state import DEFAULT_MAX_BODY, DEFAULT_MAX_OUTPUT, Service

__all__ = ["create_app"]


def create_app(
    models: Iterable[str | Path | Codec | PhotoCodecs] = (),
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_output: int = DEFAULT_MAX_OUTPUT,
    threads: int | None = 1,
    batching: bool = True,
) -> FastAPI:
    """The decode service for ``models`` (codec directories or loaded :class:`Codec` objects).

    Parameters
    ----------
    models : sequence of path or Codec
        Loaded once when the app starts (its lifespan), not per request.
    max_body : int
        Largest accepted request body in bytes (413 beyond).
    max_output : int
        Largest answer in bytes of float32 reconstructions, items × item size × 4 (413 beyond,
        before decoding).
    threads : int, optional
        torch intra-op threads for decoding (1 suits many small concurrent requests).
    batching : bool
        Decode small concurrent requests together (:class:`~.batching.Batcher`); False decodes each alone.
    """
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
            registry, batching=batching, max_body=max_body, max_output=max_output
        )
        yield

    app = FastAPI(
        title="aekit decode service",
        version="1",
        description="Decodes aekit codec bitstreams (docs/bitstream.md) into reconstructions.",
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
