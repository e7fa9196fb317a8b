"""Stacked (denoising) autoencoders: greedy layer-wise pre-training, then fine-tuning.

Vincent, Larochelle, Lajoie, Bengio & Manzagol, "Stacked Denoising Autoencoders:
Learning Useful Representations in a Deep Network with a Local Denoising
Criterion", JMLR 11 (2010); Bengio et al., "Greedy Layer-Wise Training of Deep
Networks", NIPS 2006; Hinton & Salakhutdinov, Science 313 (2006).

Greedy pre-training (the notes' loop is written out in :mod:`aekit.train.layerwise`):
layer k is trained as a (denoising) autoencoder y = φ(W_k h̃⁽ᵏ⁻¹⁾ + b_k) on the
codes h⁽ᵏ⁻¹⁾ of the layers below, computed once for the whole data set, and its
decoder is discarded. The loop is :func:`aekit.train.pretrain` (training sits
above nn); the stack says which autoencoder trains layer k and how h⁽ᵏ⁾ follows
from h⁽ᵏ⁻¹⁾. Then either an output layer is added on top of the stack and the whole network is
fine-tuned on a supervised cost (:meth:`StackedAutoencoder.to_classifier` and
:func:`aekit.fit_classifier`), or the stack is unrolled into a deep autoencoder
whose decoder starts as the mirrored encoders, W'_k = W_kᵀ, and fine-tuned on
reconstruction (:func:`aekit.train.finetune`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import AekitError
from ..registry import register
from . import activations, losses
from . import corruption as corruption_lib
from .base import AEModule
from .batches import map_batches
from .corruption import Corruption
from .dense import Autoencoder, _sizes, check_dense_args, greedy_layer_autoencoder
from .greedy import GreedyLayers
from .layers import Dense, DenseStack

__all__ = ["StackedAutoencoder", "StackedClassifier"]


def _layer_corruptions(
    corruption: Corruption | str | dict | Sequence[Corruption | str | dict | None] | None, n_layers: int
) -> list[Corruption | None]:
    """One q_D per layer from None, one corruption (shared), or a sequence of one per layer."""
    if isinstance(corruption, (list, tuple)):
        if len(corruption) != n_layers:
            raise ValueError(
                f"corruption has {len(corruption)} entries but the stack has {n_layers} layers: "
                "give one corruption for all layers or exactly one per layer"
            )
        return [corruption_lib.from_config(c) for c in corruption]
    return [corruption_lib.from_config(corruption) for _ in range(n_layers)]


def check_layer(layer: int | None, n_layers: int) -> int:
    """Layer index 1..L (``None`` = the top layer L; negative counts from the top)."""
    if layer is None:
        return n_layers
    if (
        not isinstance(layer, (int, np.integer))
        or isinstance(layer, bool)
        or not -n_layers <= layer <= n_layers
        or layer == 0
    ):
        raise ValueError(
            f"layer must be an int in 1..{n_layers} (or -{n_layers}..-1 from the top), got {layer!r}"
        )
    return int(layer) if layer > 0 else n_layers + 1 + int(layer)


def _transform(
    model: StackedAutoencoder | StackedClassifier, X: object, layer: int | None, batch_size: int
) -> np.ndarray:
    layer = check_layer(layer, len(model.config["hidden"]))
    X = model.validate_input(X)
    return map_batches(model, X, lambda xb: model.encode(xb, layer=layer), batch_size)


@register
class StackedAutoencoder(GreedyLayers[Autoencoder], AEModule):
    """A stack of autoencoders ``input_dim -> hidden[0] -> ... -> hidden[-1]``, pre-trained greedily
    by :func:`aekit.train.pretrain`.

    Parameters
    ----------
    input_dim : int
        Number of input features d.
    hidden : sequence of int
        Sizes of the stacked hidden layers, bottom first (Vincent et al.: 1000, 1000, 1000).
    activation : {"sigmoid", "tanh", "relu", "gelu", "linear"}
        φ of every hidden layer.
    output_activation : {"sigmoid", "tanh", "relu", "gelu", "linear"}
        φ of the reconstruction of the input (first layer's decoder, and the unrolled network's output).
    tied : bool
        Pre-train each layer with tied weights W'_k = W_kᵀ (as Vincent et al. 2010).
    loss : {"bce", "mse"}
        Reconstruction loss of the input layer (and of the unrolled network). Upper layers of a
        sigmoid stack reconstruct codes in (0, 1) with the cross-entropy, others with squared error.
    corruption : None, a corruption, or a sequence of one per layer
        q_D used while pre-training each layer, e.g. ``["masking:0.1", "masking:0.2", "masking:0.3"]``.
        Above the first layer it acts within the range of the codes below (:meth:`layer_corruption`):
        Gaussian noise on tanh codes is clipped to [−1, 1], salt and pepper are 1 and −1.
    unrolled : bool
        Whether the mirrored decoder of the deep autoencoder exists (set by :meth:`unroll`;
        stored in checkpoints).
    """

    unit_interval = False

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (500, 500),
        *,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        tied: bool = True,
        loss: str = "bce",
        corruption: Corruption | str | dict | Sequence[Corruption | str | dict | None] | None = None,
        unrolled: bool = False,
    ) -> None:
        super().__init__()
        hidden = check_dense_args(input_dim, hidden, activation, output_activation, loss)
        corruptions = _layer_corruptions(corruption, len(hidden))
        self._set_config(
            input_dim=input_dim,
            hidden=hidden,
            activation=activation,
            output_activation=output_activation,
            tied=bool(tied),
            loss=loss,
            corruption=[c.to_config() if c else None for c in corruptions],
            unrolled=False,
        )
        self.input_shape = (input_dim,)
        self.unit_interval = loss == "bce"
        self.loss_name = loss
        self.corruptions = corruptions
        self.sizes = [input_dim, *hidden]
        self.encoder_layers = DenseStack.from_sizes(self.sizes, [activation] * len(hidden))
        self.encoder_layers.init_weights()
        self.decoder_layers: DenseStack | None = None
        if unrolled:
            self.unroll()

    @property
    def pretrain_history(self) -> list[dict]:
        """One :func:`aekit.fit` history per pre-trained layer (kept in checkpoints)."""
        histories = (self.history or {}).get("pretrain")
        return list(histories) if isinstance(histories, list) else []

    @property
    def n_layers(self) -> int:
        return len(self.encoder_layers)

    # ------------------------------------------------------------------ encoder
    def encode(self, x: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """h⁽ᵏ⁾ = φ(W_k h⁽ᵏ⁻¹⁾ + b_k) up to ``layer`` (1..L, default the top): (N, d) -> (N, hidden[k-1])."""
        return self.encoder_layers(x, check_layer(layer, self.n_layers))

    def transform(self, X: object, layer: int | None = None, *, batch_size: int = 1024) -> np.ndarray:
        """The codes of ``layer`` (1..L, default the top) for every sample, as a NumPy array."""
        return _transform(self, X, layer, batch_size)

    # ------------------------------------------------------------------ greedy pre-training
    def layer_autoencoder(self, k: int) -> Autoencoder:
        """A one-hidden-layer autoencoder to pre-train layer ``k`` (0-based), starting from W_k, b_k."""
        cfg = self.config
        return greedy_layer_autoencoder(
            self.encoder_layers[k],
            None if k == 0 else cfg["activation"],
            loss=cfg["loss"],
            output_activation=cfg["output_activation"],
            tied=cfg["tied"],
            corruption=self.layer_corruption(k),
        )

    def check_pretrainable(self, k: int) -> None:
        """A noise that the codes below layer ``k`` cannot take fails now (:meth:`layer_corruption`)."""
        self.layer_corruption(k)

    def keep_layer(self, k: int, ae: Autoencoder) -> None:
        """W_k, b_k from the trained ``ae``; its decoder W'_k, b'_k is discarded."""
        self.encoder_layers[k].load_state_dict(ae.encoder_layers[0].state_dict())

    def layer_codes(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """h⁽ᵏ⁺¹⁾ = φ(W_{k+1} h⁽ᵏ⁾ + b_{k+1}) (``k`` 0-based: the input of layer k)."""
        return self.encoder_layers[k](h)

    def layer_corruption(self, k: int) -> Corruption | None:
        """q_D of layer ``k`` (0-based) for the values its inputs take: the given one on the data (k = 0),
        above it the same noise within the range of the codes below (tanh: salt = 1, pepper = −1)."""
        q, act = self.corruptions[k], self.config["activation"]
        if q is None or k == 0:
            return q
        try:
            return q.with_range(*activations.RANGES[act])
        except ValueError as err:
            raise ValueError(
                f"layer {k + 1} is trained on the {act} codes of layer {k}: {err}; give that layer "
                "another corruption, e.g. 'masking:0.25', in a list of one per layer"
            ) from None

    # ------------------------------------------------------------------ unrolled deep autoencoder
    def unroll(self) -> StackedAutoencoder:
        """Add the mirrored decoder h⁽ᵏ⁻¹⁾ = φ(W'_k h⁽ᵏ⁾ + b'_k), W'_k initialised to W_kᵀ (untied), b'_k = 0."""
        if self.decoder_layers is not None:
            return self
        acts = [self.config["activation"]] * (self.n_layers - 1) + [self.config["output_activation"]]
        decoder = DenseStack.from_sizes(self.sizes[::-1], acts).to(self.encoder_layers[0].weight.device)
        with torch.no_grad():
            for enc, dec in zip(reversed(self.encoder_layers), decoder):
                dec.weight.copy_(enc.weight.t())  # W'_k = W_kᵀ
                dec.bias.zero_()
        self.decoder_layers = decoder
        self.config["unrolled"] = True
        return self

    def _require_unrolled(self) -> DenseStack:
        """The decoder of the unrolled network; an error if there is none yet."""
        if self.decoder_layers is None:
            raise AekitError(
                "this StackedAutoencoder has no decoder (pre-training discards them): call "
                "aekit.finetune(stack, X) or unroll() before decoding or reconstructing"
            )
        return self.decoder_layers

    def decode_logits(self, y: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the unrolled network's output: (N, hidden[-1]) -> (N, input_dim)."""
        return self._require_unrolled().logits(y)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """z = φ(W'_1 ... φ(W'_L y + b'_L) ... + b'_1)."""
        return activations.apply(self.config["output_activation"], self.decode_logits(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction z of x by the unrolled deep autoencoder."""
        return self.decode(self.encode(x))

    def reconstruction_error(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample reconstruction error of the unrolled network (its own loss)."""
        logits = self.decode_logits(self.encode(x))
        z = activations.apply(self.config["output_activation"], logits)
        return losses.reconstruction_error(self.loss_name, logits, z, x if target is None else target)

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Fine-tuning objective: mean reconstruction error of the unrolled deep autoencoder (no noise)."""
        return self.reconstruction_error(x, target).mean()

    # ------------------------------------------------------------------ supervised
    def to_classifier(
        self, n_classes: int, *, dropout: float = 0.0, input_dropout: float = 0.0
    ) -> StackedClassifier:
        """The notes' "output layer added on top of the stack": a classifier whose hidden layers are
        copies of the pre-trained encoders and whose new output layer gives class logits.
        ``dropout`` / ``input_dropout``: see :class:`StackedClassifier`."""
        clf = StackedClassifier(
            self.sizes[0],
            self.sizes[1:],
            n_classes,
            activation=self.config["activation"],
            dropout=dropout,
            input_dropout=input_dropout,
        )
        for mine, theirs in zip(self.encoder_layers, clf.hidden_layers):
            theirs.load_state_dict(mine.state_dict())
        return clf.to(self.encoder_layers[0].weight.device)

    def checkpoint_args(self) -> dict:
        """The constructor arguments a checkpoint stores (``unrolled``: whether the decoder exists)."""
        return dict(self.config, unrolled=self.decoder_layers is not None)


@register
class StackedClassifier(AEModule):
    """A multi-layer perceptron ``input_dim -> hidden... -> n_classes`` returning logits.

    Built by :meth:`StackedAutoencoder.to_classifier` from pre-trained layers (or from
    scratch, for the "no pre-training" baseline); trained with :func:`aekit.fit_classifier`.

    Parameters
    ----------
    input_dim : int
    hidden : sequence of int
    n_classes : int
        Output units (softmax over logits; cross-entropy).
    activation : str
        φ of the hidden layers.
    dropout : float
        Dropout rate on each hidden layer while training (0: none, as in the paper).
    input_dropout : float
        Dropout rate on the input while training (Srivastava et al. 2014 use 0.2 with 0.5 hidden).
    """

    unit_interval = False

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int],
        n_classes: int,
        *,
        activation: str = "sigmoid",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(input_dim, int) or isinstance(input_dim, bool) or input_dim <= 0:
            raise ValueError(f"input_dim must be a positive int, got {input_dim!r}")
        hidden = _sizes(hidden)
        if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 1:
            raise ValueError(f"n_classes must be an int >= 1, got {n_classes!r}")
        activations.check_activation(activation)
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        self._set_config(
            input_dim=input_dim,
            hidden=hidden,
            n_classes=int(n_classes),
            activation=activation,
            dropout=float(dropout),
            input_dropout=float(input_dropout),
        )
        self.input_shape = (input_dim,)
        self.n_classes = int(n_classes)
        sizes = [input_dim, *hidden]
        self.hidden_layers = DenseStack.from_sizes(sizes, [activation] * len(hidden))
        self.output = Dense(sizes[-1], int(n_classes), "linear")  # logits
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout else nn.Identity()
        self.hidden_layers.init_weights()
        self.output.init_weights()

    @property
    def encoder_layers(self) -> DenseStack:
        """The hidden layers (same name as in the autoencoders, e.g. for drawing first-layer filters)."""
        return self.hidden_layers

    def encode(self, x: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """Activations of hidden ``layer`` (1..L, default the top)."""
        return self.hidden_layers(x, check_layer(layer, len(self.hidden_layers)))

    def transform(self, X: object, layer: int | None = None, *, batch_size: int = 1024) -> np.ndarray:
        """Hidden-layer activations of every sample, as a NumPy array."""
        return _transform(self, X, layer, batch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: (N, input_dim) -> (N, n_classes)."""
        x = self.input_dropout(x)
        for hid in self.hidden_layers:
            x = self.dropout(hid(x))
        return self.output(x)
