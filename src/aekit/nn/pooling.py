"""Max-pooling Ψ and its approximate inverses (un-pooling), as in Masci et al. 2011.

Masci, Meier, Cireşan & Schmidhuber, "Stacked Convolutional Auto-Encoders for
Hierarchical Feature Extraction", ICANN 2011. Ψ (max-pooling over k×k windows)
is not invertible; the notes give two approximate inverses:

- ``"random"``: the pooled value is placed at one uniformly random position of
  its window, the other positions are set to zero;
- ``"spread"``: the pooled value is distributed evenly over the window, each
  position getting value / k² (used in fine-tuning).

Two extra modes: ``"switches"`` puts the value back where the maximum was (the
indices remembered by pooling, Zeiler & Fergus 2014), ``"upsample"`` is nearest
up-sampling (every position gets the value), the "Upsampling" of the modern
Conv + BN + ReLU architecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import torch
import torch.nn.functional as F

__all__ = ["UNPOOL_MODES", "check_unpool", "max_pool", "unpool"]

UNPOOL_MODES = ("upsample", "switches", "random", "spread")


def check_unpool(mode: str) -> str:
    """``mode`` if it is one of :data:`UNPOOL_MODES`, else a ValueError naming them."""
    if mode not in UNPOOL_MODES:
        raise ValueError(f"unpool mode must be one of {', '.join(UNPOOL_MODES)}, got {mode!r}")
    return mode


@overload
def max_pool(
    x: torch.Tensor, kernel_size: int = 2, *, return_indices: Literal[False] = False
) -> torch.Tensor: ...
@overload
def max_pool(
    x: torch.Tensor, kernel_size: int = 2, *, return_indices: Literal[True]
) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def max_pool(
    x: torch.Tensor, kernel_size: int = 2, *, return_indices: bool
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def max_pool(
    x: torch.Tensor, kernel_size: int = 2, *, return_indices: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Ψ: non-overlapping k×k max-pooling (floor mode); optionally with the switch indices."""
    if return_indices:
        return F.max_pool2d(x, kernel_size, kernel_size, return_indices=True)
    return F.max_pool2d(x, kernel_size, kernel_size)


def unpool(
    x: torch.Tensor,
    kernel_size: int = 2,
    mode: str = "upsample",
    indices: torch.Tensor | None = None,
    output_size: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Approximate inverse of k×k max-pooling: (N, C, h, w) -> (N, C, k·h, k·w), or ``output_size``.

    Parameters
    ----------
    x : Tensor (N, C, h, w)
        Pooled maps.
    kernel_size : int
        The pooling window k (non-overlapping, stride k).
    mode : {"upsample", "switches", "random", "spread"}
        See the module docstring.
    indices : Tensor, optional
        The switches returned by ``max_pool(..., return_indices=True)``; required for ``"switches"``.
    output_size : (H, W), optional
        Size of the map before pooling when it was not a multiple of k (floor pooling dropped
        the last rows/columns): the result is zero-padded at the bottom/right to it.
    generator : torch.Generator, optional
        Random source of ``"random"`` (default: the global one).
    """
    check_unpool(mode)
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1:
        raise ValueError(f"kernel_size must be a positive int, got {kernel_size!r}")
    if x.dim() != 4:
        raise ValueError(f"unpool expects (N, C, h, w) maps, got shape {tuple(x.shape)}")
    k = kernel_size
    n, c, h, w = x.shape
    size = (k * h, k * w) if output_size is None else tuple(int(s) for s in output_size)[-2:]
    if size[0] < k * h or size[1] < k * w or size[0] >= k * (h + 1) or size[1] >= k * (w + 1):
        raise ValueError(
            f"output_size {size} does not match pooled maps of size {(h, w)} with kernel_size {k}"
        )
    if mode == "switches":
        if indices is None:
            raise ValueError("unpool mode 'switches' needs the indices returned by max-pooling")
        if indices.shape != x.shape:
            raise ValueError(f"indices shape {tuple(indices.shape)} does not match x shape {tuple(x.shape)}")
        return F.max_unpool2d(x, indices, (k, k), (k, k), output_size=size)

    up = x.repeat_interleave(k, dim=2).repeat_interleave(k, dim=3)  # (N, C, kh, kw), each = value
    if mode == "spread":
        up = up / (k * k)  # value / k² everywhere
    elif mode == "random":
        pick = torch.randint(k * k, (n, c, h, w), device=x.device, generator=generator)
        onehot = F.one_hot(pick, k * k).to(x.dtype)  # (N, C, h, w, k²)
        mask = onehot.view(n, c, h, w, k, k).permute(0, 1, 2, 4, 3, 5).reshape(n, c, k * h, k * w)
        up = up * mask  # one position keeps the value
    if size != (k * h, k * w):
        up = F.pad(up, (0, size[1] - k * w, 0, size[0] - k * h))
    return up
