"""The decode service's HTTP server limits: what uvicorn offers, and the header timeout it lacks.

uvicorn closes a keep-alive connection idle between requests (``timeout_keep_alive``) and answers
503 to requests beyond ``limit_concurrency`` connections or tasks, but it waits forever for the
headers of a request that has begun (or for the first byte of a new connection), so a client that
sends half a request and stalls holds a connection, and a file descriptor, for good.
:class:`DeadlineProtocol` closes such a connection ``header_timeout`` seconds after it opened or
answered its last request (with 408 if a request had begun), and closes at once, with 503, the
connections beyond ``max_connections`` (so the descriptors held stay bounded). The parser keeps a
request line and headers in memory until they end, with no bound of its own (58 MiB of one header
were taken in the 10 s before the deadline here): beyond :data:`MAX_HEADER_BYTES` a request gets 431
and its connection is closed. Bodies are timed out by the route that reads them (``body_timeout``,
:func:`~.routes.decode`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "DeadlineProtocol",
    "server_options",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
]

DEFAULT_HEADER_TIMEOUT = 10.0  # seconds from connection (or last answer) to a request's complete headers
DEFAULT_MAX_CONNECTIONS = 512  # open connections; keep it under the process's descriptor limit (ulimit -n)
KEEP_ALIVE = 5  # seconds an idle keep-alive connection is kept (uvicorn's default)
MAX_HEADER_BYTES = 64 << 10  # request line and headers of one request (431 beyond)
LINGER = 1.0  # seconds a refused connection's late bytes are read and dropped before it is closed


def _answer(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on request headers and a cap on connections.

    uvicorn builds one per connection; :func:`server_options` hands it ``header_timeout`` and
    ``max_connections`` through a ``functools.partial`` (picklable: ``--workers`` sends it to each
    worker process).
    """

    def __init__(
        self,
        *args: Any,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections

    _deadline: asyncio.TimerHandle | None = None
    _begun = False
    _header_bytes = 0  # received since the deadline was armed, while the headers have not ended
    _refused = False  # answered and closing: what still arrives is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(
                _answer(
                    503, "Service Unavailable", f"more than {self.max_connections} connections: retry later"
                )
            )
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._begun = True
        super().data_received(data)
        if self._deadline is not None:  # the headers have not ended yet
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                detail = f"the request line and headers exceed {MAX_HEADER_BYTES} bytes"
                self._refuse(_answer(431, "Request Header Fields Too Large", detail))

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # no request in progress (a pipelined one would have started): time the next

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._begun = False
        self._header_bytes = 0
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._begun:  # a request began and its headers did not complete in time
            detail = f"the request headers did not arrive within {self.header_timeout:g} s"
            self._refuse(_answer(408, "Request Timeout", detail))
        else:
            self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        """Answer and close, dropping what still arrives for a second first (a lingering close: closing
        with unread bytes would reset the connection, and the client could lose the answer)."""
        self._disarm()
        self._refused = True
        if self.transport.is_closing():
            return
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)


def server_options(header_timeout: float, max_connections: int) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: the header deadline, the connection cap (also
    uvicorn's own ``limit_concurrency``, which answers 503 to requests beyond it) and keep-alive."""
    if not 0 < header_timeout < float("inf"):
        raise ValueError(f"header_timeout must be a positive number of seconds, got {header_timeout!r}")
    if not isinstance(max_connections, int) or max_connections < 1:
        raise ValueError(f"max_connections must be a positive int, got {max_connections!r}")
    protocol = functools.partial(
        DeadlineProtocol, header_timeout=float(header_timeout), max_connections=max_connections
    )
    return {
        "http": protocol,
        "limit_concurrency": max_connections + 1,  # uvicorn counts the connection asking too
        "timeout_keep_alive": min(KEEP_ALIVE, max(1, int(header_timeout))),
    }
