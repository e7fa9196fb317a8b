"""The cloud side: a FastAPI decode service (``aekit serve``).

Models are loaded once, in the app's lifespan, and chosen per request by the
model id in the stream (the first bytes of the model's fingerprint).
``POST /v1/decode`` takes an ``application/octet-stream`` bitstream and answers
the reconstruction as ``.npy`` (``application/x-npy``) or, with
``Accept: image/png``, as a PNG (a grid for several items). Errors are JSON
(``{"detail": ...}``): 400 corrupt stream, 404 unknown model, 413 body or decoded
answer too large, 415 wrong content type; the service keeps serving. Schema at ``/openapi.json``.
A model is served only if it decodes a stream of its own at start-up (tables present and valid).

Small messages that reach the decoder in the same turn of the event loop are
decoded together (:class:`Batcher`): one request decodes alone, a burst of
concurrent ones shares a single pass of g_s.
"""

from __future__ import annotations

import asyncio
import io as _io
import math
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from ..errors import BitstreamError, CheckpointError
from . import bitstream
from .images import png_bytes
from .model import Codec

__all__ = ["create_app", "Registry", "Batcher", "DEFAULT_MAX_BODY", "DEFAULT_MAX_OUTPUT"]

DEFAULT_MAX_BODY = 16 << 20
DEFAULT_MAX_OUTPUT = 64 << 20  # bytes of float32 reconstructions per request
INLINE_SYMBOLS = 1 << 14  # messages up to this many symbols are decoded on the event loop
INLINE_BYTES = 1 << 20  # answers up to this many bytes are written (.npy, PNG) on the event loop
NPY = "application/x-npy"
PNG = "image/png"


class Registry:
    """Loaded codecs by model id (the first bytes of the fingerprint, as written in each stream)."""

    def __init__(self, codecs=()):
        self.codecs: dict[bytes, Codec] = {}
        self.paths: dict[bytes, str] = {}
        for codec in codecs:
            self.add(codec)

    def add(self, codec: Codec, path: str | None = None) -> None:
        _self_test(codec, path)
        key = codec.model_id
        if key in self.codecs:
            same = "the same model" if self.codecs[key].fingerprint == codec.fingerprint else "two models"
            raise ValueError(
                f"{same} with model id {key.hex()}: {self.paths.get(key)} and {path}; "
                "serve one of them (retrain or fine-tune the other to change its fingerprint)"
            )
        self.codecs[key] = codec.eval()
        self.paths[key] = path

    @classmethod
    def from_dirs(cls, dirs) -> Registry:
        registry = cls()
        for d in dirs:
            registry.add(Codec.load(d), str(d))
        return registry


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


