"""Image files (PNG, JPEG, ...) as arrays, decoded by Pillow: one file (:func:`read_image`) or a folder.

Two folder layouts, as in torchvision's ``ImageFolder``:

- ``folder/*.png``: images directly in the folder, no labels;
- ``folder/<class>/**/*.png``: one sub-folder per class; label ``i`` is the
  ``i``-th class name in sorted order (:func:`find_images` returns the names).

Every image is checked before it is decoded: at most ``max_pixels`` pixels
(:data:`MAX_PIXELS` by default; a small file can declare a huge image) and a
format Pillow can read; in a folder, all images have the same size unless
``size=`` resizes them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aekit.data.limits import MAX_DATA_BYTES, check_decoded_size
from aekit.errors import DataError

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "auto_mode", "find_images", "load_image_folder", "read_image"]

#: File suffixes read as images (case-insensitive); other files are ignored.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
#: Default bound on one image's pixels: 4096 x 4096.
MAX_PIXELS = 1 << 24
MODES = ("auto", "L", "RGB")
_GRAY = {"1", "L", "LA", "I;16", "I;16L", "I;16B", "I;16N"}


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def find_images(directory: str | os.PathLike) -> tuple[list[Path], np.ndarray | None, list[str]]:
    """The image files of ``directory`` in a fixed (sorted) order, their labels and the class names.

    Returns ``(paths, labels, classes)``: ``labels`` is None and ``classes``
    empty when the images lie directly in ``directory``; otherwise ``labels[i]``
    indexes ``classes`` (sorted sub-folder names). Hidden files and files of
    other types are skipped.

    Raises
    ------
    DataError
        If the folder does not exist, holds no images, mixes images with class
        folders, or has a class folder without images.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} not found")
    entries = sorted(root.iterdir())
    top = [p for p in entries if _is_image(p)]
    class_dirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if top and class_dirs:
        raise DataError(
            f"{str(root)!r} holds both images ({top[0].name!r}, ...) and sub-folders ({class_dirs[0].name!r}, ...): "
            "expected either images only (no labels) or one sub-folder of images per class"
        )
    if top:
        return top, None, []
    paths, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if _is_image(p))
        if not files:
            raise DataError(f"class folder {str(class_dir)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {str(root)!r} or its sub-folders")
    return paths, np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]


def _open(path: Path, max_pixels: int) -> PIL.Image.Image:
    """Open ``path`` lazily and check its declared size before anything is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
    except Image.DecompressionBombError as e:  # Pillow's own bound, above any sensible max_pixels
        raise DataError(f"{str(path)!r} declares more pixels than the limit of {max_pixels}: {e}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(
            f"{str(path)!r} is not a readable image: not an image format Pillow knows ({e})"
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise DataError(
            f"{str(path)!r} is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}"
        )
    if image.mode in ("I", "F"):
        image.close()
        raise DataError(
            f"{str(path)!r} has pixel mode {image.mode!r} (32-bit), whose range is unknown; "
            "expected 8- or 16-bit grayscale or colour"
        )
    return image


def auto_mode(paths: Iterable[str | os.PathLike], *, max_pixels: int = MAX_PIXELS) -> str:
    """``"L"`` when every image of ``paths`` is grayscale (8- or 16-bit), else ``"RGB"`` (headers only)."""
    for path in paths:
        with _open(Path(path), max_pixels) as image:
            if image.mode not in _GRAY:
                return "RGB"
    return "L"


def _pixels(image: PIL.Image.Image, path: Path, channels: int) -> np.ndarray:
    """(H, W, channels) float32 in [0, 1]: 16-bit grayscale scaled by 65535, everything else by 255."""
    from PIL import Image

    try:
        if image.mode.startswith("I;16"):
            gray = np.asarray(image, dtype=np.uint16).astype(np.float32) / np.float32(65535)
            return np.repeat(gray[:, :, None], channels, axis=2)
        converted = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        # truncated or corrupt data shows up on decoding
        raise DataError(
            f"{str(path)!r} is not a readable image: its pixels could not be decoded ({e})"
        ) from None
    converted = converted.reshape(*converted.shape[:2], channels)
    return converted.astype(np.float32) / np.float32(255)


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (H, W, C) floats to ``size`` = (height, width), channel by channel."""
    from PIL import Image

    height, width = size
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(pixels[:, :, c])).resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for c in range(pixels.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)


