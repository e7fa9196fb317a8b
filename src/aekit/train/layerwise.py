"""Greedy layer-wise pre-training, the one routine for every stack, and the fine-tuning of a stack.

Bengio, Lamblin, Popovici & Larochelle, "Greedy Layer-Wise Training of Deep
Networks", NIPS 2006; Vincent et al., "Stacked Denoising Autoencoders", JMLR 11
(2010); Hinton & Salakhutdinov, Science 313 (2006); Masci et al., ICANN 2011.
As in the notes::

    h⁽⁰⁾ = x
    for k = 1..L:
        train a (denoising) autoencoder  y = φ(W_k h̃⁽ᵏ⁻¹⁾ + b_k),  z = φ(W'_k y + b'_k)
            on  L(h⁽ᵏ⁻¹⁾, z),  h̃⁽ᵏ⁻¹⁾ ~ q_D(h̃ | h⁽ᵏ⁻¹⁾)
        keep (W_k, b_k), discard the decoder (W'_k, b'_k)
        h⁽ᵏ⁾ = φ(W_k h⁽ᵏ⁻¹⁾ + b_k)     computed ONCE for the whole data set

The stack (:class:`~aekit.nn.greedy.GreedyLayers`: the dense and the
convolutional stacks, and a deep :class:`~aekit.nn.Autoencoder`) says which
autoencoder trains layer k, how its encoder is kept and how h⁽ᵏ⁾ follows from
h⁽ᵏ⁻¹⁾; this module drives :func:`aekit.fit`. It sits above nn and train.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ..nn.batches import map_batches
from ..nn.greedy import GreedyLayers
from ..nn.stacked import StackedAutoencoder, check_layer
from .loop import fit

__all__ = ["pretrain", "finetune"]

log = logging.getLogger("aekit")

CODES_BATCH = 1024  # rows per block when the codes of a layer are computed for the whole data set


class _Recomputed(nn.Module):
    """Layer k's autoencoder fed by the frozen layers below, recomputed for every batch (``cache=False``)."""

    def __init__(self, stack: GreedyLayers, k: int, ae: nn.Module) -> None:
        super().__init__()
        self.stack, self.k, self.ae = stack, k, ae
        self.channels_last = getattr(ae, "channels_last", None)  # fit reads the autoencoder's memory format

    def train(self, mode: bool = True) -> _Recomputed:
        """Only the autoencoder trains; the frozen layers below stay in evaluation mode, as when cached."""
        super().train(mode)
        self.stack.eval()
        self.ae.train(mode)
        return self

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The autoencoder's loss on h⁽ᵏ⁻¹⁾, computed from x through the frozen layers below."""
        with torch.no_grad():
            for j in range(self.k):
                x = self.stack.layer_codes(j, x)
        loss = cast("Callable[[torch.Tensor], torch.Tensor]", self.ae.loss)  # every layer autoencoder has one
        return loss(x)


def _codes(stack: GreedyLayers, k: int, H: np.ndarray) -> np.ndarray:
    """h⁽ᵏ⁺¹⁾ for every row of h⁽ᵏ⁾ = ``H``: one pass, in blocks, in inference mode."""
    return map_batches(stack, H, lambda h: stack.layer_codes(k, h), CODES_BATCH)


def _per_layer_epochs(epochs: int | Sequence[int], n: int) -> list[int]:
    per_layer = [epochs] * n if isinstance(epochs, (int, np.integer)) else list(epochs)
    if len(per_layer) != n:
        raise ValueError(
            f"epochs has {len(per_layer)} entries but the stack has {n} layers: give an int or one per layer"
        )
    return per_layer


