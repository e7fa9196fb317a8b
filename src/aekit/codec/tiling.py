"""Fully convolutional transforms run over large photos tile by tile, with context: bounded memory, no seams.

A fully convolutional network f of overall scale r (output samples per input sample along a side:
1/16 for g_a, 16 for g_s) computes each output sample from the inputs within a radius ρ of it
(its receptive field). So f(x) can be computed by tiles: cut the input into tiles of side T
(a multiple of the stride a, so every tile starts on the same phase of the strides as in the whole
computation), run f on each tile **extended by a margin m ≥ ρ** (a multiple of a) on every side where
the input goes on, and keep only the output of the tile itself. Each kept output sample then sees
exactly the inputs it sees in f(x) — zero padding happens only at the input's own borders, as in the
whole computation — so the result is f(x) up to the order of float additions: no seams, nothing added
to the stream, and the stream does not depend on the tiling (one side may tile, the other not).
Peak memory is that of f on one (T + 2m)² window plus the output, instead of f on the whole photo.

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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

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
Box = tuple[int, int, int, int]  # top, left, bottom, right (bottom and right exclusive)


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


@dataclass(frozen=True)
class Window:
    """One tile: ``box``, the part of the input whose output it produces, and ``window``, the box
    grown by the margin (clipped to the input) that the transform reads."""

    box: Box
    window: Box


def windows(height: int, width: int, tile: int, margin: int, align: int = 1) -> list[Window]:
    """The tiles of an H×W input in row-major order: boxes of side ``tile`` (the last ones shorter)
    covering it exactly once, each with ``margin`` of context where the input goes on.

    ``tile`` and ``margin`` must be multiples of ``align`` (the transform's stride), ``tile`` ≥ 1;
    ``tile`` 0 or at least the input's sides gives one tile, the whole input.
    """
    if height < 1 or width < 1:
        raise ValueError(f"the input must have sides >= 1, got {height}×{width}")
    if tile < 0 or margin < 0 or align < 1 or tile % align or margin % align:
        raise ValueError(
            f"tile {tile} and margin {margin} must be >= 0 and multiples of the alignment {align}"
        )
    if tile == 0:
        return [Window((0, 0, height, width), (0, 0, height, width))]
    out = []
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            window = (
                max(top - margin, 0),
                max(left - margin, 0),
                min(bottom + margin, height),
                min(right + margin, width),
            )
            out.append(Window((top, left, bottom, right), window))
    return out


def _scaled(value: int, scale: Fraction) -> int:
    scaled = value * scale
    if scaled.denominator != 1:
        raise ValueError(f"{value} input samples times the scale {scale} is not a whole number of outputs")
    return int(scaled)


def tiled(
    transform: Callable[[Array], Array],
    read: Callable[[Box], Array],
    height: int,
    width: int,
    *,
    scale: Fraction,
    tile: int,
    margin: int,
    align: int = 1,
) -> Iterator[tuple[Box, Array]]:
    """Yield ``(box, f(x)[box])`` over the tiles of an H×W input: the output of each tile, in output
    samples, from ``transform`` run on the tile's window with context (see the module docstring).

    ``read(window)`` returns the transform's input for a window of the input (N, C, h, w);
    ``transform`` maps it to (N, C', h·scale, w·scale). Tiles must start on the transform's stride
    phase: ``tile`` and ``margin`` multiples of ``align``.
    """
    for w in windows(height, width, tile, margin, align):
        top, left, bottom, right = w.box
        wt, wl = w.window[:2]
        out = transform(read(w.window))
        r0, c0 = _scaled(top - wt, scale), _scaled(left - wl, scale)
        r1, c1 = r0 + _scaled(bottom - top, scale), c0 + _scaled(right - left, scale)
        box = (_scaled(top, scale), _scaled(left, scale), _scaled(bottom, scale), _scaled(right, scale))
        yield box, out[..., r0:r1, c0:c1]


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
