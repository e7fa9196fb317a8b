"""Files of items for a codec of fixed-size items (``aekit send``): ``.npy`` arrays and images.

Nothing is reinterpreted: a file whose shape is not the codec's item shape is refused with both
shapes named, never reshaped into other items or resized. A ``.npy`` holds one item or N items,
each of the codec's ``input_shape`` or drawn as its ``image_shape`` (the same values); an image
must have the codec's image size (grayscale or colour as the codec's items are). numpy and Pillow
only (no torch): it runs on the device beside :class:`~aekit.codec.DeviceEncoder`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["read_items", "accepted_shapes"]


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def accepted_shapes(input_shape: Sequence[int], image_shape: Sequence[int] | None) -> list[tuple]:
    """The item shapes a file may hold: ``input_shape`` and, for an image codec, ``image_shape``."""
    shapes = [tuple(input_shape)]
    if image_shape is not None:
        image = tuple(image_shape)
        if image != shapes[0] and math.prod(image) == math.prod(input_shape):
            shapes.append(image)
    return shapes


def read_items(
    path: str | os.PathLike, input_shape: Sequence[int], image_shape: Sequence[int] | None = None
) -> np.ndarray:
    """The items of one file as float32 (N, *input_shape).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` of one item or of N items (shape ``(N, *input_shape)`` or ``(N, *image_shape)``),
        or an image file (PNG, JPEG, ...) of exactly ``image_shape``'s height and width, scaled to [0, 1].
    input_shape : sequence of int
        The codec's item shape (``DeviceEncoder.input_shape``).
    image_shape : sequence of int, optional
        How an item is drawn, (H, W) or (H, W, C) (``DeviceEncoder.image_shape``); None: items are not images.

    Raises
    ------
    DataError
        The file's shape is not the codec's item shape (both named), or it is not a readable image / .npy.
    """
    path = Path(path)
    input_shape = tuple(int(s) for s in input_shape)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return _npy_items(path, input_shape, image_shape)
    if image_shape is None:
        raise DataError(f"{path}: the codec's items {_shape(input_shape)} are not images: pass .npy arrays")
    return _image_item(path, input_shape, tuple(image_shape))


def _npy_items(path: Path, input_shape: tuple, image_shape: Sequence[int] | None) -> np.ndarray:
    from ..data import load_array

    X = load_array(path)[0]  # names the file: not .npy data, pickled objects...
    shapes = accepted_shapes(input_shape, image_shape)
    if X.shape in shapes:  # one item
        X = X[None]
    if X.ndim == 0 or X.shape[1:] not in shapes:
        expected = " or ".join("(N, " + ", ".join(map(str, s)) + ")" for s in shapes)
        raise DataError(
            f"{path} holds an array of shape {_shape(X.shape)}, but the codec's items have shape "
            f"{_shape(input_shape)}: expected {expected}, or one item"
        )
    if len(X) == 0:
        raise DataError(f"{path} holds no items (shape {_shape(X.shape)})")
    return np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), *input_shape)


def _image_item(path: Path, input_shape: tuple, image_shape: tuple) -> np.ndarray:
    from ..data import read_image

    mode = "RGB" if len(image_shape) == 3 else "L"
    pixels = read_image(path, mode=mode)  # (C, H, W), native size
    height, width = pixels.shape[1:]
    if (height, width) != image_shape[:2]:
        raise DataError(
            f"{path} is {width}×{height} pixels, but the codec's items are {image_shape[1]}×{image_shape[0]} "
            f"images (shape {_shape(input_shape)}): resize it first, or use a codec trained on "
            f"{width}×{height} images"
        )
    if len(input_shape) != 3:  # flat items are laid out as image_shape says: (H, W) or (H, W, C)
        pixels = pixels.transpose(1, 2, 0)
    return pixels.reshape(1, *input_shape)
