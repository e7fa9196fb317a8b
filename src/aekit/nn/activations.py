"""The element-wise non-linearities φ of the notes, by name.

Besides the notes' sigmoid, tanh and ReLU: the Gaussian error linear unit
(Hendrycks & Gimpel 2016), φ(a) = a·Φ(a) with Φ the standard normal CDF, a
smooth ReLU (its 2-D MNIST maps: benchmarks/README.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "linear": nn.Identity,
}


# The values φ can take, (low, high), None for an unbounded side: the range of a layer's codes, which the
# corruption of the layer above needs (salt = high, pepper = low, Gaussian noise clipped to it).
RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, None),
    "gelu": (-0.17, None),  # min of a·Φ(a) is −0.16997, at a = −0.7518
    "linear": (None, None),
}


def check_activation(name: str, what: str = "activation") -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"{what} must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return name


def activation(name: str) -> nn.Module:
    """A fresh module for the activation ``name``."""
    return ACTIVATIONS[check_activation(name)]()


def apply(name: str, a: torch.Tensor) -> torch.Tensor:
    """φ(a) for the activation ``name`` (functional form, no module)."""
    if name == "sigmoid":
        return torch.sigmoid(a)
    if name == "tanh":
        return torch.tanh(a)
    if name == "relu":
        return torch.relu(a)
    if name == "gelu":
        return F.gelu(a)  # a·Φ(a)
    return a


def derivative(name: str, pre: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """φ'(a) from the pre-activation ``pre`` and the output ``out`` = φ(a)."""
    if name == "sigmoid":
        return out * (1 - out)
    if name == "tanh":
        return 1 - out * out
    if name == "relu":
        return (pre > 0).to(pre.dtype)
    if name == "gelu":  # Φ(a) + a·N(a; 0, 1)
        return torch.special.ndtr(pre) + pre * torch.exp(-0.5 * pre * pre) / math.sqrt(2 * math.pi)
    return torch.ones_like(pre)
