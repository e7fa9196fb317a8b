"""What every coding model shares around its entropy bottleneck: tables, fingerprint, model id.

A model that codes with integer tables (Ballé et al. 2018: "the entropy model is tabulated for
the decoder") tabulates them explicitly after training (:meth:`Tabulated.update`), refuses stale
ones, and is named in each stream by its fingerprint, a SHA-256 of every weight and table
(:mod:`aekit.codec.fingerprint`), recomputed whenever the weights may have changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn

from . import bitstream
from .bottleneck import EntropyBottleneck
from .coder import Tables
from .fingerprint import state_digest

__all__ = ["Tabulated"]

_Self = TypeVar("_Self", bound="Tabulated")


class Tabulated(nn.Module):
    """Mixin of an ``nn.Module`` with an ``entropy_bottleneck`` (:class:`EntropyBottleneck`)."""

    entropy_bottleneck: EntropyBottleneck
    _fingerprint: bytes | None = None
    config: dict  # the constructor arguments (AEModule), and the two a codec may change after building:
    lmbda: float
    quantizer: str

    def checkpoint_args(self) -> dict:
        """The constructor arguments that rebuild this codec, with its current λ, quantiser and table width."""
        return {
            **self.config,
            "lmbda": self.lmbda,
            "quantizer": self.quantizer,
            "table_width": int(self.entropy_bottleneck.table_freqs.shape[1]),
        }

    def update(self: _Self) -> _Self:
        """Tabulate the entropy model into integer CDF tables (call after training); returns self."""
        self.entropy_bottleneck.update()
        self._fingerprint = None
        return self

    def clear_tables(self) -> None:
        """Forget the tables (before the weights change); :meth:`update` makes new ones."""
        self.entropy_bottleneck.clear()
        self._fingerprint = None

    @property
    def updated(self) -> bool:
        """Whether the model has entropy tables (:meth:`update` was called, or they were loaded)."""
        return self.entropy_bottleneck.updated

    @property
    def tables(self) -> Tables:
        """The integer tables (needs :meth:`update`; refused if stale)."""
        return self.entropy_bottleneck.tables

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 (32 bytes) of every weight (decoder included) and the tables.

        A stream carries its first :data:`~aekit.codec.bitstream.MODEL_ID_BYTES` bytes
        (:attr:`model_id`) and binds all of it into its CRC-32.
        """
        if self._fingerprint is None:
            self._fingerprint = state_digest(self.state_dict())
        return self._fingerprint

    @property
    def model_id(self) -> bytes:
        """The fingerprint's first bytes, as written in each stream (picks the model in the service)."""
        return self.fingerprint[: bitstream.MODEL_ID_BYTES]

    def train(self: _Self, mode: bool = True) -> _Self:
        if mode:
            self._fingerprint = None  # weights may change: recompute after training
        return super().train(mode)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        self._fingerprint = None
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.entropy_bottleneck.tables_match_density()  # the tables were saved with this density
        return result
