"""The cloud side: a FastAPI decode service (``aekit serve``).

Models are loaded once, in the app's lifespan (:mod:`.app`), and chosen per request by the
model id in the stream (the first bytes of the model's fingerprint). ``POST /v1/decode``
(:mod:`.routes`) takes an ``application/octet-stream`` bitstream and answers the
reconstruction as ``.npy`` (``application/x-npy``) or, with ``Accept: image/png``, as a PNG
(a grid for several items). Errors are JSON (``{"detail": ...}``): 400 corrupt stream,
404 unknown model, 406 PNG asked of items that are not images, 408 body too slow, 413 body,
items, decoded answer or decoding memory too large, 415 wrong content type, 500 the decoder
failed, 503 the memory budget is taken (``Retry-After``); the service keeps serving. The
requests in flight share one memory budget (:mod:`.admission`); the server times out slow
headers and caps connections (:mod:`.server`).
Schema at ``/openapi.json``. A model is served only if it decodes a stream of its own at
start-up (tables present and valid).

Small messages that reach the decoder in the same turn of the event loop are decoded
together (:class:`~.batching.Batcher`): one request decodes alone, a burst of concurrent
ones shares a single pass of g_s.
"""

from .app import create_app
from .batching import Batcher
from .models import Registry
from .state import DEFAULT_MAX_BODY, DEFAULT_MAX_OUTPUT, Service, get_service

__all__ = [
    "create_app",
    "Registry",
    "Batcher",
    "Service",
    "get_service",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_OUTPUT",
]
