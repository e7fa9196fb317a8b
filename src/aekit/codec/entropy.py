"""A factorized entropy model: one learned density per latent dimension (Ballé et al. 2017, 2018).

Ballé, Laparra & Simoncelli, "End-to-end optimized image compression", ICLR 2017;
Ballé, Minnen, Singh, Hwang & Johnston, "Variational image compression with a
scale hyperprior", ICLR 2018 (the factorized prior, appendix 6.1).

Each dimension d has its own density p_d, here a mixture of K logistics
(weights π_dk, locations μ_dk, scales s_dk) with cumulative

    F_d(t) = Σ_k π_dk σ((t − μ_dk) / s_dk).

A code ŷ quantised to the integers has probability P_d(ŷ) = F_d(ŷ + ½) − F_d(ŷ − ½):
the density convolved with a unit-width box. During training ŷ is replaced by
ỹ = y + u, u ~ U(−½, ½) (the quantisation proxy), and the rate is
R = −Σ_d log2 P_d(ỹ_d) bits per item. :meth:`FactorizedPrior.tabulate` turns
the model into the integer tables of :class:`aekit.codec.coder.Tables`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .coder import MAX_TABLE_LENGTH

__all__ = ["FactorizedPrior", "quantise_pmf"]

LIKELIHOOD_BOUND = 1e-9


class FactorizedPrior(nn.Module):
    """Mixture-of-logistics density per latent dimension.

    Parameters
    ----------
    dim : int
        Number of latent dimensions D.
    components : int
        Mixture components K per dimension.
    """

    def __init__(self, dim: int, components: int = 3):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if not isinstance(components, int) or not 1 <= components <= 16:
            raise ValueError(f"components must be an int in 1..16, got {components!r}")
        self.dim, self.components = dim, components
        self.logits = nn.Parameter(torch.zeros(dim, components))  # π = softmax
        self.loc = nn.Parameter(torch.linspace(-1.0, 1.0, components).repeat(dim, 1))  # μ
        self.log_scale = nn.Parameter(torch.zeros(dim, components))  # log s

    def _params(self, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(π, μ, s) of each dimension's mixture (D, K), cast to ``dtype`` when given."""
        logits: torch.Tensor = self.logits
        loc: torch.Tensor = self.loc
        log_scale: torch.Tensor = self.log_scale
        if dtype is not None:
            logits, loc, log_scale = logits.to(dtype), loc.to(dtype), log_scale.to(dtype)
        return torch.softmax(logits, -1), loc, log_scale.clamp(-7.0, 7.0).exp()

    def cdf(self, t: torch.Tensor) -> torch.Tensor:
        """F_d(t) for t of shape (..., D)."""
        weight, loc, scale = self._params(t.dtype)
        return (weight * torch.sigmoid((t.unsqueeze(-1) - loc) / scale)).sum(-1)

    def likelihood(self, y: torch.Tensor) -> torch.Tensor:
        """P_d(y) = F_d(y + ½) − F_d(y − ½) for y of shape (N, D), bounded below by 1e-9."""
        weight, loc, scale = self._params(y.dtype)
        upper = (y.unsqueeze(-1) + 0.5 - loc) / scale  # (N, D, K)
        lower = (y.unsqueeze(-1) - 0.5 - loc) / scale
        # σ(a) − σ(b) = σ(−b) − σ(−a): take the side where both are small, to keep precision in the tails
        sign = -torch.sign(upper + lower).detach()
        sign = torch.where(sign == 0, torch.ones_like(sign), sign)
        mass = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return (weight * mass).sum(-1).clamp_min(LIKELIHOOD_BOUND)

    def bits(self, y: torch.Tensor) -> torch.Tensor:
        """Rate R = −Σ_d log2 P_d(y_d) of each item (N,)."""
        return -torch.log2(self.likelihood(y)).sum(-1)

    @torch.no_grad()
    def tabulate(
        self, precision: int = 16, tail_mass: float = 1e-6, max_length: int = MAX_TABLE_LENGTH
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer tables ``(offsets, lengths, freqs)`` of the quantised densities.

        Dimension d keeps the integers o_d..o_d + L_d − 1 between its ``tail_mass / 2`` quantiles;
        the tails beyond are folded into the end symbols (codes outside are clamped to them).
        The probabilities are scaled to integer frequencies >= 1 summing to 2^precision.
        """
        limit = max_length // 2
        grid = torch.arange(
            -limit, limit + 1, dtype=torch.float64, device=self.loc.device
        )  # candidate symbols
        cdf = self.cdf((grid + 0.5).unsqueeze(-1).expand(-1, self.dim))  # F(k + ½), (G, D)
        edges = cdf.T.cpu().numpy()  # (D, G)
        half = tail_mass / 2
        offsets, lengths, rows = [], [], []
        for d in range(self.dim):
            lo = int(np.searchsorted(edges[d], half, side="left"))  # first k: F(k+½) >= tail
            hi = int(np.searchsorted(edges[d], 1 - half, side="left"))  # first k: F(k+½) >= 1-tail
            lo, hi = min(lo, len(grid) - 2), min(max(hi, lo + 1), len(grid) - 1)
            cum = np.concatenate([[0.0], edges[d, lo:hi], [1.0]])  # F at the cell edges
            pmf = np.diff(cum)  # tails folded in
            offsets.append(int(grid[lo]))
            lengths.append(len(pmf))
            rows.append(quantise_pmf(pmf, precision))
        width = max(lengths)
        freqs = np.zeros((self.dim, width), dtype=np.int64)
        for d, row in enumerate(rows):
            freqs[d, : len(row)] = row
        return np.array(offsets, dtype=np.int64), np.array(lengths, dtype=np.int64), freqs


def quantise_pmf(pmf: np.ndarray, precision: int) -> np.ndarray:
    """Probabilities -> integer frequencies >= 1 that sum to exactly 2^precision."""
    total = 1 << precision
    if len(pmf) > total:
        raise ValueError(f"{len(pmf)} symbols do not fit {precision}-bit frequencies")
    pmf = np.clip(pmf, 0.0, None)
    pmf = pmf / pmf.sum()
    freqs = 1 + np.floor(pmf * (total - len(pmf))).astype(np.int64)
    freqs[int(np.argmax(freqs))] += total - int(freqs.sum())
    return freqs
