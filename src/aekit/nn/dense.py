"""The basic (dense) autoencoder of the notes, optionally tied, sparse, contractive or denoising.

    y = φ(W x + b)            encoder, one layer per size in ``hidden``
    z = φ(W' y + b')          decoder, mirrored; with tied weights W' = Wᵀ
    E = ½‖z − x‖²  or  L_H(x, z) = −Σ [x log z + (1 − x) log(1 − z)]

Tied weights follow the notes ("weights between the input and hidden layer are
often tied with weights between the hidden layer and output"): the decoder
uses the very same ``Parameter`` as the encoder, transposed, with a bias of its
own. Denoising (Vincent et al. 2008) corrupts x to x̃ ~ q_D(x̃ | x) during
training and compares z with the clean x. Options beyond the notes: a sparsity
penalty on the codes (L1, or KL to a target rate) and the contractive penalty
λ‖J_f(x)‖²_F of Rifai et al. (ICML 2011).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..registry import register
from . import activations, losses
from . import corruption as corruption_lib
from .base import AEModule
from .corruption import Corruption
from .greedy import GreedyLayers
from .layers import Dense, DenseStack, dense

__all__ = ["Autoencoder", "DenoisingAutoencoder", "greedy_layer_autoencoder"]

SPARSITY = (None, "l1", "kl")


def check_dense_args(
    input_dim: int, hidden: int | Sequence[int], activation: str, output_activation: str, loss: str
) -> list[int]:
    """Validate the arguments every dense model shares; return ``hidden`` as a list of sizes."""
    if not isinstance(input_dim, int) or isinstance(input_dim, bool) or input_dim <= 0:
        raise ValueError(f"input_dim must be a positive int, got {input_dim!r}")
    hidden = _sizes(hidden)
    activations.check_activation(activation)
    activations.check_activation(output_activation, "output_activation")
    losses.check_loss(loss)
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            f"loss='bce' is the cross-entropy of a sigmoid output; got output_activation="
            f"{output_activation!r}: use output_activation='sigmoid' or loss='mse'"
        )
    return hidden


def _sizes(hidden: int | Sequence[int]) -> list[int]:
    sizes = [hidden] if isinstance(hidden, int) else list(hidden)
    if not sizes or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in sizes):
        raise ValueError(
            f"hidden must be a positive int or a non-empty sequence of positive ints, got {hidden!r}"
        )
    return sizes


def _check_penalties(
    hidden: list[int], code_activation: str, sparsity: str | None, sparsity_target: float, contractive: float
) -> None:
    """The sparsity and contractive options fit the model (the code's activation, one hidden layer)."""
    if sparsity not in SPARSITY:
        raise ValueError(f"sparsity must be None, 'l1' or 'kl', got {sparsity!r}")
    if sparsity == "kl" and code_activation != "sigmoid":
        raise ValueError(
            "sparsity='kl' treats codes as firing rates in (0, 1): it needs a sigmoid code "
            f"activation, got {code_activation!r}"
        )
    if sparsity == "kl" and not 0 < sparsity_target < 1:
        raise ValueError(f"sparsity_target must be in (0, 1), got {sparsity_target!r}")
    if not contractive >= 0:
        raise ValueError(f"contractive must be >= 0, got {contractive!r}")
    if contractive and len(hidden) != 1:
        raise ValueError(f"the contractive penalty is defined here for one hidden layer, got hidden={hidden}")


@register
class Autoencoder(GreedyLayers["Autoencoder"], AEModule):
    """Dense autoencoder ``input_dim -> hidden[0] -> ... -> hidden[-1] -> ... -> input_dim``.

    :func:`aekit.train.pretrain` can pre-train its encoder layer by layer (Hinton &
    Salakhutdinov 2006, with tied one-layer autoencoders in place of RBMs); the mirrored
    decoder then starts from W'_k = W_kᵀ and each layer's decoder bias.

    Parameters
    ----------
    input_dim : int
        Number of input features d.
    hidden : int or sequence of int
        Encoder layer sizes; the last is the code (the bottleneck).
    activation : {"sigmoid", "tanh", "relu", "gelu", "linear"}
        φ of the hidden layers.
    output_activation : {"sigmoid", "tanh", "relu", "gelu", "linear"}
        φ of the reconstruction z. ``loss="bce"`` needs ``"sigmoid"``.
    code_activation : str, optional
        φ of the code layer; defaults to ``activation`` (Hinton & Salakhutdinov 2006 use "linear").
    tied : bool
        Decoder weights are the transposed encoder weights (one shared Parameter).
    loss : {"bce", "mse"}
        Cross-entropy L_H(x, z) (inputs in [0, 1]) or squared error ½‖z − x‖², summed over
        features and averaged over samples.
    corruption : Corruption, str or dict, optional
        q_D for a denoising autoencoder, e.g. ``"masking:0.25"``; used only in training mode.
    sparsity : {None, "l1", "kl"}
        Sparsity penalty on the codes, weighted by ``sparsity_weight``; "kl" pulls the mean
        activation of each code unit to ``sparsity_target`` (needs a sigmoid code).
    contractive : float
        Weight λ of the contractive penalty ‖∂y/∂x‖²_F (one hidden layer only).
    """

    unit_interval = False

    def __init__(
        self,
        input_dim: int,
        hidden: int | Sequence[int] = 64,
        *,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        code_activation: str | None = None,
        tied: bool = False,
        loss: str = "bce",
        corruption: Corruption | str | dict | None = None,
        sparsity: str | None = None,
        sparsity_weight: float = 1e-3,
        sparsity_target: float = 0.05,
        contractive: float = 0.0,
    ) -> None:
        super().__init__()
        hidden = check_dense_args(input_dim, hidden, activation, output_activation, loss)
        code_activation = activations.check_activation(code_activation or activation, "code_activation")
        _check_penalties(hidden, code_activation, sparsity, sparsity_target, contractive)
        corruption = corruption_lib.from_config(corruption)
        self._set_config(
            input_dim=input_dim,
            hidden=hidden,
            activation=activation,
            output_activation=output_activation,
            code_activation=code_activation,
            tied=bool(tied),
            loss=loss,
            corruption=corruption.to_config() if corruption else None,
            sparsity=sparsity,
            sparsity_weight=float(sparsity_weight),
            sparsity_target=float(sparsity_target),
            contractive=float(contractive),
        )
        self.input_shape = (input_dim,)
        self.unit_interval = loss == "bce" or output_activation == "sigmoid"
        self.loss_name = loss
        self.tied = bool(tied)
        self.corruption = corruption

        sizes = [input_dim, *hidden]
        self.encoder_layers = DenseStack.from_sizes(
            sizes, [activation] * (len(hidden) - 1) + [code_activation]
        )  # y = φ(W x + b)
        self.decoder_activations = [activation] * (len(hidden) - 1) + [output_activation]
        if self.tied:
            self.decoder_biases = nn.ParameterList(
                nn.Parameter(torch.zeros(a)) for a in reversed(sizes[:-1])
            )  # b'; W' = Wᵀ
        else:
            self.decoder_layers = DenseStack.from_sizes(sizes[::-1], self.decoder_activations)  # W', b'
        self.reset_parameters()

    @property
    def encoder_activations(self) -> list[str]:
        """φ of each encoder layer, bottom first (the last is the code's)."""
        return self.encoder_layers.activation_names

    # ------------------------------------------------------------------ weights
    def reset_parameters(self) -> None:
        """Each layer's initialisation from the activation registry (Glorot; He for rectifiers), zero biases."""
        self.encoder_layers.init_weights()
        if not self.tied:
            self.decoder_layers.init_weights()
        else:
            for bias in self.decoder_biases:
                nn.init.zeros_(bias)

    def decoder_weight(self, k: int) -> torch.Tensor:
        """W' of decoder layer ``k`` (0 = the one applied to the code): Wᵀ of the mirrored encoder layer if tied."""
        if self.tied:
            return self.encoder_layers[len(self.encoder_layers) - 1 - k].weight.t()  # W' = Wᵀ, shared
        return self.decoder_layers[k].weight

    def decoder_bias(self, k: int) -> torch.Tensor:
        """b' of decoder layer ``k`` (0 = the one applied to the code)."""
        return self.decoder_biases[k] if self.tied else self.decoder_layers[k].bias

    # ------------------------------------------------------------------ maps
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """y = φ(W x + b), layer by layer: (N, input_dim) -> (N, hidden[-1])."""
        return self.encoder_layers(x)

    def decode_logits(self, y: torch.Tensor) -> torch.Tensor:
        """The pre-activation W' y + b' of the output layer: (N, hidden[-1]) -> (N, input_dim)."""
        n = len(self.decoder_activations)
        for k in range(n - 1):
            y = dense(y, self.decoder_weight(k), self.decoder_bias(k), self.decoder_activations[k])
        return dense(y, self.decoder_weight(n - 1), self.decoder_bias(n - 1), "linear")

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """z = φ(W' y + b'): (N, hidden[-1]) -> (N, input_dim)."""
        return activations.apply(self.decoder_activations[-1], self.decode_logits(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction z of x (no corruption)."""
        return self.decode(self.encode(x))

    # ------------------------------------------------------------------ greedy pre-training
    @property
    def n_layers(self) -> int:
        """Encoder layers, pre-trained one after the other by :func:`aekit.train.pretrain`."""
        return len(self.encoder_layers)

    def layer_autoencoder(self, k: int) -> Autoencoder:
        """A tied one-hidden-layer autoencoder to pre-train encoder layer ``k`` (0-based)."""
        return greedy_layer_autoencoder(
            self.encoder_layers[k],
            None if k == 0 else self.encoder_activations[k - 1],
            loss=self.loss_name,
            output_activation=self.decoder_activations[-1],
            tied=True,
            corruption=self.corruption if k == 0 else None,
        )

    def keep_layer(self, k: int, ae: Autoencoder) -> None:
        """W_k, b_k from ``ae``; the mirrored decoder layer starts from W_kᵀ and ``ae``'s decoder bias."""
        mirror = self.n_layers - 1 - k
        with torch.no_grad():
            self.encoder_layers[k].load_state_dict(ae.encoder_layers[0].state_dict())
            if not self.tied:
                self.decoder_layers[mirror].weight.copy_(self.encoder_layers[k].weight.t())  # W'_k = W_kᵀ
            self.decoder_bias(mirror).copy_(ae.decoder_bias(0))

    def layer_codes(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """h⁽ᵏ⁺¹⁾ = φ(W_{k+1} h⁽ᵏ⁾ + b_{k+1}) (``k`` 0-based: the input of layer k)."""
        return self.encoder_layers[k](h)

    # ------------------------------------------------------------------ objective
    def reconstruction_error(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample reconstruction error of ``x`` against ``target`` (default: x), no noise, no penalty."""
        logits = self.decode_logits(self.encode(x))
        z = activations.apply(self.decoder_activations[-1], logits)
        return losses.reconstruction_error(self.loss_name, logits, z, x if target is None else target)

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Training objective, averaged over the batch.

        In training mode with a corruption, the input is x̃ ~ q_D(x̃ | x) and the target is the clean x.
        """
        target = x if target is None else target
        x_in = self.corruption(x) if (self.training and self.corruption is not None) else x
        first_pre, first_out = self.encoder_layers[0].forward_with_pre(x_in)
        codes = self.encoder_layers(first_out, start=1)
        logits = self.decode_logits(codes)
        z = activations.apply(self.decoder_activations[-1], logits)
        total = losses.mean_reconstruction_error(self.loss_name, logits, z, target)

        cfg = self.config
        if cfg["sparsity"] == "l1":
            total = total + cfg["sparsity_weight"] * codes.abs().sum(1).mean()
        elif cfg["sparsity"] == "kl":
            total = total + cfg["sparsity_weight"] * losses.kl_sparsity(codes, cfg["sparsity_target"])
        if cfg["contractive"]:
            # ‖J_f(x)‖²_F = Σ_j φ'(a_j)² Σ_i W_ji²  for y = φ(W x + b)
            dphi = activations.derivative(self.encoder_activations[0], first_pre, first_out)
            w_sq = self.encoder_layers[0].weight.pow(2).sum(1)  # (hidden,)
            total = total + cfg["contractive"] * (dphi.pow(2) * w_sq).sum(1).mean()
        return total


@register
class DenoisingAutoencoder(Autoencoder):
    """An :class:`Autoencoder` trained on corrupted inputs x̃ ~ q_D(x̃|x); masking ν = 0.25 by default."""

    def __init__(
        self,
        input_dim: int,
        hidden: int | Sequence[int] = 64,
        *,
        corruption: Corruption | str | dict = "masking:0.25",
        **kwargs: Any,  # the other arguments of Autoencoder
    ) -> None:
        if corruption is None:
            raise ValueError(
                "DenoisingAutoencoder needs a corruption, e.g. 'masking:0.25'; "
                "use Autoencoder for a plain one"
            )
        super().__init__(input_dim, hidden, corruption=corruption, **kwargs)


def greedy_layer_autoencoder(
    encoder: Dense,
    below: str | None,
    *,
    loss: str,
    output_activation: str,
    tied: bool,
    corruption: Corruption | None,
) -> Autoencoder:
    """The one-hidden-layer autoencoder that pre-trains ``encoder`` y = φ(W h + b), starting from its W, b.

    ``below`` is φ of the codes h it learns to reconstruct (None: the data, with ``loss`` and
    ``output_activation``): sigmoid codes in (0, 1) with L_H and a sigmoid output, as Vincent et
    al. (2010), other codes with ½‖z − h‖² and a linear output.
    """
    if below == "sigmoid":
        loss, output_activation = "bce", "sigmoid"
    elif below is not None:
        loss, output_activation = "mse", "linear"
    ae = Autoencoder(
        encoder.in_features,
        [encoder.out_features],
        activation=encoder.activation,
        output_activation=output_activation,
        tied=tied,
        loss=loss,
        corruption=corruption,
    )
    ae.encoder_layers[0].load_state_dict(encoder.state_dict())
    return ae