class Batcher:
    """Decodes the symbols of the requests that reach it in one event-loop turn with a single g_s call.

    Decoding one item is memory-bound: every request reads all the decoder's weights to make one
    row (megabytes for a 784-1024-512-32 model). Under concurrent load many requests are parsed in
    the same turn of the loop; each one queues its integer symbols here and the first schedules a
    flush for the next turn (``call_soon``: no timer, so a lone request waits for nothing), which
    stacks the symbols, runs :meth:`Codec.dequantize` once and hands each request its rows.
    A batch's reconstructions can differ from the same streams decoded one by one in the last
    bits of float32 (the matrix product's summation order); the symbols are exact either way.
    """

    def __init__(self, codec: Codec, max_symbols: int = INLINE_SYMBOLS):
        self.codec = codec
        self.max_symbols = max_symbols
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.size = 0
        self.batches = self.items = 0  # counters, for tests and curious operators

    async def decode(self, symbols: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.pending:
            loop.call_soon(self.flush)
        self.pending.append((symbols, future))
        self.size += symbols.size
        if self.size >= self.max_symbols:  # bound the batch: decode now, the scheduled flush finds it empty
            self.flush()
        return await future

    def flush(self) -> None:
        batch, self.pending, self.size = self.pending, [], 0
        if not batch:
            return
        self.batches, self.items = self.batches + 1, self.items + len(batch)
        try:
            rows = self.codec.dequantize(np.concatenate([symbols for symbols, _ in batch]))
        except Exception as err:  # every waiting request learns of it; the service stays up
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        start = 0
        for symbols, future in batch:
            if not future.done():  # a client that went away leaves a cancelled future
                future.set_result(rows[start : start + len(symbols)])
            start += len(symbols)


class ModelInfo(BaseModel):
    model_id: str
    fingerprint: str
    input_shape: list[int]
    latent_shape: list[int]
    image_shape: list[int] | None


class Health(BaseModel):
    status: str
    models: int


def create_app(
    models=(),
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
        Decode small concurrent requests together (:class:`Batcher`); False decodes each alone.
    """
    for name, value in (("max_body", max_body), ("max_output", max_output)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    models = list(models)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        registry = Registry()
        for m in models:
            if isinstance(m, Codec):
                registry.add(m)
            else:
                registry.add(Codec.load(m), str(Path(m)))
        app.state.registry = registry
        app.state.batchers = (
            {key: Batcher(codec) for key, codec in registry.codecs.items()} if batching else {}
        )
        yield

    app = FastAPI(
        title="aekit decode service",
        version="1",
        description="Decodes aekit codec bitstreams (docs/bitstream.md) into reconstructions.",
        lifespan=lifespan,
    )

    def get_registry(request: Request) -> Registry:
        return request.app.state.registry

    @app.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz(registry: Registry = Depends(get_registry)) -> Health:
        return Health(status="ok", models=len(registry.codecs))

    @app.get("/v1/models", response_model=list[ModelInfo], summary="Loaded models")
    async def list_models(registry: Registry = Depends(get_registry)) -> list[ModelInfo]:
        return [
            ModelInfo(
                model_id=key.hex(),
                fingerprint=c.fingerprint.hex(),
                input_shape=list(c.input_shape),
                latent_shape=list(c.latent_shape),
                image_shape=None if c.image_shape is None else list(c.image_shape),
            )
            for key, c in registry.codecs.items()
        ]

    @app.post(
        "/v1/decode",
        summary="Decode a bitstream",
        responses={
            200: {
                "content": {NPY: {}, PNG: {}},
                "description": "The reconstructions, (N, *input_shape) float32 .npy, or a PNG",
            },
            400: {"description": "Corrupt, truncated or wrong-version bitstream"},
            404: {"description": "No loaded model has the stream's model id"},
            413: {"description": "Body, or the decoded answer, too large"},
            415: {"description": "Content type is not application/octet-stream"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def decode(request: Request, registry: Registry = Depends(get_registry)) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/octet-stream":
            raise HTTPException(
                415, f"expected Content-Type application/octet-stream, got {content_type or 'none'!r}"
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise HTTPException(413, f"body of {declared} bytes exceeds the limit of {max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                raise HTTPException(413, f"body exceeds the limit of {max_body} bytes")
        try:
            header, _ = bitstream.read_header(bytes(body))
            codec = registry.codecs.get(header.model_id)
            if codec is None:
                raise HTTPException(
                    404,
                    f"no loaded model has id {header.model_id.hex()}; "
                    f"loaded: {', '.join(key.hex() for key in registry.codecs) or 'none'}",
                )
            item = math.prod(codec.input_shape) * 4  # bytes of one float32 item
            if header.count * item > max_output:
                raise HTTPException(
                    413,
                    f"the stream holds {header.count} items, {header.count * item} bytes "
                    f"decoded; the limit is {max_output} bytes ({max_output // item} items "
                    "of this model): send fewer items per request",
                )
            batcher = request.app.state.batchers.get(header.model_id)
            if (
                header.count * header.latent_size > INLINE_SYMBOLS
            ):  # a big message must not stall the event loop
                X = await run_in_threadpool(codec.decompress, bytes(body))
            elif batcher is not None:  # symbols now (400 if corrupt), g_s with the turn's others
                X = await batcher.decode(codec.decompress_symbols(bytes(body)))
            else:  # sub-millisecond: no thread hop
                X = codec.decompress(bytes(body))
        except BitstreamError as err:
            raise HTTPException(400, str(err)) from None
        png = _wants_png(request.headers.get("accept", ""))
        if png and codec.image_shape is None:
            raise HTTPException(
                406, f"items of shape {codec.input_shape} cannot be drawn as PNG; ask for {NPY}"
            )
        if X.nbytes > INLINE_BYTES:  # a big answer is written off the event loop too
            content = await run_in_threadpool(_render, X, codec.image_shape if png else None)
        else:
            content = _render(X, codec.image_shape if png else None)
        return Response(content, media_type=PNG if png else NPY)

    return app


def _render(X: np.ndarray, image_shape) -> bytes:
    """The answer's bytes: a PNG of ``image_shape`` images, or ``.npy`` when ``image_shape`` is None."""
    if image_shape is not None:
        return png_bytes(X, image_shape)
    buffer = _io.BytesIO()
    np.save(buffer, X, allow_pickle=False)
    return buffer.getvalue()


def _wants_png(accept: str) -> bool:
    """PNG if the Accept header rates image/png above 0 and no lower than .npy; else .npy.

    Each media range may carry ``;q=`` (0..1, default 1; anything else counts as 0);
    ``application/*`` and ``*/*`` rate .npy too.
    """
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                q = _float(value)
        quality[media] = max(q if 0 <= q <= 1 else 0.0, quality.get(media, 0.0))
    npy = max(quality.get(NPY, 0.0), quality.get("application/*", 0.0), quality.get("*/*", 0.0))
    return quality.get(PNG, 0.0) > 0 and quality.get(PNG, 0.0) >= npy


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return -1.0
