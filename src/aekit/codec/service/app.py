"""The decode service as a FastAPI app (``aekit serve``): models loaded once, routes in :mod:`.routes`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..model import Codec
from ..photo_codecs import PhotoCodecs
from ..tiling import DEFAULT_TILE, check_tile
from .admission import DEFAULT_MAX_MEMORY, DEFAULT_WAIT, give_back_memory
from .docs import add_docs
from .models import load_models
from .routes import router
from .state import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MAX_ITEMS, DEFAULT_MAX_OUTPUT, Service

__all__ = ["create_app", "DESCRIPTION"]

DESCRIPTION = """Decodes aekit codec bitstreams (docs/bitstream.md) into reconstructions.

Besides the answers each route declares, the framework and the server answer: 404 to an unknown
path and 405 to a method a path does not take (JSON `{"detail": ...}`); 408 when a request's
headers do not arrive within `--header-timeout` seconds (the connection is then closed); 431
when they exceed 64 KiB (closed too); 503 to a connection or request beyond `--max-connections`. A request that would exceed the memory
budget (`--max-memory-mib`) waits for room, then gets 503 with `Retry-After`."""


def create_app(
    models: Iterable[str | Path | Codec | PhotoCodecs] = (),
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_output: int = DEFAULT_MAX_OUTPUT,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_memory: int = DEFAULT_MAX_MEMORY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    wait: float = DEFAULT_WAIT,
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
    max_items : int
        Most items in one request (413 beyond, before decoding).
    max_memory : int
        Bytes the requests in flight may hold together (bodies and the estimated peak of their
        decoding, :mod:`.admission`): a request waits up to ``wait`` seconds for room, then gets 503
        with Retry-After; one that needs more than all of it gets 413.
    body_timeout : float
        Seconds to receive a whole body (408 beyond). Headers are timed out by the server
        (:func:`~.server.serve`), not by the app.
    wait : float
        Seconds a request waits for room in ``max_memory``.
    threads : int, optional
        torch intra-op threads for decoding (1 suits many small concurrent requests).
    batching : bool
        Decode small concurrent requests together (:class:`~.batching.Batcher`); False decodes each alone.
    tile : int
        Photos are synthesised by tiles of this many pixels with context, in bounded memory
        (0: all at once; :mod:`aekit.codec.tiling`).
    """
    tile = check_tile(tile)
    for name, value in (
        ("max_body", max_body),
        ("max_output", max_output),
        ("max_items", max_items),
        ("max_memory", max_memory),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    for name, seconds in (("body_timeout", body_timeout), ("wait", wait)):
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {seconds!r}")
    if max_body > max_memory:
        raise ValueError(f"max_body ({max_body} bytes) must not exceed max_memory ({max_memory} bytes)")
    models = list(models)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        registry = load_models(models)
        give_back_memory()
        app.state.service = Service.start(
            registry,
            batching=batching,
            max_memory=max_memory,
            wait=wait,
            max_body=max_body,
            max_output=max_output,
            max_items=max_items,
            body_timeout=body_timeout,
            tile=tile,
        )
        # the ~300 000 objects of torch, FastAPI and the models live as long as the service: a full
        # collection walking them all took 0.1-0.5 s, every few thousand requests (the p99 of issue 18);
        # frozen, the collector only walks what requests make (no collection first: it would hold the GIL
        # for as long, and uvicorn's worker health check (--workers) waits 5 s at most for an answer)
        gc.freeze()
        yield
        gc.unfreeze()

    app = FastAPI(
        title="aekit decode service",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: blank offline; /docs is our own page
        redoc_url=None,
    )
    app.include_router(router)
    add_docs(app)
    return app
