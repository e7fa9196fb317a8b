"""The client of the decode service: send a bitstream, get the reconstructions back.

``POST {url}/v1/decode`` with the stream as ``application/octet-stream``; the answer is
``.npy`` or, asked with ``accept="image/png"``, a PNG (see :mod:`aekit.codec.service`).
Standard library only (urllib): it runs on the device beside :class:`~aekit.codec.DeviceEncoder`.
"""

from __future__ import annotations

import math
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import AekitError
from . import bitstream
from .media import DECODE_PATH, NPY, OCTET_STREAM

__all__ = ["send", "SendError"]

_DETAIL_CHARS = 500


class SendError(AekitError, ValueError):
    """The service could not be reached, or answered an error (``status``: its HTTP status, else None)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def send(
    data_or_path: bytes | bytearray | memoryview | str | os.PathLike,
    url: str,
    *,
    accept: str = NPY,
    timeout: float = 30.0,
) -> bytes:
    """Post a bitstream to the decode service at ``url`` and return its answer's bytes.

    Parameters
    ----------
    data_or_path : bytes or path
        The bitstream (e.g. from :meth:`DeviceEncoder.compress`), or a file holding one.
    url : str
        The service, ``http://host:port`` or ``https://...`` (``/v1/decode`` is appended).
    accept : str
        ``application/x-npy`` (the reconstructions as .npy) or ``image/png``.
    timeout : float
        Seconds to wait for the service, > 0.

    Raises
    ------
    SendError
        The service is unreachable or answered an error (its status and detail in the message).
    """
    data = _stream(data_or_path)
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"url must be an http:// or https:// address of the service, got {url!r}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    request = urllib.request.Request(
        url.rstrip("/") + DECODE_PATH,
        data=data,
        method="POST",
        headers={"Content-Type": OCTET_STREAM, "Accept": accept},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")[:_DETAIL_CHARS]
        raise SendError(f"the server answered {err.code}: {detail}", err.code) from None
    except urllib.error.URLError as err:
        raise SendError(f"cannot reach {url}: {err.reason} (is 'aekit serve' running there?)") from None
    except OSError as err:  # a timeout while reading, a reset connection
        raise SendError(f"cannot reach {url}: {err}") from None


def _stream(data_or_path: object) -> bytes:
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return bytes(data_or_path)
    if isinstance(data_or_path, (str, os.PathLike)):
        return bitstream.read_file(Path(data_or_path))
    raise TypeError(
        f"data_or_path must be a bitstream (bytes) or a file path, got {type(data_or_path).__name__}"
    )
