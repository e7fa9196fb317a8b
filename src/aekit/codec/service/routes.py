"""The decode service's routes (a FastAPI ``APIRouter``): health, the models, and decoding.

``POST /v1/decode`` takes an ``application/octet-stream`` bitstream (``docs/bitstream.md``)
and answers the reconstructions x̂ = g_s(ŷ) as ``.npy`` or, on request, a PNG. Every status
code a route can answer is declared with it (``responses=``), so ``/openapi.json`` lists them
all; errors are JSON ``{"detail": ...}`` and the service keeps serving after each.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from ...errors import BitstreamError
from .. import bitstream, pixels
from ..hyperprior import HyperpriorCodec
from ..media import DECODE_PATH, NPY, OCTET_STREAM, PNG
from ..model import Codec
from ..photo_codecs import PhotoCodecs
from .admission import Admission, Busy, TooLarge
from .answers import render, wants_png
from .batching import INLINE_SYMBOLS
from .state import Service, get_service

__all__ = ["router", "DECODE_RESPONSES", "Health", "ModelInfo", "Problem"]

INLINE_BYTES = 1 << 20  # answers up to this many bytes are written (.npy, PNG) on the event loop
BINARY = {"schema": {"type": "string", "format": "binary"}}

router = APIRouter()


class Health(BaseModel):
    status: str
    models: int


class ModelInfo(BaseModel):
    """A loaded model; a photo codec's free axes (height, width) are null; kind: items, photo or hyperprior."""

    model_id: str
    fingerprint: str
    input_shape: list[int | None]
    latent_shape: list[int | None]
    image_shape: list[int] | None
    kind: str = "items"


class Problem(BaseModel):
    """The body of every error answer."""

    detail: str


def _error(description: str) -> dict:
    return {"model": Problem, "description": description}


DECODE_RESPONSES: dict[int | str, dict] = {
    200: {
        "description": "The reconstructions: (N, *input_shape) float32 as .npy, or a PNG (a grid for N > 1); "
        "a photo stream (format version 3, or 4: hyperprior) is answered as a PNG",
        "content": {NPY: BINARY, PNG: BINARY},
    },
    400: _error("Corrupt, truncated or wrong-version bitstream"),
    404: _error("No loaded model has the stream's model id"),
    406: _error("Accept asks for a PNG, but the model's items are not images"),
    408: _error("The body did not arrive within the body timeout (the connection is closed)"),
    413: _error("Body, items, decoded answer, or the memory decoding needs, too large"),
    415: _error("Content type is not application/octet-stream"),
    500: _error("The decoder failed on a valid stream (a fault of the server; it keeps serving)"),
    503: {
        **_error("The memory budget is taken by other requests: retry after the Retry-After seconds"),
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    },
}


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz(service: Service = Depends(get_service)) -> Health:
    return Health(status="ok", models=len(service.registry.codecs) + len(service.registry.photos))


@router.get("/v1/models", response_model=list[ModelInfo], summary="Loaded models")
async def list_models(service: Service = Depends(get_service)) -> list[ModelInfo]:
    return [
        ModelInfo(
            model_id=key.hex(),
            fingerprint=c.fingerprint.hex(),
            input_shape=list(c.input_shape),
            latent_shape=list(c.latent_shape),
            image_shape=None if c.image_shape is None else list(c.image_shape),
        )
        for key, c in service.registry.codecs.items()
    ] + [
        ModelInfo(
            model_id=key.hex(),
            fingerprint=p.fingerprint.hex(),
            input_shape=[p.channels, None, None],
            latent_shape=[p.M, None, None],
            image_shape=None,
            kind="hyperprior" if isinstance(p, HyperpriorCodec) else "photo",
        )
        for key, p in service.registry.photos.items()
    ]


