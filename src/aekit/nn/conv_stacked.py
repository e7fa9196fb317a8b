"""Stacks of convolutional autoencoders that initialise CNNs (Masci et al. 2011).

Masci, Meier, Cireşan & Schmidhuber, "Stacked Convolutional Auto-Encoders for
Hierarchical Feature Extraction", ICANN 2011: "a CAE stack can be used to
initialize a CNN with identical topology prior to a supervised training stage".

Greedy layer-wise pre-training (:func:`aekit.train.pretrain`): level k is a
one-level :class:`~aekit.nn.conv.ConvAutoencoder` trained on the pooled maps
Φ_{k−1}(…Φ_1(X)) of the levels below, computed once for the whole data set; its
decoder is then discarded. :meth:`StackedConvAutoencoder.to_cnn` builds a
:class:`ConvClassifier` (the same encoder blocks, a fully connected head)
whose convolutional filters are exact copies of the pre-trained ones; with
``pretrained=False`` the same builder gives the randomly initialised baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from ..registry import register
from . import corruption as corruption_lib
from .base import AEModule
from .conv import ConvAutoencoder, EncoderBlock, _channels, check_conv_args, check_spatial
from .corruption import Corruption
from .greedy import GreedyLayers
from .layout import to_memory_format
from .pooling import check_unpool

__all__ = ["ConvClassifier", "StackedConvAutoencoder"]


def _size_pair(input_size: int | Sequence[int], what: str = "input_size") -> list[int]:
    size = [input_size, input_size] if isinstance(input_size, int) else list(input_size)
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"{what} must be an int or a (height, width) pair of positive ints, got {input_size!r}"
        )
    return size


@register
class ConvClassifier(AEModule):
    """CNN: the encoder blocks of a CAE stack, flatten, a fully connected head returning logits.

    Parameters
    ----------
    in_channels, channels, kernel_size, block, pool_size
        The convolutional topology, as in :class:`~aekit.nn.conv.ConvAutoencoder`.
    n_classes : int
        Number of classes C (the head returns (N, C) logits).
    input_size : int or (int, int)
        Image height and width (the head's input size depends on it).
    hidden : int or sequence of int
        Fully connected ReLU layers between the feature maps and the output layer.
    dropout : float
        Dropout before every fully connected layer.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int | Sequence[int] = (32, 32),
        *,
        n_classes: int = 10,
        input_size: int | Sequence[int] = 28,
        kernel_size: int = 3,
        block: str = "masci",
        pool_size: int = 2,
        hidden: int | Sequence[int] = (),
        dropout: float = 0.0,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        check_conv_args(in_channels, kernel_size, block, pool_size)
        channels = _channels(channels)
        size = _size_pair(input_size)
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a positive int or a sequence of positive ints, got {hidden!r}")
        if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        check_spatial(size, len(channels), pool_size, "input_size")
        self._set_config(
            in_channels=in_channels,
            channels=channels,
            n_classes=n_classes,
            input_size=size,
            kernel_size=kernel_size,
            block=block,
            pool_size=pool_size,
            hidden=hidden,
            dropout=float(dropout),
            channels_last=bool(channels_last),
        )
        self.input_shape = (in_channels, *size)
        self.unit_interval = False
        self.channels_last = bool(channels_last)
        sizes = [in_channels, *channels]
        self.features = nn.ModuleList(
            EncoderBlock(a, b, kernel_size, block, pool_size) for a, b in zip(sizes[:-1], sizes[1:])
        )
        h, w = size
        for _ in channels:
            h, w = h // pool_size, w // pool_size
        widths = [channels[-1] * h * w, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Dropout(dropout), nn.Linear(a, b), nn.ReLU()]
        layers += [nn.Dropout(dropout), nn.Linear(widths[-1], n_classes)]
        self.head = nn.Sequential(*layers)
        if self.channels_last:
            to_memory_format(self, torch.channels_last)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened top feature maps (the features an SVM could use)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise DataError(
                f"ConvClassifier expects (N, {', '.join(map(str, self.input_shape))}) images, "
                f"got shape {tuple(x.shape)}"
            )
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for blk in self.features:
            x = blk(x)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, n_classes)."""
        return self.head(self.encode(x))


@register
class StackedConvAutoencoder(GreedyLayers[ConvAutoencoder], AEModule):
    """A stack of one-level CAEs, pre-trained greedily by :func:`aekit.train.pretrain`;
    :meth:`to_cnn` initialises a CNN from it.

    Parameters
    ----------
    in_channels, channels, kernel_size, block, pool_size, unpool, tied, channels_last
        As in :class:`~aekit.nn.conv.ConvAutoencoder`; level k has ``channels[k]`` maps.
    loss : {"bce", "mse"}
        Loss of the first level (pixels). Higher levels reconstruct feature maps with the
        squared error (tanh output for masci, linear for modern).
    corruption : Corruption, str or dict, optional
        q_D applied to the input of the first level while it is trained.
    input_size : (int, int), optional
        Image size; set by pre-training when not given (the CNN head needs it).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int | Sequence[int] = (32, 32),
        *,
        kernel_size: int = 3,
        block: str = "masci",
        unpool: str = "random",
        pool_size: int = 2,
        tied: bool = False,
        loss: str = "bce",
        corruption: Corruption | str | dict | None = None,
        input_size: int | Sequence[int] | None = None,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        check_conv_args(in_channels, kernel_size, block, pool_size)
        channels = _channels(channels)
        check_unpool(unpool)
        corruption = corruption_lib.from_config(corruption)
        size = None if input_size is None else _size_pair(input_size)
        self._set_config(
            in_channels=in_channels,
            channels=channels,
            kernel_size=kernel_size,
            block=block,
            unpool=unpool,
            pool_size=pool_size,
            tied=bool(tied),
            loss=loss,
            corruption=corruption.to_config() if corruption else None,
            input_size=size,
            channels_last=bool(channels_last),
        )
        self.input_shape = (in_channels, None, None)
        self.unit_interval = loss == "bce"
        sizes = [in_channels, *channels]
        inner_out = "tanh" if block == "masci" else "linear"  # the maps below: tanh codes, or ReLU maps
        self.layers = nn.ModuleList(
            ConvAutoencoder(
                a,
                [b],
                kernel_size=kernel_size,
                block=block,
                unpool=unpool,
                pool_size=pool_size,
                tied=tied,
                loss=loss if k == 0 else "mse",
                output_activation="sigmoid" if k == 0 else inner_out,
                corruption=corruption if k == 0 else None,
                channels_last=channels_last,
            )
            for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
        )
        self.input_size = size

    @property
    def _levels(self) -> list[ConvAutoencoder]:
        """The one-level CAEs of :attr:`layers`, bottom first."""
        return cast("list[ConvAutoencoder]", list(self.layers))

    def checkpoint_args(self) -> dict:
        return {**self.config, "input_size": self.input_size}

    def validate_input(self, X: object, name: str = "X") -> np.ndarray:
        X = super().validate_input(X, name=name)
        check_spatial(X.shape, len(self.layers), self.config["pool_size"], name)
        return X

    # ------------------------------------------------------------------ maps
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Φ_L(…Φ_1(x)): the top pooled maps."""
        for layer in self._levels:
            x = layer.encode(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The unrolled stack: encode through every level, decode through every decoder in reverse."""
        levels = self._levels
        trace = []
        for layer in levels:
            code, sizes, switches = layer.encode_with_switches(x)
            trace.append((sizes, switches))
            x = code
        for k in reversed(range(len(levels))):
            x = levels[k].decode(x, *trace[k])
        return x

    # ------------------------------------------------------------------ greedy pre-training
    @property
    def n_layers(self) -> int:
        """Levels, pre-trained one after the other."""
        return len(self.layers)

    def pretraining_data(self, X: object, name: str = "X") -> np.ndarray:
        """The checked images; the first ones set the stack's image size (the CNN head needs it)."""
        X = self.validate_input(X, name=name)
        size = [int(X.shape[2]), int(X.shape[3])]
        if self.input_size is not None and self.input_size != size:
            raise DataError(
                f"{name} has images of size {size[0]}x{size[1]}, but this stack was built for "
                f"{self.input_size[0]}x{self.input_size[1]}"
            )
        self.input_size = size
        return X

    def layer_autoencoder(self, k: int) -> ConvAutoencoder:
        """Level ``k`` itself: a one-level CAE, trained in place."""
        return self._levels[k]

    def layer_codes(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Φ_{k+1}(h): the pooled maps of level ``k`` (0-based), the input of level k + 1."""
        return self._levels[k].encode(h)

    def to_cnn(
        self,
        n_classes: int,
        hidden: int | Sequence[int] = (),
        *,
        dropout: float = 0.0,
        pretrained: bool = True,
        input_size: int | Sequence[int] | None = None,
    ) -> ConvClassifier:
        """A CNN of identical convolutional topology plus a classifier head.

        ``pretrained=True`` copies every pre-trained encoder block (filters, biases and, for the
        modern block, batch-norm parameters and statistics) exactly; ``pretrained=False`` leaves the
        CNN randomly initialised: the baseline with the same architecture.
        """
        size = input_size if input_size is not None else self.input_size
        if size is None:
            raise ValueError(
                "to_cnn needs the image size: pre-train first (aekit.pretrain(stack, X)) "
                "or pass input_size=(H, W)"
            )
        cfg = self.config
        cnn = ConvClassifier(
            cfg["in_channels"],
            cfg["channels"],
            n_classes=n_classes,
            input_size=size,
            kernel_size=cfg["kernel_size"],
            block=cfg["block"],
            pool_size=cfg["pool_size"],
            hidden=hidden,
            dropout=dropout,
            channels_last=cfg["channels_last"],
        )
        if pretrained:
            with torch.no_grad():
                for blk, layer in zip(cnn.features, self._levels):
                    blk.load_state_dict(layer.encoder_blocks[0].state_dict())
        return cnn.to(next(self.parameters()).device)