def _check_size(size: Sequence[int] | None) -> tuple[int, int] | None:
    """``size`` as a (height, width) tuple of positive ints, or None."""
    if size is None:
        return None
    size = tuple(size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise DataError(f"size must be (height, width) of positive integers, got {size!r}")
    return int(size[0]), int(size[1])


def read_image(
    path: str | os.PathLike,
    *,
    mode: str | None = None,
    size: tuple[int, int] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Read one image file (PNG, JPEG, ...) as float32 (channels, height, width) in [0, 1].

    The header is checked before any pixel is decoded: a small file can declare
    a huge image, so more than ``max_pixels`` pixels is refused up front.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    mode : {None, "L", "RGB"}
        ``"L"``: one grayscale channel; ``"RGB"``: three channels (grayscale
        repeated); None: ``"L"`` for a grayscale image, else ``"RGB"``. Alpha
        channels are dropped.
    size : (height, width), optional
        Resize to this size (bilinear, on the [0, 1] values).
    max_pixels : int
        Refuse an image with more pixels than this.

    Returns
    -------
    numpy.ndarray
        float32 (C, H, W): 8-bit values / 255, 16-bit grayscale / 65535.

    Raises
    ------
    DataError
        Naming ``path``: not an image, truncated or corrupt, too large, 32-bit pixels.
    """
    if mode not in (None, *MODES[1:]):
        raise DataError(f"mode must be None, 'L' or 'RGB', got {mode!r}")
    size = _check_size(size)
    path = Path(path)
    with _open(path, max_pixels) as image:
        channels = 1 if (mode or ("L" if image.mode in _GRAY else "RGB")) == "L" else 3
        pixels = _pixels(image, path, channels)
    if size is not None and pixels.shape[:2] != size:
        pixels = _resize(pixels, size)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _decoded_bytes(
    paths: Sequence[Path], channels: int, size: tuple[int, int] | None, max_pixels: int
) -> int:
    """The float32 bytes ``paths`` decode to: ``size`` or each header's width x height, x ``channels``."""
    if size is not None:
        return len(paths) * channels * size[0] * size[1] * 4
    total = 0
    for path in paths:
        with _open(Path(path), max_pixels) as image:
            width, height = image.size
        total += width * height * channels * 4
    return total


def load_image_folder(
    directory: str | os.PathLike,
    *,
    mode: str = "auto",
    size: tuple[int, int] | None = None,
    flatten: bool = False,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_DATA_BYTES,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load every image of ``directory`` (see :func:`find_images` for the layouts).

    Parameters
    ----------
    directory : str or os.PathLike
        The folder.
    mode : {"auto", "L", "RGB"}
        ``"L"``: one grayscale channel; ``"RGB"``: three channels (grayscale
        images repeated); ``"auto"``: ``"L"`` when every image is grayscale,
        else ``"RGB"``. Alpha channels are dropped.
    size : (height, width), optional
        Resize every image to this size (bilinear). Without it all images must
        have the same size.
    flatten : bool
        Return X as (n, channels * height * width) instead of (n, channels, height, width).
    max_pixels : int
        Refuse any image with more pixels than this (checked before decoding).
    max_bytes : int
        Refuse a folder whose images decode to more float32 bytes than this, in all (the sum of the
        sizes in their headers, checked before any is decoded).

    Returns
    -------
    X : numpy.ndarray
        float32 in [0, 1]: 8-bit values / 255, 16-bit grayscale / 65535.
    y : numpy.ndarray or None
        int64 class indices, or None when the images lie directly in the folder.
    """
    if mode not in MODES:
        raise DataError(f"mode must be one of {MODES}, got {mode!r}")
    size = _check_size(size)
    paths, labels, _ = find_images(directory)
    if mode == "auto":
        mode = auto_mode(paths, max_pixels=max_pixels)
    declared = _decoded_bytes(paths, 1 if mode == "L" else 3, size, max_pixels)
    check_decoded_size(declared, max_bytes, f"the {len(paths)} images of {str(directory)!r}")
    first = read_image(paths[0], mode=mode, size=size, max_pixels=max_pixels)
    X = np.empty((len(paths), *first.shape), dtype=np.float32)
    X[0] = first
    for i, path in enumerate(paths[1:], start=1):
        image = read_image(path, mode=mode, size=size, max_pixels=max_pixels)
        if image.shape != X.shape[1:]:
            raise DataError(
                f"{str(path)!r} is {image.shape[2]}x{image.shape[1]} but {str(paths[0])!r} is "
                f"{X.shape[3]}x{X.shape[2]} (width x height): give size=(height, width) to resize them all"
            )
        X[i] = image
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels
