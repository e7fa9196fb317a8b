"""Reconstruction errors of the notes, per sample (summed over features).

- squared error  E = ½‖z − x‖²
- cross-entropy  L_H(x, z) = −Σ_k [x_k log z_k + (1 − x_k) log(1 − z_k)], for x ∈ [0, 1]^d and a
  sigmoid output z = σ(a); computed from the logits a, which is exact and never takes log(0).

Models average these over the samples of a batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("bce", "mse")


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise ValueError(
            f"loss must be 'bce' (cross-entropy, inputs in [0, 1]) or 'mse' (½‖z − x‖²), got {name!r}"
        )
    return name


def squared_error(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E = ½‖z − x‖² for each sample: shape (N,)."""
    return 0.5 * (z - x).pow(2).flatten(1).sum(1)


def cross_entropy_with_logits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L_H(x, σ(logits)) for each sample: shape (N,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def reconstruction_error(loss: str, logits: torch.Tensor, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample error of reconstruction ``z`` (pre-activation ``logits``) against the clean ``x``."""
    if loss == "bce":
        return cross_entropy_with_logits(logits, x)
    return squared_error(z, x)


def mean_reconstruction_error(
    loss: str, logits: torch.Tensor, z: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """The batch mean of :func:`reconstruction_error`, as one summed kernel (Σ over samples and features, / N).

    Equal to ``reconstruction_error(...).mean()`` up to float rounding, with fewer passes over the
    batch forward and backward: the training objective of the dense models.
    """
    n = max(x.shape[0], 1)
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    return F.mse_loss(z, x, reduction="sum") * (0.5 / n)


def kl_sparsity(codes: torch.Tensor, rho: float) -> torch.Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the mean activation of code unit j over the batch (Ng's sparse AE)."""
    rho_hat = codes.mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
