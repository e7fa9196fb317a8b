"""Photos as pixels for the convolutional codec: read (bounded), pad for the strides, crop back.

One place for what the device, the cloud, the CLI and the training loader all do to a
photo: decode a PNG/JPEG with Pillow into uint8 (H, W, C) after checking its declared size
(a 100 000 × 100 000 PNG is refused from its header, before any pixel is allocated), scale
to x = pixel / 255, pad to multiples of :data:`STRIDE` by repeating the edge pixels (any size
works, 1×1 included), and crop the reconstruction back to (H, W) with
pixel = round(255 · clip(x̂, 0, 1)).

Needs numpy and Pillow only (no torch): it runs on the device.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = [
    "STRIDE",
    "MAX_SIDE",
    "MAX_PIXELS",
    "read_image",
    "as_image",
    "padded_size",
    "pad",
    "latent_size",
    "to_input",
    "to_image",
    "png_bytes",
]

STRIDE = 16  # what the four stride-2 layers of g_a need of the sides
MAX_SIDE = 1 << 15  # pixels along one side (bitstream.MAX_IMAGE_SIDE)
MAX_PIXELS = (
    1 << 26
)  # pixels of one photo (64 Mpx; a 12 Mpx phone photo is 1/5 of it; bitstream.MAX_IMAGE_PIXELS)
MAX_FILE_BYTES = 256 << 20


def _mode(channels: int) -> str:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return "L" if channels == 1 else "RGB"


def check_size(height: int, width: int, max_pixels: int = MAX_PIXELS, what: str = "the image") -> None:
    """DataError unless 1 <= H, W <= MAX_SIDE and H·W <= ``max_pixels``."""
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE) or height * width > max_pixels:
        raise DataError(
            f"{what} is {width}×{height} pixels, larger than accepted: sides of 1..{MAX_SIDE} and "
            f"at most {max_pixels:,} pixels"
        )


def read_image(
    source: str | os.PathLike | bytes | bytearray | memoryview,
    channels: int = 3,
    *,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """The pixels of a PNG/JPEG/... file (or its bytes) as uint8 (H, W, ``channels``).

    The size the file declares is checked before its pixels are decoded.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataError
        Not an image, truncated or damaged, or larger than ``max_pixels`` / :data:`MAX_SIDE`.
    """
    from PIL import Image, UnidentifiedImageError

    mode = _mode(channels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name, stream = "the image", io.BytesIO(bytes(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DataError(f"{path} is {path.stat().st_size} bytes, more than {MAX_FILE_BYTES}")
        name, stream = str(path), io.BytesIO(path.read_bytes())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: our own bound follows
            image = Image.open(stream)
            width, height = image.size
            check_size(height, width, max_pixels, name)
            image.load()
            pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    except DataError:
        raise
    except Image.DecompressionBombError as err:  # Pillow's own bound, met at open for huge declared sizes
        raise DataError(f"{name} declares an image larger than {max_pixels:,} pixels: {err}") from None
    except UnidentifiedImageError:
        raise DataError(f"{name} is not an image Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(f"{name} is truncated or damaged: {err}") from None
    return pixels.reshape(height, width, channels)


def as_image(pixels: object, channels: int) -> np.ndarray:
    """An array of pixels as uint8 (H, W, ``channels``): uint8 as is, floats in [0, 1] scaled by 255.

    Accepts (H, W) for grayscale and (H, W, C).
    """
    a = np.asarray(pixels)
    if a.ndim == 2 and channels == 1:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] != channels:
        raise DataError(f"an image for this codec is (H, W, {channels}), got shape {a.shape}")
    check_size(a.shape[0], a.shape[1])
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise DataError(f"pixels must be uint8 or floats in [0, 1], got dtype {a.dtype}")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
        raise DataError("float pixels must be finite and lie in [0, 1]")
    return np.rint(a * 255).astype(np.uint8)


def padded_size(height: int, width: int) -> tuple[int, int]:
    """(H, W) rounded up to multiples of :data:`STRIDE`."""
    return STRIDE * math.ceil(height / STRIDE), STRIDE * math.ceil(width / STRIDE)


def latent_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) = (⌈H/16⌉, ⌈W/16⌉), the spatial size of the code of an H×W photo."""
    return math.ceil(height / STRIDE), math.ceil(width / STRIDE)


def pad(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) edge-padded (the last row and column repeated) to (H', W', C), multiples of 16."""
    height, width = image.shape[:2]
    ph, pw = padded_size(height, width)
    if (ph, pw) == (height, width):
        return image
    return np.pad(image, ((0, ph - height), (0, pw - width), (0, 0)), mode="edge")


def to_input(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) -> x = pixel / 255 as float32 (1, C, H', W'), edge-padded to multiples of 16."""
    return np.ascontiguousarray(pad(image).transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)


def to_image(x_hat: np.ndarray, height: int, width: int) -> np.ndarray:
    """float (C, H', W') -> uint8 (H, W, C): cropped to (H, W), pixel = round(255 · clip(x̂, 0, 1))."""
    x = np.clip(np.asarray(x_hat, dtype=np.float32)[:, :height, :width], 0.0, 1.0)
    return np.rint(x.transpose(1, 2, 0) * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """The PNG file of uint8 pixels (H, W, C), C = 1 or 3."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()
