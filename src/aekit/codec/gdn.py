"""Generalized divisive normalization (GDN) and its inverse, the nonlinearity of photo codecs.

Ballé, Laparra & Simoncelli, "Density modeling of images using a generalized normalization
transformation", ICLR 2016; used in "End-to-end optimized image compression", ICLR 2017:

    GDN:          y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)
    inverse GDN:  y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²)

β > 0 and γ >= 0 are kept non-negative by the reparametrisation CompressAI uses
(Bégaint et al. 2020): a stored v gives the value max(v, bound)² − pedestal, with
pedestal = 2^−36 and the lower bound letting gradients through when they push the value
back up (:class:`LowerBound`), so a parameter at its bound is never stuck there.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GDN", "LowerBound", "NonNegative"]

_PEDESTAL = 2.0**-36  # (2^-18)², as in CompressAI


class _LowerBoundFn(torch.autograd.Function):
    """max(x, bound) forward; the gradient passes where x >= bound or where it would raise x."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, bound: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, bound = ctx.saved_tensors  # type: ignore[attr-defined]
        passes = (x >= bound) | (grad < 0)
        return passes.to(grad.dtype) * grad, None


class LowerBound(nn.Module):
    """max(x, bound), with the gradient of :class:`_LowerBoundFn` in training (a plain max when traced)."""

    bound: torch.Tensor

    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.tensor(float(bound)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() or torch.compiler.is_compiling() or not torch.is_grad_enabled():
            return torch.max(x, self.bound.to(x.dtype))  # what ONNX exports
        return _LowerBoundFn.apply(x, self.bound.to(x.dtype))


class NonNegative(nn.Module):
    """v -> max(v, √(minimum + pedestal))² − pedestal: a parameter kept >= ``minimum``."""

    def __init__(self, minimum: float = 0.0):
        super().__init__()
        self.lower_bound = LowerBound((minimum + _PEDESTAL) ** 0.5)

    @staticmethod
    def init(value: torch.Tensor) -> torch.Tensor:
        """The stored v whose value is ``value``: √(max(value + pedestal, pedestal))."""
        return torch.sqrt(torch.clamp_min(value + _PEDESTAL, _PEDESTAL))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(v).pow(2) - _PEDESTAL


class GDN(nn.Module):
    """GDN over the channels of (N, C, H, W): y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²); ``inverse``: × instead.

    Parameters
    ----------
    channels : int
        C.
    inverse : bool
        The inverse GDN of the synthesis transform.
    beta_min : float
        Lower bound of β (keeps the denominator away from 0).
    gamma_init : float
        Initial γ = gamma_init · I (β starts at 1).
    """

    def __init__(
        self, channels: int, *, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1
    ):
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegative(beta_min)
        self.gamma_reparam = NonNegative(0.0)
        self.beta = nn.Parameter(NonNegative.init(torch.ones(channels)))
        self.gamma = nn.Parameter(NonNegative.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma)
        c = gamma.shape[0]
        norm = nn.functional.conv2d(x * x, gamma.reshape(c, c, 1, 1), beta)  # β_i + Σ_j γ_ij x_j²
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)
