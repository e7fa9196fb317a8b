"""The element-wise non-linearities φ of the notes: one registry, one entry per φ.

Besides the notes' sigmoid, tanh and ReLU: the Gaussian error linear unit
(Hendrycks & Gimpel 2016), φ(a) = a·Φ(a) with Φ the standard normal CDF, a
smooth ReLU. Each entry holds the module and the function φ, its derivative
φ'(a) (the contractive penalty of Rifai et al. 2011), the range of values φ
takes (the corruption of the layer above needs it: salt = high, pepper = low,
Gaussian noise clipped to it) and the weight initialisation that suits it
(Glorot & Bengio 2010 for saturating units, He et al. 2015 for rectifiers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Activation", "ACTIVATIONS", "RANGES", "check_activation", "activation", "apply", "derivative"]


def _init_glorot(weight: torch.Tensor) -> None:
    nn.init.xavier_uniform_(weight)  # U(±√(6 / (fan_in + fan_out)))


def _init_he(weight: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(weight, nonlinearity="relu")  # U(±√(6 / fan_in))


@dataclass(frozen=True)
class Activation:
    """One non-linearity φ.

    Attributes
    ----------
    name : str
    module : type of torch.nn.Module
        A fresh ``module()`` computes φ.
    function : callable
        φ(a), functional form.
    derivative : callable
        φ'(a) from the pre-activation ``a`` and the output ``y`` = φ(a).
    value_range : (float or None, float or None)
        The values φ can take, (low, high), None for an unbounded side.
    init : callable
        Initialises a weight matrix W in place for a layer y = φ(W x + b).
    """

    name: str
    module: type[nn.Module]
    function: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    value_range: tuple[float | None, float | None]
    init: Callable[[torch.Tensor], None]


def _gelu_derivative(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Φ(a) + a·N(a; 0, 1)."""
    return torch.special.ndtr(a) + a * torch.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", nn.Sigmoid, torch.sigmoid, lambda a, y: y * (1 - y), (0.0, 1.0), _init_glorot),
        Activation("tanh", nn.Tanh, torch.tanh, lambda a, y: 1 - y * y, (-1.0, 1.0), _init_glorot),
        Activation("relu", nn.ReLU, torch.relu, lambda a, y: (a > 0).to(a.dtype), (0.0, None), _init_he),
        # min of a·Φ(a) is −0.16997, at a = −0.7518
        Activation("gelu", nn.GELU, F.gelu, _gelu_derivative, (-0.17, None), _init_he),
        Activation(
            "linear", nn.Identity, lambda a: a, lambda a, y: torch.ones_like(a), (None, None), _init_glorot
        ),
    )
}

RANGES: dict[str, tuple[float | None, float | None]] = {
    name: a.value_range for name, a in ACTIVATIONS.items()
}  # read from the registry; kept for callers that want the ranges alone


def check_activation(name: str, what: str = "activation") -> str:
    """``name`` if it is a registered activation, else ValueError naming the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{what} must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return name


def activation(name: str) -> nn.Module:
    """A fresh module for the activation ``name``."""
    return ACTIVATIONS[check_activation(name)].module()


def apply(name: str, a: torch.Tensor) -> torch.Tensor:
    """φ(a) for the activation ``name`` (functional form, no module)."""
    return ACTIVATIONS[name].function(a)


def derivative(name: str, pre: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """φ'(a) from the pre-activation ``pre`` and the output ``out`` = φ(a)."""
    return ACTIVATIONS[name].derivative(pre, out)
