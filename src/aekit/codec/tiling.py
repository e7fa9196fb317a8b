"""The photo codec's transforms run over large photos tile by tile, with context: bounded memory, no seams.

g_a (scale r = 1/16) and g_s (r = 16) are fully convolutional, so they run through the tiles with
context of :func:`aekit.tiles.tiled`: tiles of side T on the strides' phase (T and the margin m
multiples of the stride a), each computed over its window grown by m ≥ ρ (the receptive field's
radius) and cropped back. With m ≥ ρ each kept output sample sees exactly the inputs it sees in
f(x), so the result is f(x) up to the order of float additions: no seams, nothing added to the
stream, and the stream does not depend on the tiling (one side may tile, the other not). Peak memory
is that of f on one (T + 2m)² window plus the output, instead of f on the whole photo.

For the photo codec (:mod:`aekit.codec.networks_conv`, four 5×5 layers of stride 2):

- g_a: output o of a layer reads inputs 2o − 2 … 2o + 2, so code position i reads pixels
  16i − 30 … 16i + 30 (ρ = 2·(1 + 2 + 4 + 8) = 30): m = :data:`ANALYSIS_MARGIN` = 32 px;
- g_s (transposed, padding 2, output padding 1): output o reads inputs ⌈o/2 − 1⌉ … ⌊o/2 + 1⌋, so
  through the four layers the pixels 16i … 16i + 15 of code position i read positions i − 1 … i + 2:
  m = :data:`SYNTHESIS_MARGIN` = 2 positions (32 px).

(The tests show that one stride less of margin changes the result.)

Any codec whose transforms are fully convolutional (the hyperprior's g_a / g_s too) runs through
:func:`tiled`; :func:`analyse` and :func:`synthesise` are the photo codec's two ends, shared by the
torch codec and the torch-free device halves. Needs numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from ..tiles import Window, tiled, windows
from . import pixels

__all__ = [
    "DEFAULT_TILE",
    "ANALYSIS_MARGIN",
    "SYNTHESIS_MARGIN",
    "Window",
    "check_tile",
    "windows",
    "tiled",
    "analyse",
    "synthesise",
]

DEFAULT_TILE = 512  # pixels: photos with a side above it are coded by tiles (exact, see above)
ANALYSIS_MARGIN = 32  # pixels of context around a g_a tile (receptive field radius 30 px)
SYNTHESIS_MARGIN = 2  # code positions of context around a g_s tile (pixels of position i read i − 1 … i + 2)
MIN_TILE = 2 * pixels.STRIDE

Array = np.ndarray


def check_tile(tile: object) -> int:
    """``tile`` as an int: 0 (the whole photo at once) or a multiple of 16 pixels, at least 32."""
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)):
        raise ValueError(f"tile must be an int number of pixels, got {tile!r}")
    tile = int(tile)
    if tile != 0 and (tile < MIN_TILE or tile % pixels.STRIDE):
        raise ValueError(
            f"tile must be 0 (no tiling) or a multiple of {pixels.STRIDE} pixels, at least {MIN_TILE}; got {tile}"
        )
    return tile


def analyse(g_a: Callable[[Array], Array], image: Array, tile: int = DEFAULT_TILE) -> Array:
    """y = g_a(x) of one photo, uint8 (H, W, C), as float32 (h·w, M), computed by tiles of ``tile``
    pixels (0: all at once). ``g_a`` maps x (1, C, H', W') in [0, 1] to (1, M, H'/16, W'/16)."""
    tile = check_tile(tile)
    height, width = image.shape[:2]
    ph, pw = pixels.padded_size(height, width)
    padded = pixels.pad(image)
    y: Array | None = None
    for (top, left, bottom, right), part in tiled(
        g_a, lambda b: pixels.to_input(padded[b[0] : b[2], b[1] : b[3]]), ph, pw,
        scale=Fraction(1, pixels.STRIDE), tile=tile, margin=ANALYSIS_MARGIN, align=pixels.STRIDE,
    ):  # fmt: skip
        if y is None:
            y = np.empty((ph // pixels.STRIDE, pw // pixels.STRIDE, part.shape[1]), dtype=np.float32)
        y[top:bottom, left:right] = part[0].transpose(1, 2, 0)
    assert y is not None
    return y.reshape(-1, y.shape[2])


def synthesise(
    g_s: Callable[[Array], Array], symbols: Array, height: int, width: int, tile: int = DEFAULT_TILE
) -> Array:
    """x̂ = g_s(ŷ) of an H×W photo as uint8 (H, W, C), from its symbols (h·w, M), by tiles of ``tile``
    pixels (0: all at once). ``g_s`` maps float32 (1, M, h, w) to (1, C, 16h, 16w); only one tile's
    floats are held at a time, the photo itself as uint8."""
    tile = check_tile(tile)
    h, w = pixels.latent_size(height, width)
    code = np.ascontiguousarray(symbols).reshape(h, w, -1)
    image: Array | None = None
    for (top, left, bottom, right), part in tiled(
        g_s, lambda b: np.ascontiguousarray(code[b[0] : b[2], b[1] : b[3]].transpose(2, 0, 1)[None], dtype=np.float32),
        h, w, scale=Fraction(pixels.STRIDE), tile=tile // pixels.STRIDE, margin=SYNTHESIS_MARGIN,
    ):  # fmt: skip
        if image is None:
            image = np.empty((height, width, part.shape[1]), dtype=np.uint8)
        bottom, right = min(bottom, height), min(right, width)
        image[top:bottom, left:right] = pixels.to_image(part[0], bottom - top, right - left)
    assert image is not None
    return image
