"""Fully convolutional analysis / synthesis transforms with GDN, for photos of any size.

Ballé, Laparra & Simoncelli, "End-to-end optimized image compression", ICLR 2017, in the
layout of CompressAI's ``bmshj2018-factorized`` (Bégaint et al. 2020): four 5×5
convolutions of stride 2 with GDN between them,

    g_a:  conv(C→N) GDN conv(N→N) GDN conv(N→N) GDN conv(N→M)          (H, W) -> (H/16, W/16)
    g_s:  deconv(M→N) IGDN deconv(N→N) IGDN deconv(N→N) IGDN deconv(N→C)

so an image whose sides are multiples of :data:`STRIDE` maps to a code of M channels at
1/16 of its resolution and back; :mod:`aekit.codec.pixels` pads other sizes and crops back.
"""

from __future__ import annotations

from torch import nn

from .gdn import GDN
from .pixels import STRIDE

__all__ = ["STRIDE", "analysis", "synthesis", "check_widths"]

KERNEL = 5
MAX_WIDTH = 1024  # N and M


def check_widths(channels: object, n: object, m: object) -> None:
    """ValueError unless C is 1 or 3 and N, M are ints in 1..MAX_WIDTH (they may come from a config.json)."""
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    for name, value in (("N", n), ("M", m)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_WIDTH:
            raise ValueError(f"{name} must be an int in 1..{MAX_WIDTH}, got {value!r}")


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, KERNEL, stride=2, padding=KERNEL // 2)


def _deconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, KERNEL, stride=2, padding=KERNEL // 2, output_padding=1)


def analysis(channels: int, n: int, m: int) -> nn.Sequential:
    """g_a: (B, C, H, W) -> (B, M, H/16, W/16), H and W multiples of 16."""
    return nn.Sequential(_conv(channels, n), GDN(n), _conv(n, n), GDN(n), _conv(n, n), GDN(n), _conv(n, m))


def synthesis(channels: int, n: int, m: int) -> nn.Sequential:
    """g_s: (B, M, h, w) -> (B, C, 16h, 16w)."""
    return nn.Sequential(
        _deconv(m, n),
        GDN(n, inverse=True),
        _deconv(n, n),
        GDN(n, inverse=True),
        _deconv(n, n),
        GDN(n, inverse=True),
        _deconv(n, channels),
    )
