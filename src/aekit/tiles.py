"""Tiles with context: a transform of a large 2-D input computed tile by tile, in bounded memory.

A convolutional network f of overall scale r (output samples per input sample along a side) computes
each output sample from the inputs within a radius ρ of it (its receptive field). So f(x) can be
computed by tiles: cut the H×W input into boxes of side T that cover it once (row-major, the last
ones shorter), run f on each box's **window**, the box grown by a margin m on every side where the
input goes on (clipped at its borders), and keep only the output of the box itself:

    f(x)[r·box] ≈ f(x[window])[r·(box − window origin)]

With m ≥ ρ, and T and m multiples of f's stride (every window starts on the strides' phase), the kept
samples see exactly the inputs they see in f(x): the result is f(x) up to the order of float
additions (the photo codec, :mod:`aekit.codec.tiling`). With a smaller m the result is close but
not exact (a denoiser's context, :func:`aekit.nn.denoisers.denoise`). Peak memory is that of f on
one (T + 2m)² window plus the output. Needs numpy only (the phone side runs it without torch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol, TypeVar

__all__ = ["Box", "Window", "windows", "tiled"]

Box = tuple[int, int, int, int]  # top, left, bottom, right (bottom and right exclusive)


class _Planes(Protocol):
    """An array sliced as ``a[..., rows, columns]``: numpy's, or torch's (which stays on its device)."""

    def __getitem__(self, key: Any, /) -> Any: ...


Array = TypeVar("Array", bound=_Planes)


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
    ``transform`` maps it to (N, C', h·scale, w·scale). ``tile`` and ``margin`` must be multiples of
    ``align`` (the transform's stride, for the exact result; 1 for a stride-1 network).
    """
    for w in windows(height, width, tile, margin, align):
        top, left, bottom, right = w.box
        wt, wl = w.window[:2]
        out = transform(read(w.window))
        r0, c0 = _scaled(top - wt, scale), _scaled(left - wl, scale)
        r1, c1 = r0 + _scaled(bottom - top, scale), c0 + _scaled(right - left, scale)
        box = (_scaled(top, scale), _scaled(left, scale), _scaled(bottom, scale), _scaled(right, scale))
        yield box, out[..., r0:r1, c0:c1]
