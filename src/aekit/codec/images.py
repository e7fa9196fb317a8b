"""Reconstructions as PNG: one item as an image, several as a grid (Pillow)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["png_bytes"]


def png_bytes(X: np.ndarray, image_shape: Sequence[int]) -> bytes:
    """PNG of items ``X`` (N, ...) drawn as ``image_shape`` (H, W) or (H, W, 3); a grid of ceil(√N) columns."""
    from PIL import Image

    images = np.clip(np.asarray(X, dtype=np.float32).reshape(len(X), *image_shape), 0.0, 1.0)
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    h, w = image_shape[:2]
    grid = np.zeros((rows * h, cols * w, *image_shape[2:]), dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    buffer = io.BytesIO()
    Image.fromarray(np.round(grid * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
