"""What the decode service answers: the media types it speaks and the bytes of each.

``.npy`` (``application/x-npy``) by default; a PNG (``image/png``: one image, or a grid)
when the ``Accept`` header rates it at least as high (RFC 9110 §12.5.1 quality values).
"""

from __future__ import annotations

import functools
import io

import numpy as np

from ..images import png_bytes
from ..media import NPY, PNG

__all__ = ["render", "wants_png"]


def render(X: np.ndarray, image_shape: tuple[int, ...] | None) -> bytes:
    """The answer's bytes: a PNG of ``image_shape`` images, or ``.npy`` when ``image_shape`` is None."""
    if image_shape is not None:
        return png_bytes(X, image_shape)
    X = np.ascontiguousarray(X)
    return _npy_header(X.shape, X.dtype.str) + X.tobytes()


@functools.lru_cache(maxsize=256)
def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    """The ``.npy`` header of a C-order array (what ``np.save`` writes before the data), made once per
    shape: formatting it took as long as decoding one item's symbols."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def wants_png(accept: str) -> bool:
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