@router.post(
    DECODE_PATH,
    summary="Decode a bitstream",
    response_class=Response,  # no media type of its own: 200 lists exactly the two it answers, errors are JSON
    responses=DECODE_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {OCTET_STREAM: BINARY}}},
)
async def decode(request: Request, service: Service = Depends(get_service)) -> Response:
    _check_content_type(request.headers.get("content-type", ""))
    held = _Held(service.admission)
    try:
        await held.add(_declared_length(request, service.max_body), "the body")
        body = await _read_body(request, service.max_body, service.body_timeout)
        if body[1:2] in (bytes([bitstream.IMAGE_VERSION]), bytes([bitstream.HYPER_VERSION])):
            return await _decode_photo(service, body, held)
        header, codec = _find_model(service, body)
        png = wants_png(request.headers.get("accept", ""))
        if png and codec.image_shape is None:
            raise HTTPException(
                406, f"items of shape {codec.input_shape} cannot be drawn as PNG; ask for {NPY}"
            )
        await held.add(
            math.ceil(header.count * service.work_of(header.model_id)), f"a stream of {header.count} items"
        )
        X = await _decode(service, codec, header, body)
        del body
        image_shape = codec.image_shape if png else None
        if X.nbytes > INLINE_BYTES:  # a big answer is written off the event loop
            content = await run_in_threadpool(render, X, image_shape)
        else:
            content = render(X, image_shape)
        del X
        return HeldResponse(content, media_type=PNG if png else NPY, held=held)
    except BaseException:
        held.release()
        raise


class _Held:
    """The bytes one request holds of the service's memory budget (:class:`~.admission.Admission`)."""

    def __init__(self, admission: Admission):
        self.admission, self.nbytes = admission, 0

    async def add(self, nbytes: int, what: str) -> None:
        """Reserve ``nbytes`` more: 413 if more than the whole budget, 503 (``Retry-After``) if no room comes."""
        try:
            await self.admission.acquire(nbytes, what)
        except TooLarge as err:
            raise HTTPException(413, str(err)) from None
        except Busy as err:
            raise HTTPException(503, str(err), headers={"Retry-After": str(err.retry_after)}) from None
        self.nbytes += nbytes

    def release(self) -> None:
        nbytes, self.nbytes = self.nbytes, 0
        if nbytes:
            self.admission.release(nbytes)


class HeldResponse(Response):
    """An answer whose request gives its memory reservation back once the answer is sent (or lost)."""

    def __init__(self, content: bytes, media_type: str, held: _Held):
        super().__init__(content, media_type=media_type)
        self.held = held

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.held.release()


def _check_content_type(header: str) -> None:
    content_type = header.split(";")[0].strip().lower()
    if content_type != OCTET_STREAM:
        raise HTTPException(415, f"expected Content-Type {OCTET_STREAM}, got {content_type or 'none'!r}")


