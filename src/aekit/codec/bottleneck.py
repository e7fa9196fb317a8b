"""The entropy bottleneck: quantisation in its modes, and the integer tables of the density.

Ballé, Laparra & Simoncelli, ICLR 2017; Ballé, Minnen, Singh, Hwang & Johnston, ICLR 2018
(the factorized prior). One method quantises the code y, in the mode its caller needs:

    "noise"       ỹ = y + u,  u ~ U(−½, ½)          (the training proxy for rounding)
    "ste"         round(y) forward, identity gradient (straight-through)
    "dequantize"  ŷ = round(y), as floats            (what g_s sees at test time)
    "symbols"     ŷ = clip(round(y)) in each table's range, int64 (what is entropy-coded)

and :meth:`EntropyBottleneck.update` tabulates the density into the integer frequency
tables of :class:`aekit.codec.coder.Tables`, explicitly, after training. Coding refuses
tables that are missing (never updated) or stale (the density changed since).
"""

from __future__ import annotations

import hashlib
from typing import Literal, overload

import numpy as np
import torch
from torch import nn

from ..errors import BitstreamError
from .coder import MAX_TABLE_LENGTH, Tables
from .entropy import FactorizedPrior

__all__ = ["EntropyBottleneck", "QUANTIZE_MODES"]

QUANTIZE_MODES = ("noise", "ste", "dequantize", "symbols")


