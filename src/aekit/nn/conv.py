"""Convolutional autoencoders: Masci's CAE and the modern Conv + BN + ReLU one.

Masci, Meier, Cireşan & Schmidhuber, "Stacked Convolutional Auto-Encoders for
Hierarchical Feature Extraction", ICANN 2011. One encoder level k is

    Φ_k(X) = tanh(Ψ(X * W_k + b_k))          (block="masci"; Ψ = max-pooling)
    Φ_k(X) = Ψ(ReLU(BN(X * W_k + b_k)))      (block="modern", the notes' "Conv + BN + ReLU")

and the decoder inverts each component in reverse order. Ψ is not invertible;
:func:`aekit.nn.pooling.unpool` gives its approximate inverses: the notes'
``"random"`` (value at one random position of the window) and ``"spread"``
(value / k² everywhere), plus ``"switches"`` (max locations) and nearest
``"upsample"``. A masci decoder level is

    X̂ = φ(Ψ⁻¹(H) * W̃_k + c_k)               W̃_k = W_k flipped (``tied=True``: the same Parameter)

(``conv_transpose2d`` with W_k is exactly the convolution with the flipped
filters), with φ = tanh inside a stack and the output activation (sigmoid for
the cross-entropy) at the pixels. A modern decoder level is Conv + BN + ReLU
followed by up-sampling, and a last convolution maps back to the input channels
(the well-known Keras denoiser: Conv32-Pool-Conv32-Pool / Conv32-Up-Conv32-Up-Conv1).

Convolutions are "same" (odd kernels), so only pooling changes the size. A side
that is not a multiple of the pooling size loses its last rows/columns to Ψ
(floor) and gets zeros back from the un-pooling, so the reconstruction always
has the input's shape; an image smaller than pool_size^levels is an error.

With ``code_dim`` the code is a vector (the notes' last slide, "represent each digit with 2 values"):
the top maps are flattened and a dense stack (:class:`aekit.nn.layers.Dense`, y = φ(W x + b),
linear code units) maps them to ``code_dim`` values; the decoder mirrors it,

    y = W_c φ(W_1 vec(Φ_L(… Φ_1(X))) + b_1) + b_c      X̂ = decoder(reshape(φ(W'_1 φ(W'_c y + b'_c) + b'_1)))

so the model needs its ``image_size`` (H, W) when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..registry import register
from . import activations, losses
from . import corruption as corruption_lib
from .base import AEModule
from .corruption import Corruption
from .layers import DenseStack
from .layout import to_memory_format
from .pooling import check_unpool, max_pool, unpool

__all__ = ["ConvAutoencoder", "EncoderBlock", "BLOCKS"]

BLOCKS = ("modern", "masci")
#: The (height, width) of the maps entering each pooling, bottom level first.
Sizes = list[tuple[int, ...]]


def _channels(channels: int | Sequence[int]) -> list[int]:
    sizes = [channels] if isinstance(channels, int) else list(channels)
    if not sizes or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in sizes):
        raise ValueError(
            f"channels must be a positive int or a non-empty sequence of positive ints, got {channels!r}"
        )
    return sizes


def check_conv_args(in_channels: int, kernel_size: int, block: str, pool_size: int) -> None:
    """Shared argument checks of the convolutional models."""
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels <= 0:
        raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
    if (
        not isinstance(kernel_size, int)
        or isinstance(kernel_size, bool)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            f"kernel_size must be an odd positive int ('same' convolutions keep the size), "
            f"got {kernel_size!r}"
        )
    if block not in BLOCKS:
        raise ValueError(
            f"block must be 'modern' (Conv + BN + ReLU) or 'masci' (tanh(Ψ(X * W + b))), got {block!r}"
        )
    if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 2:
        raise ValueError(f"pool_size must be an int >= 2, got {pool_size!r}")


def check_spatial(x_shape: Sequence[int], levels: int, pool_size: int, name: str = "X") -> None:
    """Raise a clear error when an image is too small for ``levels`` poolings of ``pool_size``."""
    need = pool_size**levels
    h, w = x_shape[-2:]
    if h < need or w < need:
        raise DataError(
            f"{name} has images of size {h}x{w}, but {levels} pooling level(s) of size {pool_size} "
            f"need at least {need}x{need}: use fewer channels levels or a smaller pool_size"
        )


def _init_conv(conv: nn.Conv2d, init: Callable[[torch.Tensor], object]) -> None:
    """W from ``init``, b = 0."""
    init(conv.weight)
    if conv.bias is not None:  # every convolution here has one
        nn.init.zeros_(conv.bias)


class EncoderBlock(nn.Module):
    """One encoder level Φ_k: (N, c_in, H, W) -> (N, c_out, ⌊H/p⌋, ⌊W/p⌋), plus the pooling switches."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, block: str, pool_size: int = 2) -> None:
        super().__init__()
        self.block = block
        self.pool_size = pool_size
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)  # W_k, b_k
        self.bn = nn.BatchNorm2d(c_out) if block == "modern" else None
        if block == "masci":
            _init_conv(self.conv, lambda w: nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("tanh")))
        else:
            _init_conv(self.conv, lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))

    def forward(
        self, x: torch.Tensor, return_indices: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        a = self.conv(x)  # X * W_k + b_k
        if self.bn is None:  # masci
            pooled, idx = max_pool(a, self.pool_size, return_indices=True)  # Ψ(·)
            h = torch.tanh(pooled)  # Φ_k = tanh(Ψ(X * W_k + b_k))
        else:
            h, idx = max_pool(torch.relu(self.bn(a)), self.pool_size, return_indices=True)
        return (h, idx) if return_indices else h


class _MasciDecoderLevel(nn.Module):
    """Inverse of one masci level: φ(Ψ⁻¹(H) * W̃_k + c_k)."""

    def __init__(self, encoder: EncoderBlock, kernel_size: int, tied: bool) -> None:
        super().__init__()
        c_out, c_in = encoder.conv.weight.shape[:2]
        self.padding = kernel_size // 2
        self.tied = tied
        if tied:
            self.bias = nn.Parameter(torch.zeros(c_in))  # c_k
            self._encoder = [encoder]  # a plain list: the weight is the encoder's Parameter, not a copy
        else:
            self.conv = nn.Conv2d(c_out, c_in, kernel_size, padding=self.padding)  # W̃_k, c_k
            _init_conv(self.conv, nn.init.xavier_uniform_)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.tied:  # conv_transpose2d with W_k = convolution with the flipped, transposed filters W̃_k
            return F.conv_transpose2d(h, self._encoder[0].conv.weight, self.bias, padding=self.padding)
        return self.conv(h)


class _ModernDecoderLevel(nn.Module):
    """Conv + BN + ReLU before the up-sampling of one modern level."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(c_out)
        _init_conv(self.conv, lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(h)))


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_code(
    code_dim: object, image_size: object, dense: object, unpool: str, levels: int, pool_size: int
) -> tuple[tuple[int, int], list[int]]:
    """The checked ``(image_size, dense)`` of a CAE with a dense code of ``code_dim`` values."""
    if not _positive_int(code_dim):
        raise ValueError(f"code_dim must be a positive int (the values of the dense code), got {code_dim!r}")
    if (
        not isinstance(image_size, Sequence)
        or len(image_size) != 2
        or not all(_positive_int(s) for s in image_size)
    ):
        raise ValueError(
            f"code_dim={code_dim} flattens the top feature maps into a dense layer, whose size needs the "
            f"images' (height, width): pass image_size=(H, W) with positive ints, got {image_size!r}"
        )
    check_spatial(tuple(image_size), levels, pool_size, "image_size")
    if not isinstance(dense, Sequence) or not all(_positive_int(d) for d in dense):
        raise ValueError(f"dense must be a sequence of positive ints (hidden dense sizes), got {dense!r}")
    if unpool == "switches":
        raise ValueError(
            f"code_dim={code_dim} decodes from the dense code alone; unpool='switches' would pass the "
            "encoder's max-pooling locations around it: use unpool='upsample', 'random' or 'spread'"
        )
    return (int(image_size[0]), int(image_size[1])), list(dense)


def _check_output(loss: str, output_activation: str, tied: bool, block: str) -> None:
    """The loss fits the output's φ, and tied filters fit the decoder."""
    losses.check_loss(loss)
    activations.check_activation(output_activation, "output_activation")
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            f"loss='bce' is the cross-entropy of a sigmoid output; got output_activation="
            f"{output_activation!r}: use output_activation='sigmoid' or loss='mse'"
        )
    if tied and block != "masci":
        raise ValueError(
            "tied=True shares the encoder filters with the decoder of block='masci'; the modern "
            "decoder has convolutions of other shapes: use block='masci' or tied=False"
        )