def _declared_length(request: Request, max_body: int) -> int:
    """The body's declared length (413 beyond ``max_body``), or ``max_body`` when none is declared."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return max_body
    if int(declared) > max_body:
        raise HTTPException(413, f"body of {declared} bytes exceeds the limit of {max_body} bytes")
    return int(declared)


async def _read_body(request: Request, max_body: int, timeout: float) -> bytes:
    """The request body, refused (413) as soon as it is longer than ``max_body``, or (408) when it takes
    longer than ``timeout`` seconds to arrive.

    The deadline is a timer that cancels this task (no task of its own, unlike ``asyncio.wait_for``: a
    body that has arrived with its headers is read without leaving the event loop's turn)."""
    task = asyncio.current_task()
    assert task is not None
    expired = []

    def expire() -> None:
        expired.append(True)
        task.cancel()

    deadline = asyncio.get_running_loop().call_later(timeout, expire)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                raise HTTPException(413, f"body exceeds the limit of {max_body} bytes")
    except asyncio.CancelledError:
        if not expired:
            raise
        getattr(task, "uncancel", lambda: None)()  # Python >= 3.11: this cancellation is handled
        raise HTTPException(
            408, f"the body did not arrive within {timeout:g} s", headers={"Connection": "close"}
        ) from None
    finally:
        deadline.cancel()
    return bytes(body)


def _find_model(service: Service, body: bytes) -> tuple[bitstream.Header, Codec]:
    """The stream's header and the model it names: 400 bad header, 404 unknown model, 413 too many items."""
    header = _parse(bitstream.read_header, body)
    codec = _loaded(service.registry.codecs, header.model_id, "model")
    if header.count > service.max_items:
        raise HTTPException(
            413, f"the stream holds {header.count} items, the limit is {service.max_items} per request"
        )
    item = math.prod(codec.input_shape) * 4  # bytes of one float32 item
    if header.count * item > service.max_output:
        raise HTTPException(
            413,
            f"the stream holds {header.count} items, {header.count * item} bytes "
            f"decoded; the limit is {service.max_output} bytes ({service.max_output // item} items "
            "of this model): send fewer items per request",
        )
    return header, codec


async def _decode(service: Service, codec: Codec, header: bitstream.Header, body: bytes) -> np.ndarray:
    """x̂ of the stream: 400 if it is corrupt, 500 if the decoder itself fails."""
    batcher = service.batchers.get(header.model_id)
    try:
        if header.count * header.latent_size > INLINE_SYMBOLS:  # a big message must not stall the event loop
            return await run_in_threadpool(codec.decompress, body)
        if batcher is not None:  # symbols now (400 if corrupt), g_s with the turn's others
            return await batcher.decode(codec.decompress_symbols(body))
        return codec.decompress(body)  # sub-millisecond: no thread hop
    except BitstreamError as err:
        raise HTTPException(400, str(err)) from None
    except Exception as err:  # the model failed on a stream it accepted: say so, and keep serving
        raise HTTPException(500, f"the decoder failed: {type(err).__name__}: {err}") from None


async def _decode_photo(service: Service, body: bytes, held: _Held) -> Response:
    """A photo stream (format version 3, or 4 of a hyperprior codec) -> PNG: 400 corrupt, 404 unknown model, 413 too large an output
    (its H·W·C bytes of pixels against the limit, checked from the header before decoding; the floats
    of g_s exist one tile at a time), 500 a decoder fault."""
    header = _parse(bitstream.read_image_header, body)
    codec = _loaded(service.registry.photos, header.model_id, "photo codec")
    size = header.pixels * header.channels  # uint8 pixels: g_s runs by tiles (aekit.codec.tiling)
    if size > service.max_output:
        raise HTTPException(
            413,
            f"the stream holds a {header.width}×{header.height} photo, {size} bytes decoded; "
            f"the limit is {service.max_output} bytes",
        )
    await held.add(
        service.photo_work(header.model_id, header.height, header.width),
        f"a {header.width}×{header.height} photo",
    )
    try:
        content = await run_in_threadpool(_photo_png, codec, body, service.tile)
    except BitstreamError as err:
        raise HTTPException(400, str(err)) from None
    except Exception as err:
        raise HTTPException(500, f"the decoder failed: {type(err).__name__}: {err}") from None
    return HeldResponse(content, media_type=PNG, held=held)


def _photo_png(codec: PhotoCodecs, body: bytes, tile: int) -> bytes:
    return pixels.png_bytes(codec.decompress(body, tile=tile))


def _parse(read: Callable[[bytes], tuple[Any, int]], body: bytes) -> Any:
    """The header ``read`` finds in ``body``; 400 if it is corrupt."""
    try:
        return read(body)[0]
    except BitstreamError as err:
        raise HTTPException(400, str(err)) from None


def _loaded(models: dict[bytes, Any], model_id: bytes, what: str) -> Any:
    """The loaded model of ``model_id``; 404 naming the loaded ones if none."""
    model = models.get(model_id)
    if model is None:
        raise HTTPException(
            404,
            f"no loaded {what} has id {model_id.hex()}; loaded: {', '.join(k.hex() for k in models) or 'none'}",
        )
    return model
