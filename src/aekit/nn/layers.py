"""The one dense block of the notes, y = φ(W x + b), and stacks of it.

Every dense model (:class:`~aekit.nn.dense.Autoencoder`, the stacked
autoencoder, the stacked classifier) is built from :class:`Dense` layers in a
:class:`DenseStack`; tied decoders (W' = Wᵀ, the very same Parameter) call
:func:`dense` with the transposed encoder weight. Bengio et al., "Greedy
Layer-Wise Training of Deep Networks", NIPS 2006; Vincent et al., JMLR 11 (2010).

A :class:`Dense` is an ``nn.Linear`` (parameters ``weight`` and ``bias``), so
the state-dict keys of the models, and their checkpoints, are those of the
``nn.Linear`` layers they were built from before.

:func:`batched_dense` is the same block for K independent layers at once (one
``torch.baddbmm``): the members of the outlier ensemble (:mod:`aekit.outliers`)
train side by side through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, overload

import torch
import torch.nn.functional as F
from torch import nn

from . import activations

__all__ = ["Dense", "DenseStack", "batched_dense", "dense", "dense_with_pre"]


def dense_with_pre(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pre-activation a = W x + b and the output y = φ(a), for a batch ``x`` of shape (N, in)."""
    a = F.linear(x, weight, bias)  # W x + b
    return a, activations.apply(activation, a)  # y = φ(W x + b)


def dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str) -> torch.Tensor:
    """y = φ(W x + b) for a batch ``x`` of shape (N, in); ``weight`` is W, of shape (out, in)."""
    return dense_with_pre(x, weight, bias, activation)[1]


def batched_dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, activation: str) -> torch.Tensor:
    """y_k = φ(W_k x_k + b_k) for K layers at once.

    ``x``: (K, N, in), a batch per layer; ``weight``: (K, in, out), W_kᵀ stacked, so that the
    product is one batched matrix product; ``bias``: (K, 1, out). Returns (K, N, out).
    """
    a = torch.baddbmm(bias, x, weight)  # x_k W_kᵀ + b_k for every k
    return activations.apply(activation, a)  # y = φ(W x + b)


class Dense(nn.Linear):
    """One dense layer y = φ(W x + b).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of x and y.
    activation : str
        Name of φ in :data:`aekit.nn.activations.ACTIVATIONS`.

    Notes
    -----
    Construction draws torch's default ``nn.Linear`` initialisation; :meth:`init_weights`
    then gives the one the registry holds for φ (the models call it once all their layers exist,
    so that seeded models draw the same weights as before).
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "linear") -> None:
        super().__init__(in_features, out_features)
        self.activation = activations.check_activation(activation)

    def init_weights(self) -> None:
        """W from the registry's initialisation for φ (Glorot, or He for rectifiers), b = 0."""
        activations.ACTIVATIONS[self.activation].init(self.weight)
        nn.init.zeros_(self.bias)

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """a = W x + b."""
        return super().forward(x)  # nn.Linear: W x + b

    def forward_with_pre(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, y) with a = W x + b and y = φ(a)."""
        return dense_with_pre(x, self.weight, self.bias, self.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = φ(W x + b)."""
        return dense(x, self.weight, self.bias, self.activation)

    def extra_repr(self) -> str:
        """``in_features=…, out_features=…, bias=True, activation=…`` in the module's repr."""
        return f"{super().extra_repr()}, activation={self.activation}"


class DenseStack(nn.ModuleList):
    """Dense layers applied in turn: h⁽ᵏ⁾ = φ_k(W_k h⁽ᵏ⁻¹⁾ + b_k), h⁽⁰⁾ = x.

    A ``ModuleList`` of :class:`Dense` layers (keys ``0.weight``, ``0.bias``, ...);
    :meth:`from_sizes` builds one from the layer sizes and one activation name per layer.
    """

    if TYPE_CHECKING:  # ModuleList's own signatures, narrowed to the Dense layers a stack holds

        @overload
        def __getitem__(self, idx: slice) -> DenseStack: ...
        @overload
        def __getitem__(self, idx: int) -> Dense: ...
        def __getitem__(self, idx: int | slice) -> Dense | DenseStack: ...
        def __iter__(self) -> Iterator[Dense]: ...

    @classmethod
    def from_sizes(cls, sizes: Iterable[int], acts: Iterable[str]) -> DenseStack:
        """Layers ``sizes[0] -> sizes[1] -> ...``, layer k with φ = ``acts[k]``."""
        sizes, acts = list(sizes), list(acts)
        if len(acts) != len(sizes) - 1:
            raise ValueError(f"DenseStack needs one activation per layer ({len(sizes) - 1}), got {acts}")
        return cls(Dense(a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], acts))

    @property
    def activation_names(self) -> list[str]:
        """φ of each layer, bottom first."""
        return [layer.activation for layer in self]

    def init_weights(self) -> None:
        """:meth:`Dense.init_weights` for every layer, bottom first."""
        for layer in self:
            layer.init_weights()

    def forward(self, x: torch.Tensor, upto: int | None = None, *, start: int = 0) -> torch.Tensor:
        """h⁽ᵏ⁾ for k = ``upto`` (default: the top) from h⁽ˢᵗᵃʳᵗ⁾ = ``x`` (default: the input)."""
        for layer in list(self)[start:upto]:
            x = layer(x)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """All layers, the top one without its φ: its pre-activation W_L h⁽ᴸ⁻¹⁾ + b_L."""
        return self[-1].pre_activation(self.forward(x, len(self) - 1))