def pretrain(
    stack: GreedyLayers,
    X: object,
    *,
    X_val: object = None,
    epochs: int | Sequence[int] = 10,
    layers: Sequence[int] | None = None,
    cache: bool = True,
    **fit_kwargs: Any,
) -> list[dict]:
    """Greedy layer-wise pre-training of ``stack``; returns one :func:`aekit.fit` history per layer.

    Layer k is trained as a (denoising) autoencoder on h⁽ᵏ⁻¹⁾, the codes of layers 1..k−1
    computed once for the whole of ``X`` (and ``X_val``); then its decoder is discarded and
    its codes become the next layer's data. The histories are also kept in
    ``stack.history["pretrain"]``; the stack ends in evaluation mode.

    Parameters
    ----------
    stack : StackedAutoencoder, StackedConvAutoencoder or Autoencoder
        Any :class:`~aekit.nn.greedy.GreedyLayers`.
    X : array-like
        The training inputs of the stack.
    X_val : array-like, optional
        Validation inputs, mapped through the stack like ``X`` (for ``patience``).
    epochs : int or sequence of int
        Epochs for every layer, or one number per layer.
    layers : sequence of int, optional
        Which layers (1..L) to train; the others keep their weights (default: all).
    cache : bool
        False recomputes the frozen layers below for every batch instead of once (the cost the
        notes avoid; kept to measure the saving, in one process: not under ``torchrun``).
    **fit_kwargs
        Passed to :func:`aekit.fit` for every layer: ``batch_size``, ``lr``, ``optimizer``, ``device``,
        ``patience``, ``seed`` (layer k uses ``seed + k - 1``), ``progress``, ``lr_schedule``...
    """
    if not isinstance(stack, GreedyLayers):
        raise TypeError(
            "pretrain needs a StackedAutoencoder, a StackedConvAutoencoder or an Autoencoder, "
            f"got {type(stack).__name__}"
        )
    if "checkpoint_dir" in fit_kwargs or "resume_from" in fit_kwargs:
        raise TypeError(
            "pretrain() does not take checkpoint_dir/resume_from: save the stack after pre-training"
        )
    n = stack.n_layers
    per_layer = _per_layer_epochs(epochs, n)
    todo = sorted({check_layer(k, n) - 1 for k in layers}) if layers is not None else list(range(n))
    if not todo:
        raise ValueError(f"layers must name at least one layer in 1..{n}, got {layers!r}")
    for k in todo:
        stack.check_pretrainable(k)  # a noise the codes' range cannot take fails now, not after layer 1
    seed = fit_kwargs.pop("seed", None)
    H = stack.pretraining_data(X, name="X")
    H_val = None if X_val is None else stack.pretraining_data(X_val, name="X_val")
    X_in, X_val_in = H, H_val
    histories: list[dict] = []
    for k in range(max(todo) + 1):
        if k in todo:
            ae = stack.layer_autoencoder(k)
            q = getattr(ae, "corruption", None)
            log.info("pre-training layer %d/%d, %s", k + 1, n, q.spec() if q else "no corruption")
            model = ae if cache or k == 0 else _Recomputed(stack, k, ae)
            history = fit(
                model,
                H if cache else X_in,
                X_val=H_val if cache else X_val_in,
                epochs=per_layer[k],
                seed=None if seed is None else seed + k,
                **fit_kwargs,
            )
            history["layer"] = k + 1
            histories.append(history)
            stack.keep_layer(k, ae)  # the decoder W'_k, b'_k is discarded with ae
            stack.to(next(ae.parameters()).device)
            del ae, model
        if cache and k < max(todo):  # h⁽ᵏ⁾ for all the data, once
            H = _codes(stack, k, H)
            H_val = None if H_val is None else _codes(stack, k, H_val)
    stack.history = {"pretrain": histories}
    stack.eval()
    return histories


def finetune(
    stack: StackedAutoencoder, X: object, *, X_val: object = None, epochs: int = 10, **fit_kwargs: Any
) -> dict:
    """Unsupervised fine-tuning of the unrolled deep autoencoder (Hinton & Salakhutdinov 2006).

    Unrolls ``stack`` (decoder W'_k = W_kᵀ) if needed and trains the whole network on its
    reconstruction loss; ``fit_kwargs`` go to :func:`aekit.fit`. Returns its history, also kept in
    ``stack.history["finetune"]`` beside the pre-training histories.
    """
    if not isinstance(stack, StackedAutoencoder):
        raise TypeError(f"finetune needs a StackedAutoencoder, got {type(stack).__name__}")
    stack.unroll()
    pre = stack.pretrain_history
    history = fit(stack, X, X_val=X_val, epochs=epochs, **fit_kwargs)
    stack.history = {"pretrain": pre, "finetune": history}
    return history
