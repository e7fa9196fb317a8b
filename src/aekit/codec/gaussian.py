"""The Gaussian conditional: y's entropy model given a scale index from the hyperprior.

Ballé, Minnen, Singh, Hwang & Johnston, "Variational image compression with a scale
hyperprior", ICLR 2018. Each latent y_i is a zero-mean Gaussian of scale σ_i convolved with a
unit box, so a symbol k has probability

    P(k | σ) = Φ((k + ½) / σ) − Φ((k − ½) / σ).

σ takes one of S values, the scale table of CompressAI (Bégaint et al. 2020),

    σ_j = exp(log 0.11 + j · (log 256 − log 0.11) / (S − 1)),   j = 0..S−1, S = 64,

and the hyper-synthesis outputs the index j directly (:mod:`.hyper_synthesis`). For each j,
:meth:`GaussianConditional.tabulate` keeps the symbols −L_j..L_j, L_j = ⌈σ_j · Φ⁻¹(1 − τ/2)⌉
(tail mass τ folded into the end symbols) and turns the probabilities into integer frequencies
with the factorized model's quantiser (:func:`aekit.codec.entropy.quantise_pmf`): one table per
scale, stored as integers with the model, so no decoder ever recomputes a probability.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .coder import MAX_TABLE_LENGTH, Tables
from .entropy import LIKELIHOOD_BOUND, quantise_pmf

__all__ = ["GaussianConditional", "SCALE_MIN", "SCALE_MAX", "LEVELS", "scale_table"]

SCALE_MIN, SCALE_MAX, LEVELS = 0.11, 256.0, 64


def scale_table(levels: int = LEVELS) -> torch.Tensor:
    """σ_j, j = 0..S−1, log-spaced from 0.11 to 256 (float64)."""
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), levels, dtype=torch.float64))


def _phi(x: torch.Tensor) -> torch.Tensor:
    """Φ(x), the standard normal CDF."""
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


class GaussianConditional(nn.Module):
    """P(ŷ | j) for a table of S scales, its rate in training, and its S integer tables.

    Parameters
    ----------
    levels : int
        S, the number of scales.
    precision : int
        Bits of the integer frequencies.
    tail_mass : float
        τ, the probability beyond each table's ends (folded into them).
    table_width : int
        Columns of the table buffer (0 before :meth:`update`).
    """

    def __init__(
        self, levels: int = LEVELS, *, precision: int = 16, tail_mass: float = 1e-9, table_width: int = 0
    ):
        super().__init__()
        self.levels, self.precision, self.tail_mass = levels, precision, float(tail_mass)
        self.table_offsets: torch.Tensor
        self.table_lengths: torch.Tensor
        self.table_freqs: torch.Tensor
        self.log_scales: torch.Tensor
        self.register_buffer("table_offsets", torch.zeros(levels, dtype=torch.int32))
        self.register_buffer("table_lengths", torch.zeros(levels, dtype=torch.int32))
        self.register_buffer("table_freqs", torch.zeros(levels, table_width, dtype=torch.int32))
        self.register_buffer("log_scales", scale_table(levels).log().float(), persistent=False)

    def scales(self, index: torch.Tensor) -> torch.Tensor:
        """σ of a (float, straight-through) index t: exp(log σ_0 + t · Δ), = σ_t at the integers."""
        low, high = self.log_scales[0], self.log_scales[-1]
        return torch.exp(low + index * (high - low) / (self.levels - 1))

    def likelihood(self, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """P(y | σ_t) = Φ((½ − |y|)/σ) − Φ((−½ − |y|)/σ) (the upper tail side, for precision), >= 1e-9."""
        sigma = self.scales(index)
        v = y.abs()
        p = _phi((0.5 - v) / sigma) - _phi((-0.5 - v) / sigma)
        return p.clamp_min(LIKELIHOOD_BOUND)

    def bits(self, y: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """−Σ log2 P(y | σ_t) over everything but the batch axis: (B,)."""
        return -torch.log2(self.likelihood(y, index)).flatten(1).sum(1)

    @torch.no_grad()
    def tabulate(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(offsets, lengths, freqs)``: symbols −L_j..L_j of each scale j with their integer frequencies."""
        sigmas = scale_table(self.levels)
        z = -torch.special.ndtri(torch.tensor(self.tail_mass / 2, dtype=torch.float64))  # Φ⁻¹(1 − τ/2)
        limit = (MAX_TABLE_LENGTH - 1) // 2
        rows, offsets, lengths = [], [], []
        for sigma in sigmas:
            half = min(limit, max(1, math.ceil(float(sigma * z))))
            k = torch.arange(-half, half + 1, dtype=torch.float64)
            upper = _phi((k + 0.5) / sigma)
            upper[-1] = 1.0  # the tails fold into the end symbols
            lower = torch.cat([torch.zeros(1, dtype=torch.float64), upper[:-1]])
            rows.append(quantise_pmf((upper - lower).numpy(), self.precision))
            offsets.append(-half)
            lengths.append(2 * half + 1)
        freqs = np.zeros((self.levels, max(lengths)), dtype=np.int64)
        for j, row in enumerate(rows):
            freqs[j, : len(row)] = row
        return np.array(offsets, np.int64), np.array(lengths, np.int64), freqs

    @torch.no_grad()
    def update(self) -> GaussianConditional:
        """Write the integer tables into the buffers (they depend on S, τ and the precision only)."""
        offsets, lengths, freqs = self.tabulate()
        device = self.table_offsets.device
        self.table_offsets = torch.as_tensor(offsets, dtype=torch.int32, device=device)
        self.table_lengths = torch.as_tensor(lengths, dtype=torch.int32, device=device)
        self.table_freqs = torch.as_tensor(freqs, dtype=torch.int32, device=device)
        return self

    @property
    def updated(self) -> bool:
        return bool(self.table_lengths.min() >= 2)

    def tables(self) -> Tables:
        """The S tables as :class:`~aekit.codec.coder.Tables` (table j codes the symbols of scale index j)."""
        return Tables(
            self.table_offsets.cpu().numpy(),
            self.table_lengths.cpu().numpy(),
            self.table_freqs.cpu().numpy(),
            self.precision,
        )
