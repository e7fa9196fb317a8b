"""The analysis and synthesis transforms a codec wraps: y = g_a(x), x̂ = g_s(ŷ).

Ballé, Laparra & Simoncelli, "End-to-end optimized image compression", ICLR 2017: a
codec is an analysis transform g_a (the encoder), a quantiser with an entropy model,
and a synthesis transform g_s (the decoder). :class:`Transforms` is what the codec
asks of the pair; :class:`AutoencoderTransforms` makes any aekit autoencoder one (its
``encode`` is g_a, its ``decode`` g_s). A new network (a convolutional photo codec)
is a new :class:`Transforms` in a file of its own.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from .. import registry
from . import bitstream

__all__ = [
    "Transforms",
    "AutoencoderTransforms",
    "build_autoencoder",
    "guess_image_shape",
    "MAX_PARAMETERS",
]

MAX_PARAMETERS = 1 << 28  # weights and buffers of an autoencoder built from a config (1 GiB of float32)


class Transforms(ABC):
    """The g_a / g_s pair of a codec: per-item ``input_shape`` -> a code of ``latent_shape`` and back.

    Attributes
    ----------
    module : nn.Module
        The module that holds the weights of both transforms.
    input_shape, latent_shape : tuple of int
        One item, and its code (``latent_size`` = D values).
    unit_interval : bool
        Inputs must lie in [0, 1].
    """

    module: Any  # an nn.Module: its methods (encode, decode, ...) are the transforms'
    input_shape: tuple[int, ...]
    latent_shape: tuple[int, ...]
    unit_interval: bool = False

    @property
    def latent_size(self) -> int:
        """D, the values of one item's code."""
        return math.prod(self.latent_shape)

    @abstractmethod
    def g_a(self, x: torch.Tensor) -> torch.Tensor:
        """y = g_a(x): codes (N, D) of inputs (N, *input_shape)."""

    @abstractmethod
    def g_s(self, y: torch.Tensor) -> torch.Tensor:
        """x̂ = g_s(y): reconstructions (N, *input_shape) of codes (N, D)."""

    @abstractmethod
    def spec(self) -> dict:
        """``{"class": name, "args": {...}}`` that rebuilds :attr:`module` (see :func:`build_autoencoder`)."""

    def analysis_graph(self) -> nn.Module:
        """g_a as a module (N, *input_shape) -> (N, D), the graph exported to ONNX for the device."""
        return _Analysis(self)


class _Analysis(nn.Module):
    """g_a flattened to (N, D), the graph that ships to the device."""

    def __init__(self, transforms: Transforms):
        super().__init__()
        self.module = transforms.module  # registered: .to() and .eval() reach the weights
        self._g_a = transforms.g_a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._g_a(x)


class AutoencoderTransforms(Transforms):
    """g_a = ``autoencoder.encode`` flattened to (N, D), g_s = ``autoencoder.decode``.

    Parameters
    ----------
    autoencoder : nn.Module
        Any aekit model with ``encode`` / ``decode`` and a fixed ``input_shape``.
    """

    def __init__(self, autoencoder: nn.Module):
        if not (
            hasattr(autoencoder, "encode")
            and hasattr(autoencoder, "decode")
            and isinstance(autoencoder, nn.Module)
        ):
            raise TypeError(
                f"autoencoder must be an aekit model with encode/decode, got {type(autoencoder).__name__}"
            )
        self.module = autoencoder
        self.input_shape = tuple(getattr(autoencoder, "input_shape", ()) or ())
        if not self.input_shape or None in self.input_shape:
            raise ValueError(f"the autoencoder must have a fixed input shape, got {self.input_shape!r}")
        self.unit_interval = bool(getattr(autoencoder, "unit_interval", False))
        self.latent_shape = _probe_latent_shape(autoencoder, self.input_shape)
        if not 1 <= self.latent_size <= bitstream.MAX_LATENT_SIZE:
            raise ValueError(
                f"the code has {self.latent_size} values per item, a bitstream carries "
                f"1..{bitstream.MAX_LATENT_SIZE}"
            )

    def g_a(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.encode(x).flatten(1)  # (N, D); flatten, not reshape(len(x)): ONNX keeps N free

    def g_s(self, y: torch.Tensor) -> torch.Tensor:
        return self.module.decode(y.reshape(len(y), *self.latent_shape))  # (N, *input_shape)

    def spec(self) -> dict:
        args = self.module.checkpoint_args() if hasattr(self.module, "checkpoint_args") else {}
        return {"class": type(self.module).__name__, "args": args}


def _probe_latent_shape(autoencoder: Any, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-item shape of ``autoencoder.encode`` on one zero input (in eval mode, mode restored)."""
    with torch.no_grad():
        was_training = autoencoder.training
        probe = autoencoder.eval().encode(torch.zeros(1, *input_shape))
        autoencoder.train(was_training)
    return tuple(probe.shape[1:])


def build_autoencoder(spec: dict) -> nn.Module:
    """The autoencoder of ``{"class": name, "args": {...}}``, its size counted before anything is allocated."""
    if not isinstance(spec.get("class"), str) or not isinstance(spec.get("args"), dict):
        raise ValueError(f"autoencoder must be a module or {{'class': name, 'args': {{...}}}}, got {spec!r}")
    if spec["class"] not in registry.known_classes():
        raise ValueError(
            f"unknown autoencoder class {spec['class']!r}; known: {', '.join(registry.known_classes())}"
        )
    cls = registry.model_class(spec["class"])
    size = _size_on_meta(cls, spec["args"])
    if size > MAX_PARAMETERS:
        raise ValueError(
            f"autoencoder {spec['class']} with {spec['args']} has {size:,} weights and buffers, "
            f"more than the allowed {MAX_PARAMETERS:,}"
        )
    return cls(**spec["args"])


def _size_on_meta(cls: type, args: dict) -> int:
    """Parameters and buffers of ``cls(**args)``, built on the meta device (shapes only, no memory)."""
    try:
        with torch.device("meta"):
            module = cls(**args)
    except (RuntimeError, OverflowError) as err:  # torch's word for an impossible size
        raise ValueError(f"cannot build {cls.__name__} from {args}: {err}") from None
    return sum(t.numel() for t in (*module.parameters(), *module.buffers()))


def guess_image_shape(input_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """How one item of ``input_shape`` is drawn: (H, W) or (H, W, 3); None if it is not an image."""
    if len(input_shape) == 1 and math.isqrt(input_shape[0]) ** 2 == input_shape[0]:
        return (math.isqrt(input_shape[0]),) * 2
    if len(input_shape) == 3 and input_shape[0] in (1, 3):
        return tuple(input_shape[1:]) if input_shape[0] == 1 else (*input_shape[1:], 3)
    if len(input_shape) == 2:
        return tuple(input_shape)
    return None
