"""What a stack offers the greedy layer-wise pre-training of :func:`aekit.train.pretrain`.

Bengio, Lamblin, Popovici & Larochelle, "Greedy Layer-Wise Training of Deep
Networks", NIPS 2006: layer k is trained as an autoencoder on the codes
h⁽ᵏ⁻¹⁾ of the layers below, then its encoder is kept and its decoder discarded.
The models here only say which autoencoder trains layer k, how its encoder is
kept and how h⁽ᵏ⁾ follows from h⁽ᵏ⁻¹⁾; the training loop lives above nn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import torch
from torch import nn

__all__ = ["GreedyLayers"]

#: The kind of autoencoder that trains one layer of a stack.
LayerAE = TypeVar("LayerAE", bound=nn.Module)


class GreedyLayers(nn.Module, Generic[LayerAE]):
    """Mixin of the models :func:`aekit.train.pretrain` can pre-train; layers k are 0-based.

    ``GreedyLayers[A]``: layer k is trained by an autoencoder of type ``A``.
    """

    if TYPE_CHECKING:  # provided by AEModule, which every user of this mixin also is
        history: dict | None

        def validate_input(self, X: object, name: str = "X") -> np.ndarray: ...

    @property
    def n_layers(self) -> int:
        """The number L of layers pre-trained one after the other."""
        raise NotImplementedError

    def pretraining_data(self, X: object, name: str = "X") -> np.ndarray:
        """The checked input of layer 0 (float32)."""
        return self.validate_input(X, name=name)

    def check_pretrainable(self, k: int) -> None:
        """Raise now, before any training, if layer ``k`` cannot be pre-trained as configured."""

    def layer_autoencoder(self, k: int) -> LayerAE:
        """The autoencoder that trains layer ``k``, its encoder starting from the stack's layer k."""
        raise NotImplementedError

    def keep_layer(self, k: int, ae: LayerAE) -> None:
        """Keep the trained encoder of ``ae`` as layer ``k`` (its decoder is discarded)."""

    def layer_codes(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """h⁽ᵏ⁺¹⁾ from h⁽ᵏ⁾, the input of layer ``k``: what layer k + 1 is trained on."""
        raise NotImplementedError