@register
class ConvAutoencoder(AEModule):
    """Convolutional autoencoder on (N, C, H, W) images; the reconstruction has the input's shape.

    Parameters
    ----------
    in_channels : int
        Input channels C (1 for MNIST, 3 for CIFAR).
    channels : int or sequence of int
        Feature maps of each encoder level; each level pools by ``pool_size``.
    kernel_size : int
        Odd filter size of every convolution ("same" padding).
    block : {"modern", "masci"}
        Conv + BatchNorm + ReLU + max-pooling, or Masci's Φ(X) = tanh(Ψ(X * W + b)).
    unpool : {"upsample", "switches", "random", "spread"}
        Approximate inverse of Ψ in the decoder (:func:`aekit.nn.unpool`).
    pool_size : int
        Max-pooling window (and stride).
    tied : bool
        Masci decoder filters are the encoder's, flipped (one shared Parameter); ``block="masci"`` only.
    loss : {"bce", "mse"}
        Cross-entropy L_H (inputs in [0, 1], sigmoid output) or ½‖z − x‖², summed per image.
    output_activation : {"sigmoid", "tanh", "relu", "gelu", "linear"}
        φ of the reconstruction.
    corruption : Corruption, str or dict, optional
        q_D for a denoising CAE, e.g. ``"gaussian:0.5"``; used only in training mode.
    channels_last : bool
        Keep weights and activations in channels-last memory format (faster convolutions on CPU).
    code_dim : int, optional
        A dense code of this many values (e.g. 2 for a 2-D map): the top feature maps are flattened
        and mapped by dense layers ``dense`` to ``code_dim`` linear units; None (default): the code
        is the top feature maps.
    image_size : (int, int), optional
        (H, W) of the images; required with ``code_dim`` (the dense layer's input size).
    dense : sequence of int
        With ``code_dim``: hidden dense sizes between the flattened maps and the code (mirrored in
        the decoder).
    dense_activation : str
        With ``code_dim``: φ of the hidden dense layers (and of the decoder's layer back to the maps).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int | Sequence[int] = (32, 32),
        *,
        kernel_size: int = 3,
        block: str = "modern",
        unpool: str = "upsample",
        pool_size: int = 2,
        tied: bool = False,
        loss: str = "bce",
        output_activation: str = "sigmoid",
        corruption: Corruption | str | dict | None = None,
        channels_last: bool = True,
        code_dim: int | None = None,
        image_size: Sequence[int] | None = None,
        dense: Sequence[int] = (256,),
        dense_activation: str = "gelu",
    ) -> None:
        super().__init__()
        check_conv_args(in_channels, kernel_size, block, pool_size)
        channels = _channels(channels)
        check_unpool(unpool)
        _check_output(loss, output_activation, tied, block)
        size: tuple[int, int] | None = None  # the checked image_size of a dense code
        if code_dim is not None:
            size, dense = _check_code(code_dim, image_size, dense, unpool, len(channels), pool_size)
            activations.check_activation(dense_activation, "dense_activation")
        corruption = corruption_lib.from_config(corruption)
        code_args = (
            {
                "code_dim": code_dim,
                "image_size": list(size),
                "dense": dense,
                "dense_activation": dense_activation,
            }
            if code_dim is not None and size is not None
            else {}
        )  # only a dense-code model records them: the configs of the others stay as they were
        self._set_config(
            in_channels=in_channels,
            channels=channels,
            kernel_size=kernel_size,
            block=block,
            unpool=unpool,
            pool_size=pool_size,
            tied=bool(tied),
            loss=loss,
            output_activation=output_activation,
            corruption=corruption.to_config() if corruption else None,
            channels_last=bool(channels_last),
            **code_args,
        )
        self.code_dim = code_dim
        self.input_shape = (in_channels, *(size or (None, None)))
        self.unit_interval = loss == "bce"
        self.loss_name = loss
        self.block = block
        self.unpool_mode = unpool
        self.pool_size = pool_size
        self.output_activation = output_activation
        self.corruption = corruption
        self.channels_last = bool(channels_last)

        sizes = [in_channels, *channels]
        encoders = [EncoderBlock(a, b, kernel_size, block, pool_size) for a, b in zip(sizes[:-1], sizes[1:])]
        self.encoder_blocks = nn.ModuleList(encoders)
        if block == "masci":  # level k maps channels[k] -> sizes[k]; applied from the top down
            self.decoder_levels = nn.ModuleList(
                _MasciDecoderLevel(enc, kernel_size, bool(tied)) for enc in reversed(encoders)
            )
        else:
            tops = [channels[-1], *reversed(channels[1:])]  # input channels of each decoder level
            self.decoder_levels = nn.ModuleList(
                _ModernDecoderLevel(a, b, kernel_size) for a, b in zip(tops, reversed(channels))
            )
            self.output_conv = nn.Conv2d(channels[0], in_channels, kernel_size, padding=kernel_size // 2)
            _init_conv(self.output_conv, nn.init.xavier_uniform_)
        self._sizes: Sizes | None = None  # pre-pooling sizes, bottom first (known with a dense code)
        if code_dim is not None and size is not None:
            side: tuple[int, ...] = size
            self._sizes = []
            for _ in channels:
                self._sizes.append(side)
                side = tuple(s // pool_size for s in side)
            self.top_shape = (channels[-1], *side)
            flat = channels[-1] * side[0] * side[1]
            hidden = [dense_activation] * len(dense)
            self.code_layers = DenseStack.from_sizes([flat, *dense, code_dim], [*hidden, "linear"])
            self.uncode_layers = DenseStack.from_sizes(
                [code_dim, *reversed(dense), flat], [*hidden, dense_activation]
            )
            self.code_layers.init_weights()
            self.uncode_layers.init_weights()
        if self.channels_last:
            to_memory_format(self, torch.channels_last)

    @property
    def levels(self) -> int:
        return len(self.encoder_blocks)

    # ------------------------------------------------------------------ checks
    def validate_input(self, X: object, name: str = "X") -> np.ndarray:
        X = super().validate_input(X, name=name)
        check_spatial(X.shape, self.levels, self.pool_size, name)
        return X

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.config["in_channels"]:
            raise DataError(
                f"{type(self).__name__} expects (N, {self.config['in_channels']}, H, W) images, "
                f"got shape {tuple(x.shape)}"
            )
        check_spatial(x.shape, self.levels, self.pool_size, "x")
        if self._sizes is not None and tuple(x.shape[-2:]) != self._sizes[0]:
            raise DataError(
                f"{type(self).__name__} with a dense code expects images of size "
                f"{self._sizes[0][0]}x{self._sizes[0][1]} (its image_size), got {tuple(x.shape[-2:])}"
            )
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # ------------------------------------------------------------------ maps
    def encode_with_switches(self, x: torch.Tensor) -> tuple[torch.Tensor, Sizes, list[torch.Tensor]]:
        """The code and, per level (bottom first), the pre-pooling size and the max-pooling switches.

        With ``code_dim`` the code is the dense one, y = code_layers(vec(top maps)).
        """
        x = self._prepare(x)
        sizes: Sizes = []
        switches: list[torch.Tensor] = []
        for blk in self.encoder_blocks:
            sizes.append(tuple(x.shape[-2:]))
            x, idx = blk(x, return_indices=True)
            switches.append(idx)
        if self.code_dim is not None:
            x = self.code_layers(x.flatten(1))  # (N, code_dim), linear code units
        return x, sizes, switches

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code: the top feature maps (N, channels[-1], H / p^L, W / p^L), or (N, code_dim)."""
        return self.encode_with_switches(x)[0]

    def decode_logits(
        self, y: torch.Tensor, sizes: Sizes | None = None, switches: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Pre-activation of the reconstruction from the code ``y``.

        ``sizes`` (pre-pooling sizes, bottom first) restore sides that were not multiples of the
        pooling size; ``switches`` are required by ``unpool="switches"``.
        """
        if self.unpool_mode == "switches" and switches is None:
            raise ValueError(
                "unpool='switches' decodes with the max-pooling switches of the encoder: "
                "call forward(x), or decode_logits(y, sizes, switches) from encode_with_switches(x)"
            )
        if self.code_dim is not None:  # the dense code back to the top maps
            y = self.uncode_layers(y).reshape(len(y), *self.top_shape)
            if self.channels_last:
                y = y.contiguous(memory_format=torch.channels_last)
            sizes = self._sizes if sizes is None else sizes
        for level, dec in enumerate(self.decoder_levels):
            k = self.levels - 1 - level  # the encoder level being inverted
            size = sizes[k] if sizes is not None else None
            idx = switches[k] if switches is not None else None
            if self.block == "masci":
                y = dec(unpool(y, self.pool_size, self.unpool_mode, idx, size))  # Ψ⁻¹(H) * W̃_k + c_k
                if k > 0:
                    y = torch.tanh(y)
            else:
                y = unpool(dec(y), self.pool_size, self.unpool_mode, idx, size)  # Conv-BN-ReLU, Up
        return y if self.block == "masci" else self.output_conv(y)

    def decode(
        self, y: torch.Tensor, sizes: Sizes | None = None, switches: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The reconstruction z = φ(decode_logits(y))."""
        return activations.apply(self.output_activation, self.decode_logits(y, sizes, switches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction z of x (no corruption), same shape as x."""
        return self.decode(*self.encode_with_switches(x))

    # ------------------------------------------------------------------ objective
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_logits(*self.encode_with_switches(x))

    def reconstruction_error(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image error (L_H or ½‖z − x‖², summed over pixels) against ``target`` (default: x)."""
        logits = self._logits(x)
        z = activations.apply(self.output_activation, logits)
        return losses.reconstruction_error(self.loss_name, logits, z, x if target is None else target)

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Batch-mean training objective; in training mode with a corruption the input is x̃ ~ q_D(x̃ | x)."""
        target = x if target is None else target
        x_in = self.corruption(x) if (self.training and self.corruption is not None) else x
        logits = self._logits(x_in)
        z = activations.apply(self.output_activation, logits)
        return losses.reconstruction_error(self.loss_name, logits, z, target).mean()