class EntropyBottleneck(nn.Module):
    """A factorized density over the D code values, its quantiser and its integer tables.

    Parameters
    ----------
    dim : int
        D, the values of one item's code.
    components : int
        Logistic mixture components of each dimension's density.
    precision : int
        Bits of the integer frequency tables (2^precision total per dimension).
    tail_mass : float
        Probability left outside each table (folded into its end symbols).
    table_width : int
        Columns of the table buffer (0 before :meth:`update`; a checkpoint records it).
    """

    def __init__(
        self,
        dim: int,
        components: int = 3,
        *,
        precision: int = 16,
        tail_mass: float = 1e-6,
        table_width: int = 0,
    ):
        super().__init__()
        self.precision = precision
        self.tail_mass = float(tail_mass)
        self.prior = FactorizedPrior(dim, components)
        self._density_modules = list(self.prior.modules())  # fixed at construction; their tensors may change
        self.table_offsets: torch.Tensor
        self.table_lengths: torch.Tensor
        self.table_freqs: torch.Tensor
        self.register_buffer("table_offsets", torch.zeros(dim, dtype=torch.int32))
        self.register_buffer("table_lengths", torch.zeros(dim, dtype=torch.int32))
        self.register_buffer("table_freqs", torch.zeros(dim, table_width, dtype=torch.int32))
        self._tables: Tables | None = None
        self._tabulated: bytes | None = None  # digest of the density the tables were made from
        self._seen: tuple | None = None  # (data pointer, version) of its parameters when last checked

    # ------------------------------------------------------------------ quantisation
    @overload
    def quantize(self, y: torch.Tensor, mode: Literal["noise", "ste", "dequantize"]) -> torch.Tensor: ...
    @overload
    def quantize(self, y: torch.Tensor, mode: Literal["symbols"]) -> np.ndarray: ...
    @overload
    def quantize(self, y: torch.Tensor, mode: str) -> torch.Tensor | np.ndarray: ...
    def quantize(self, y: torch.Tensor, mode: str) -> torch.Tensor | np.ndarray:
        """y quantised in ``mode`` (see the module docstring); "symbols" gives a numpy int64 array (N, D).

        Raises
        ------
        ValueError
            ``mode`` is not one of :data:`QUANTIZE_MODES`.
        BitstreamError
            "symbols" without current tables (see :attr:`tables`).
        DataError
            "symbols" of a NaN or infinite code.
        """
        if mode == "noise":
            return y + torch.empty_like(y).uniform_(-0.5, 0.5)  # ỹ = y + u
        if mode == "ste":
            return y + (torch.round(y) - y).detach()
        if mode == "dequantize":
            return torch.round(y)  # ŷ
        if mode == "symbols":
            return self.tables.quantize(y.detach().cpu().numpy())  # clip(round(y)), one rule for both sides
        raise ValueError(f"mode must be one of {', '.join(QUANTIZE_MODES)}, got {mode!r}")

    def bits(self, y: torch.Tensor) -> torch.Tensor:
        """Rate R = −Σ_d log2 P_d(y_d) of each item (N,), from the density (differentiable)."""
        return self.prior.bits(y)

    # ------------------------------------------------------------------ tables
    @torch.no_grad()
    def update(self) -> EntropyBottleneck:
        """Tabulate the density into integer CDF tables (call after training); returns self."""
        offsets, lengths, freqs = self.prior.tabulate(self.precision, self.tail_mass)
        device = self.table_offsets.device
        self.table_offsets = torch.as_tensor(offsets, dtype=torch.int32, device=device)
        self.table_lengths = torch.as_tensor(lengths, dtype=torch.int32, device=device)
        self.table_freqs = torch.as_tensor(freqs, dtype=torch.int32, device=device)
        self.tables_match_density()
        return self

    def clear(self) -> None:
        """Forget the tables (before the density changes); :meth:`update` makes new ones."""
        self.table_lengths.zero_()
        self._tables = self._tabulated = self._seen = None

    def tables_match_density(self) -> None:
        """Record that the table buffers belong to the density as it is now (after update or a load)."""
        self._tables = None
        self._tabulated = self._density_digest()
        self._seen = self._density_key()

    @property
    def updated(self) -> bool:
        """Whether the table buffers hold tables (every dimension has two symbols at least)."""
        return bool(self.table_lengths.min() >= 2)

    @property
    def tables(self) -> Tables:
        """The integer tables as :class:`~aekit.codec.coder.Tables`, refused if missing or stale.

        Raises
        ------
        BitstreamError
            No tables yet (:meth:`update` was never called) or the density changed since.
        """
        if self._tables is not None and self._density_key() == self._seen:  # the path of every message
            return self._tables
        if not self.updated:
            raise BitstreamError("the codec has no entropy tables yet: call codec.update() after training")
        self._check_current()
        if self._tables is None:
            self._tables = self.read_tables()
        return self._tables

    def read_tables(self) -> Tables:
        """The table buffers as :class:`Tables` (ValueError if they are not valid tables)."""
        return Tables(
            self.table_offsets.cpu().numpy(),
            self.table_lengths.cpu().numpy(),
            self.table_freqs.cpu().numpy(),
            self.precision,
        )

    def _check_current(self) -> None:
        """BitstreamError if the density's parameters changed since the tables were made."""
        key = self._density_key()
        if key == self._seen:  # the same tensors, not written to since: nothing to hash
            return
        if self._tabulated is not None and self._density_digest() != self._tabulated:
            raise BitstreamError(
                "the entropy tables are stale: the entropy model changed since codec.update() "
                "(training?); call codec.update() again"
            )
        self._tabulated = self._tabulated or self._density_digest()
        self._seen = key

    def _density_key(self) -> tuple:
        """Which tensors hold the density and how often each was written to: cheap, checked per message."""
        return tuple(
            (p.data_ptr(), p._version)
            for m in self._density_modules
            for p in m._parameters.values()
            if p is not None
        )

    def _density_digest(self) -> bytes:
        digest = hashlib.sha256()
        for p in self.prior.parameters():
            digest.update(p.detach().cpu().float().contiguous().numpy().tobytes())
        return digest.digest()


def check_table_width(table_width: object) -> None:
    """ValueError unless ``table_width`` is an int in 0..MAX_TABLE_LENGTH (it may come from a config.json)."""
    if (
        not isinstance(table_width, int)
        or isinstance(table_width, bool)
        or not 0 <= table_width <= MAX_TABLE_LENGTH
    ):
        raise ValueError(
            f"table_width must be an int in 0..{MAX_TABLE_LENGTH} (symbols per table), got {table_width!r}"
        )
