"""Stacked (denoising) autoencoders: greedy layer-wise pre-training, then fine-tuning.

Vincent, Larochelle, Lajoie, Bengio & Manzagol, "Stacked Denoising Autoencoders:
Learning Useful Representations in a Deep Network with a Local Denoising
Criterion", JMLR 11 (2010); Bengio et al., "Greedy Layer-Wise Training of Deep
Networks", NIPS 2006; Hinton & Salakhutdinov, Science 313 (2006).

Greedy pre-training, as in the notes::

    h⁽⁰⁾ = x
    for k = 1..L:
        train a (denoising) autoencoder  y = φ(W_k h̃⁽ᵏ⁻¹⁾ + b_k),  z = φ(W'_k y + b'_k)
            on  L_H(h⁽ᵏ⁻¹⁾, z),  h̃⁽ᵏ⁻¹⁾ ~ q_D(h̃ | h⁽ᵏ⁻¹⁾)
        keep (W_k, b_k), discard the decoder (W'_k, b'_k)
        h⁽ᵏ⁾ = φ(W_k h⁽ᵏ⁻¹⁾ + b_k)     computed ONCE for the whole data set

Then either an output layer is added on top of the stack and the whole network is
fine-tuned on a supervised cost (:meth:`StackedAutoencoder.to_classifier` and
:func:`aekit.fit_classifier`), or the stack is unrolled into a deep autoencoder
whose decoder starts as the mirrored encoders, W'_k = W_kᵀ, and fine-tuned on
reconstruction (:meth:`StackedAutoencoder.finetune`).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import corruption as corruption_lib
from ..errors import AekitError
from ..registry import register
from . import activations, losses
from .base import AEModule
from .dense import Autoencoder, _init_linear, _sizes, check_dense_args

__all__ = ["StackedAutoencoder", "StackedClassifier"]

log = logging.getLogger("aekit")

CACHE_CHUNK = 4096  # rows per block when the codes of a layer are computed for the whole data set


def _layer_corruptions(corruption, n_layers: int) -> list:
    """One q_D per layer from None, one corruption (shared), or a sequence of one per layer."""
    if isinstance(corruption, (list, tuple)):
        if len(corruption) != n_layers:
            raise ValueError(
                f"corruption has {len(corruption)} entries but the stack has {n_layers} layers: "
                "give one corruption for all layers or exactly one per layer"
            )
        return [corruption_lib.from_config(c) for c in corruption]
    return [corruption_lib.from_config(corruption) for _ in range(n_layers)]


def _check_layer(layer, n_layers: int) -> int:
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


def _transform(model, X, layer, batch_size: int) -> np.ndarray:
    from ..inference import _map  # inference sits above nn; imported lazily

    layer = _check_layer(layer, len(model.config["hidden"]))
    return _map(model, X, lambda xb: model.encode(xb, layer=layer), batch_size)


@register
class StackedAutoencoder(AEModule):
    """A stack of autoencoders ``input_dim -> hidden[0] -> ... -> hidden[-1]``, pre-trained greedily.

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
        corruption=None,
        unrolled: bool = False,
    ):
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
        self.encoder_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        for layer in self.encoder_layers:
            _init_linear(layer, activation)
        self.decoder_layers = None
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
        top = _check_layer(layer, self.n_layers)
        act = self.config["activation"]
        for enc in self.encoder_layers[:top]:
            x = activations.apply(act, enc(x))
        return x

    def transform(self, X, layer: int | None = None, *, batch_size: int = 1024) -> np.ndarray:
        """The codes of ``layer`` (1..L, default the top) for every sample, as a NumPy array."""
        return _transform(self, X, layer, batch_size)

    # ------------------------------------------------------------------ greedy pre-training
    def layer_autoencoder(self, k: int) -> Autoencoder:
        """A fresh one-hidden-layer autoencoder to pre-train layer ``k`` (0-based) of the stack."""
        cfg = self.config
        if k == 0:
            loss, out_act = cfg["loss"], cfg["output_activation"]
        elif cfg["activation"] == "sigmoid":
            loss, out_act = "bce", "sigmoid"  # codes in (0, 1): reconstruct them with L_H, as Vincent et al.
        else:
            loss, out_act = "mse", "linear"
        return Autoencoder(
            self.sizes[k],
            [self.sizes[k + 1]],
            activation=cfg["activation"],
            output_activation=out_act,
            tied=cfg["tied"],
            loss=loss,
            corruption=self.layer_corruption(k),
        )

    def layer_corruption(self, k: int):
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

    @torch.no_grad()
    def _codes(self, k: int, H: np.ndarray) -> np.ndarray:
        """h⁽ᵏ⁺¹⁾ = φ(W_{k+1} h⁽ᵏ⁾ + b_{k+1}) for the whole data set, in blocks of rows (one pass)."""
        enc, act = self.encoder_layers[k], self.config["activation"]
        device = enc.weight.device
        out = np.empty((len(H), enc.out_features), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(H), CACHE_CHUNK):
                block = torch.from_numpy(H[i : i + CACHE_CHUNK]).to(device)
                out[i : i + CACHE_CHUNK] = activations.apply(act, enc(block)).cpu().numpy()
        return out

    def pretrain(
        self,
        X,
        *,
        X_val=None,
        epochs: int | Sequence[int] = 10,
        layers: Sequence[int] | None = None,
        device=None,
        **fit_kwargs,
    ) -> list[dict]:
        """Greedy layer-wise pre-training; returns one :func:`aekit.fit` history per layer.

        Layer k is trained as a (denoising) autoencoder on h⁽ᵏ⁻¹⁾, the codes of layers 1..k−1
        computed once for the whole of ``X`` (and ``X_val``); then its decoder is discarded and
        its codes become the next layer's data.

        Parameters
        ----------
        X : array-like (n_samples, input_dim)
        X_val : array-like, optional
            Validation inputs, mapped through the stack like ``X`` (for ``patience``).
        epochs : int or sequence of int
            Epochs for every layer, or one number per layer.
        layers : sequence of int, optional
            Which layers (1..L) to train; the others keep their weights (default: all).
        **fit_kwargs
            Passed to :func:`aekit.fit` for every layer: ``batch_size``, ``lr``, ``optimizer``,
            ``patience``, ``seed`` (layer k uses ``seed + k - 1``), ``progress``, ``lr_schedule``...
        """
        from ..train import default_device, fit  # train sits above nn; imported lazily

        if "checkpoint_dir" in fit_kwargs or "resume_from" in fit_kwargs:
            raise TypeError(
                "pretrain() does not take checkpoint_dir/resume_from: save the stack after pre-training"
            )
        n = self.n_layers
        per_layer = [epochs] * n if isinstance(epochs, int) else list(epochs)
        if len(per_layer) != n:
            raise ValueError(f"epochs has {len(per_layer)} entries but the stack has {n} layers")
        todo = sorted({_check_layer(k, n) for k in layers}) if layers is not None else list(range(1, n + 1))
        device = torch.device(device) if device is not None else default_device()
        self.to(device)
        seed = fit_kwargs.pop("seed", None)

        for k in todo:
            self.layer_corruption(k - 1)  # a noise the codes' range cannot take fails now, not after layer 1
        H = self.validate_input(X, name="X")
        H_val = self.validate_input(X_val, name="X_val") if X_val is not None else None
        histories: list[dict] = []
        for k in range(max(todo)):
            if k + 1 in todo:
                log.info(
                    "pre-training layer %d/%d: %d -> %d, %s",
                    k + 1,
                    n,
                    self.sizes[k],
                    self.sizes[k + 1],
                    self.corruptions[k].spec() if self.corruptions[k] else "no corruption",
                )
                ae = self.layer_autoencoder(k)
                ae.encoder_layers[0].load_state_dict(self.encoder_layers[k].state_dict())
                history = fit(
                    ae,
                    H,
                    X_val=H_val,
                    epochs=per_layer[k],
                    device=device,
                    seed=None if seed is None else seed + k,
                    **fit_kwargs,
                )
                history["layer"] = k + 1
                histories.append(history)
                self.encoder_layers[k].load_state_dict(ae.encoder_layers[0].state_dict())
                del ae  # the decoder W'_k, b'_k is discarded
            if k + 1 < max(todo):  # h⁽ᵏ⁾ for all the data, once
                H = self._codes(k, H)
                H_val = self._codes(k, H_val) if H_val is not None else None
        self.history = {"pretrain": histories}
        self.eval()
        return histories

    # ------------------------------------------------------------------ unrolled deep autoencoder
    def unroll(self) -> StackedAutoencoder:
        """Add the mirrored decoder h⁽ᵏ⁻¹⁾ = φ(W'_k h⁽ᵏ⁾ + b'_k), W'_k initialised to W_kᵀ (untied), b'_k = 0."""
        if self.decoder_layers is not None:
            return self
        device = self.encoder_layers[0].weight.device
        decoder = nn.ModuleList()
        for enc in reversed(self.encoder_layers):
            dec = nn.Linear(enc.out_features, enc.in_features).to(device)
            with torch.no_grad():
                dec.weight.copy_(enc.weight.t())  # W'_k = W_kᵀ
                dec.bias.zero_()
            decoder.append(dec)
        self.decoder_layers = decoder
        self.config["unrolled"] = True
        return self

    def _require_unrolled(self) -> None:
        if self.decoder_layers is None:
            raise AekitError(
                "this StackedAutoencoder has no decoder (pre-training discards them): call "
                "finetune(X) or unroll() before decoding or reconstructing"
            )

    def decode_logits(self, y: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the unrolled network's output: (N, hidden[-1]) -> (N, input_dim)."""
        self._require_unrolled()
        act = self.config["activation"]
        for i, dec in enumerate(self.decoder_layers):
            y = dec(y)
            if i < len(self.decoder_layers) - 1:
                y = activations.apply(act, y)
        return y

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

    def finetune(self, X, *, X_val=None, epochs: int = 10, **fit_kwargs) -> dict:
        """Unsupervised fine-tuning of the unrolled deep autoencoder (Hinton & Salakhutdinov 2006).

        ``fit_kwargs`` go to :func:`aekit.fit`. Returns its history (also in ``history["finetune"]``).
        """
        from ..train import fit

        self.unroll()
        pre = self.pretrain_history
        history = fit(self, X, X_val=X_val, epochs=epochs, **fit_kwargs)
        self.history = {"pretrain": pre, "finetune": history}
        return history

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
    ):
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
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(sizes[-1], int(n_classes))
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout else nn.Identity()
        for layer in self.hidden_layers:
            _init_linear(layer, activation)
        _init_linear(self.output, "linear")

    @property
    def encoder_layers(self) -> nn.ModuleList:
        """The hidden layers (same name as in the autoencoders, e.g. for drawing first-layer filters)."""
        return self.hidden_layers

    def encode(self, x: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """Activations of hidden ``layer`` (1..L, default the top)."""
        top = _check_layer(layer, len(self.hidden_layers))
        for hid in self.hidden_layers[:top]:
            x = activations.apply(self.config["activation"], hid(x))
        return x

    def transform(self, X, layer: int | None = None, *, batch_size: int = 1024) -> np.ndarray:
        """Hidden-layer activations of every sample, as a NumPy array."""
        return _transform(self, X, layer, batch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: (N, input_dim) -> (N, n_classes)."""
        x = self.input_dropout(x)
        for hid in self.hidden_layers:
            x = self.dropout(activations.apply(self.config["activation"], hid(x)))
        return self.output(x)
